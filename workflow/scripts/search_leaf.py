"""Adapter: rule search_leaf → fewshotnas.search.run_search (the engine with one leaf)."""
from fewshotnas.data import load_prepared
from fewshotnas.io import read_parquet_checked, setup_logging, write_parquet_atomic
from fewshotnas.search import run_search
from fewshotnas.space import OpMask
from fewshotnas.split import leaf_masks

log = setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params,
                    device=snakemake.params.device, threads=snakemake.threads)
leaf = int(snakemake.wildcards.leaf)
if "tree" in snakemake.input.keys():
    mask = leaf_masks(read_parquet_checked(snakemake.input.tree))[leaf]
else:
    mask = OpMask.full()
log.info("leaf %d: %s (%d architectures)", leaf, mask.describe(), mask.num_archs)
search_log = run_search(
    snakemake.wildcards.algo,
    load_prepared(snakemake.input.data),
    mask=mask,
    network=snakemake.params.network,
    search=snakemake.params.search,
    seed=int(snakemake.wildcards.seed),
    out_final=snakemake.output.final,
    resume_path=snakemake.params.resume,
    device=snakemake.params.device,
    threads=snakemake.threads,
    label=f"{snakemake.wildcards.method}/{snakemake.wildcards.algo}/seed{snakemake.wildcards.seed}/leaf{leaf}",
)
write_parquet_atomic(search_log, snakemake.output.log, {"rule": "search_leaf", "leaf": leaf, "mask": mask.to_bits()})

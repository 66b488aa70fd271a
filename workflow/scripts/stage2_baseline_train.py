"""Adapter: rule stage2_baseline_train → the search engine's RSPS on the whole space, drawing
uniformly or from the idealised sampler (fewshotnas.analysis.stage2.baseline_distribution)."""
from fewshotnas.analysis.stage2 import baseline_distribution
from fewshotnas.bench import NB201Table
from fewshotnas.data import load_prepared
from fewshotnas.io import setup_logging, write_parquet_atomic
from fewshotnas.search.engine import search_leaves
from fewshotnas.space import OpMask

log = setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params,
                    device=snakemake.params.device, threads=snakemake.threads)
wc = snakemake.wildcards
architectures = None
if wc.sampler == "biased":
    dist = baseline_distribution("rsps_biased", NB201Table(snakemake.input.table), snakemake.params.bench_dataset)
    architectures = (dist.ops, dist.probs)
log.info("baseline supernet rsps_%s: RSPS on the whole space, %s sampling", wc.sampler,
         "idealised (∝ N − rank)" if architectures is not None else "uniform")
(search_log,) = search_leaves("rsps", load_prepared(snakemake.input.data), masks=[OpMask.full()],
                              network=snakemake.params.network, search=snakemake.params.search, seed=int(wc.seed),
                              out_finals=[snakemake.output.final], resume_path=snakemake.params.resume,
                              device=snakemake.params.device, threads=snakemake.threads,
                              labels=[f"baseline rsps_{wc.sampler}/seed{wc.seed}"], architectures=architectures)
write_parquet_atomic(search_log, snakemake.output.log, {"rule": "stage2_baseline_train", "sampler": wc.sampler})

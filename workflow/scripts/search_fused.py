"""Adapter: rules search_tree / search_dataset → fewshotnas.search.search_leaves (K leaves)."""
from fewshotnas.data import load_prepared
from fewshotnas.io import read_parquet_checked, setup_logging, write_parquet_atomic
from fewshotnas.search import search_leaves
from fewshotnas.space import OpMask
from fewshotnas.split import leaf_masks

log = setup_logging(snakemake.log[0], config=snakemake.config, device=snakemake.params.device,
                    threads=snakemake.threads)
wc = snakemake.wildcards
if "tree" in snakemake.input.keys():  # search_tree: the leaves of one tree
    methods = [wc.method]
    trees = {wc.method: snakemake.input.tree}
else:  # search_dataset: every tree, then nosplit
    methods = list(snakemake.params.methods)
    split_methods = [m for m in methods if m != "nosplit"]
    trees = dict(zip(split_methods, snakemake.input.trees))
masks, labels = [], []
for method in methods:
    leaves = leaf_masks(read_parquet_checked(trees[method])) if method in trees else [OpMask.full()]
    for leaf, mask in enumerate(leaves):
        masks.append(mask)
        labels.append(f"{method}/{wc.algo}/seed{wc.seed}/leaf{leaf}")
        log.info("%s: %s (%d architectures)", labels[-1], mask.describe(), mask.num_archs)
if len(masks) != len(snakemake.output.logs):
    raise RuntimeError(f"the trees have {len(masks)} leaves but the rule expects {len(snakemake.output.logs)}; "
                       "rerun the split stage (snakemake --forcerun split_level)")
logs = search_leaves(
    wc.algo,
    load_prepared(snakemake.input.data),
    masks=masks,
    network=snakemake.params.network,
    search=snakemake.params.search,
    seed=int(wc.seed),
    out_finals=list(snakemake.output.finals),
    resume_path=snakemake.params.resume,
    device=snakemake.params.device,
    threads=snakemake.threads,
    labels=labels,
)
for label, mask, search_log, path in zip(labels, masks, logs, snakemake.output.logs):
    leaf = int(label.rsplit("leaf", 1)[1])
    write_parquet_atomic(search_log, path, {"rule": "search_fused", "leaf": leaf, "mask": mask.to_bits(),
                                            "fused_leaves": len(masks)})

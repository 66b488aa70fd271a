"""Adapter: rules search_tree / search_dataset → fewshotnas.search.search_leaves (K leaves as one
fused program) or fewshotnas.search.serial.search_leaves_serially (one after another), as
search.fuse_mode resolves on this job's device."""
from pathlib import Path

from fewshotnas.data import load_prepared
from fewshotnas.io import read_parquet_checked, setup_logging, write_parquet_atomic
from fewshotnas.search import search_leaves
from fewshotnas.search.serial import resolve_fuse_mode, search_leaves_serially
from fewshotnas.space import OpMask
from fewshotnas.split import leaf_masks

log = setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params,
                    device=snakemake.params.device, threads=snakemake.threads)
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
common = dict(
    masks=masks,
    network=snakemake.params.network,
    search=snakemake.params.search,
    seed=int(wc.seed),
    out_finals=list(snakemake.output.finals),
    device=snakemake.params.device,
    threads=snakemake.threads,
    labels=labels,
)
mode = resolve_fuse_mode(snakemake.params.mode, snakemake.params.device)
log.info("%d leaves, %s (search.fuse_mode %s)", len(masks), "as one fused program" if mode == "fused" else
         "one after another", snakemake.params.mode)
data = load_prepared(snakemake.input.data)
if mode == "fused":
    logs = search_leaves(wc.algo, data, resume_path=snakemake.params.resume, **common)
else:
    logs = search_leaves_serially(wc.algo, data, resume_dir=Path(snakemake.params.resume).with_suffix(""), **common)
for label, mask, search_log, path in zip(labels, masks, logs, snakemake.output.logs):
    leaf = int(label.rsplit("leaf", 1)[1])
    write_parquet_atomic(search_log, path, {"rule": "search_fused", "leaf": leaf, "mask": mask.to_bits(),
                                            "fused_leaves": len(masks) if mode == "fused" else 1})

"""Adapter: rule split_level → fewshotnas.split.split_level."""
import pandas as pd

from fewshotnas.data import load_prepared
from fewshotnas.io import setup_logging, write_parquet_atomic
from fewshotnas.split import SplitConfig, root_node, split_level, tree_to_frame
from fewshotnas.train.device import configure_torch, resolve_device
from fewshotnas.train.loop import load_supernet

setup_logging(snakemake.log[0])
configure_torch(snakemake.threads)
device = resolve_device(snakemake.params.device)
level = int(snakemake.wildcards.level)
parent = pd.read_parquet(snakemake.input.parent) if level > 1 else tree_to_frame([root_node()])
metric = snakemake.wildcards.method != "random"
tree, scores = split_level(
    parent, level, snakemake.wildcards.method, SplitConfig(**snakemake.params.split),
    seed=int(snakemake.wildcards.seed),
    net=load_supernet(snakemake.input.supernet, device) if metric else None,
    data=load_prepared(snakemake.input.data) if metric else None,
    device=device,
)
meta = {"rule": "split_level", "method": snakemake.wildcards.method, "level": level}
write_parquet_atomic(scores, snakemake.output.scores, meta)
write_parquet_atomic(tree, snakemake.output.tree, meta)

"""Adapter: rule split_distance → fewshotnas.split.split_distance_table + the figure."""
import pandas as pd

from fewshotnas.analysis.plots import plot_split_distance
from fewshotnas.io import setup_logging, write_parquet_atomic
from fewshotnas.split import split_distance_table

setup_logging(snakemake.log[0])
trees = {tuple(key): pd.read_parquet(path) for key, path in zip(snakemake.params.trees, snakemake.input.trees)}
table = split_distance_table(trees)
write_parquet_atomic(table, snakemake.output.table, {"rule": "split_distance"})
plot_split_distance(table, dataset=snakemake.wildcards.dataset, path=snakemake.output.plot)

"""Adapter: rule split_distance → fewshotnas.split.split_distance_table + the figure."""
from fewshotnas.analysis.plots import plot_split_distance
from fewshotnas.io import read_parquet_checked, setup_logging, write_parquet_atomic
from fewshotnas.split import split_distance_table

setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params)
trees = {tuple(key): read_parquet_checked(path) for key, path in zip(snakemake.params.trees, snakemake.input.trees)}
table = split_distance_table(trees)
write_parquet_atomic(table, snakemake.output.table, {"rule": "split_distance"})
plot_split_distance(table, dataset=snakemake.wildcards.dataset, path=snakemake.output.plot)

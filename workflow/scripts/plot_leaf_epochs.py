"""Adapter: rule plot_leaf_epochs → fewshotnas.analysis.plots.plot_leaf_epochs."""
from fewshotnas.analysis.plots import plot_leaf_epochs
from fewshotnas.io import read_parquet_checked, setup_logging

setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params)
plot_leaf_epochs(read_parquet_checked(snakemake.input.runs), dataset=snakemake.wildcards.dataset,
                 bench_dataset=snakemake.params.bench_dataset, path=snakemake.output.plot)

"""Adapter: rule plot_distributions → fewshotnas.analysis (leaf distributions figure)."""
import pandas as pd

from fewshotnas.analysis.distributions import leaf_distribution
from fewshotnas.analysis.plots import plot_distributions
from fewshotnas.bench import NB201Table
from fewshotnas.io import read_parquet_checked, setup_logging
from fewshotnas.split import leaf_masks

setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params)
table = NB201Table(snakemake.input.table)
bench = snakemake.params.bench_dataset
dist = pd.concat([leaf_distribution(table, leaf_masks(read_parquet_checked(path)), bench, method,
                                    snakemake.params.top_fraction)
                  for method, path in zip(snakemake.params.methods, snakemake.input.trees)], ignore_index=True)
plot_distributions(dist, dataset=snakemake.wildcards.dataset, bench_dataset=bench,
                   top_fraction=snakemake.params.top_fraction, path=snakemake.output.plot)

"""Adapter: rule plot_distributions → fewshotnas.analysis (leaf distributions figure)."""
import pandas as pd

from fewshotnas.analysis.distributions import leaf_distribution
from fewshotnas.analysis.labels import OP_CODE_KEY, leaf_code_label
from fewshotnas.analysis.plots import plot_distributions
from fewshotnas.analysis.tables import final_epoch
from fewshotnas.bench import NB201Table
from fewshotnas.io import read_parquet_checked, setup_logging
from fewshotnas.split import leaf_masks

setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params)
table = NB201Table(snakemake.input.table)
bench = snakemake.params.bench_dataset
masks = {method: leaf_masks(read_parquet_checked(path))
         for method, path in zip(snakemake.params.methods, snakemake.input.trees)}
dist = pd.concat([leaf_distribution(table, leaf_mask_list, bench, method, snakemake.params.top_fraction)
                  for method, leaf_mask_list in masks.items()], ignore_index=True)
runs = read_parquet_checked(snakemake.input.runs)
first_seed = final_epoch(runs[runs["seed"] == runs.groupby("algorithm")["seed"].transform("min")])
labels = {method: {k: leaf_code_label(mask.short_label()) for k, mask in enumerate(ms)} for method, ms in masks.items()}
plot_distributions(dist, dataset=snakemake.wildcards.dataset, bench_dataset=bench,
                   top_fraction=snakemake.params.top_fraction, path=snakemake.output.plot,
                   leaf_labels=labels, label_key=OP_CODE_KEY,
                   searched=first_seed[["method", "leaf", "algorithm", "test_acc"]])

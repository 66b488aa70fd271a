"""Adapter: rule stage1_table → the dataset's stage-1 table + plots.plot_stage1."""
import pandas as pd

from fewshotnas.analysis.plots import plot_stage1, plot_stage1_curves
from fewshotnas.analysis.stage1_columns import with_single_meaning_columns
from fewshotnas.io import read_parquet_checked, setup_logging, write_parquet_atomic

setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params)
stage1 = with_single_meaning_columns(pd.concat([read_parquet_checked(p) for p in snakemake.input.runs],
                                               ignore_index=True))
write_parquet_atomic(stage1, snakemake.output.table, {"rule": "stage1_table"})
plot_stage1(stage1, dataset=snakemake.wildcards.dataset, bench_dataset=snakemake.params.bench_dataset,
            path=snakemake.output.plot)
plot_stage1_curves(stage1, dataset=snakemake.wildcards.dataset, bench_dataset=snakemake.params.bench_dataset,
                   path=snakemake.output.curves)

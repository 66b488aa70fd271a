"""Adapter: rule proxies_table → fewshotnas.analysis.proxy_table (table, Markdown, scores, figure)."""
import pandas as pd

from fewshotnas.analysis.proxy_table import describe, proxy_table, write_outputs
from fewshotnas.io import read_parquet_checked, read_parquet_metadata, setup_logging

setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params)
proxies = snakemake.params.proxies
scores = pd.concat([read_parquet_checked(p) for p in snakemake.input.scores], ignore_index=True)
meta = read_parquet_metadata(snakemake.input.scores[0])
description = describe(proxies, dataset=snakemake.params.dataset, image_size=meta["image_size"],
                       in_channels=meta["in_channels"])
out = snakemake.output
write_outputs(scores, proxy_table(scores, bootstrap=proxies["bootstrap"], seed=proxies["seed"]), table_path=out.table,
              markdown_path=out.markdown, html_path=out.html, scores_path=out.scores, plot_path=out.plot,
              description=description,
              metadata={"rule": "proxies_table", "proxies": proxies, "data": snakemake.params.dataset})

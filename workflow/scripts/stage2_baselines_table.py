"""Adapter: rule stage2_baselines_table → fewshotnas.analysis.two_stage (baselines, reliance) and its figure."""
import pandas as pd

from fewshotnas.analysis.html import markdown_page_html
from fewshotnas.analysis.plots import plot_stage2_baselines
from fewshotnas.analysis.two_stage import baselines_markdown, best_leaf_per_seed
from fewshotnas.io import read_parquet_checked, setup_logging, write_parquet_atomic, write_text_atomic

log = setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params)
rows = pd.concat([read_parquet_checked(p) for p in snakemake.input.runs], ignore_index=True)
table = best_leaf_per_seed(rows).rename(columns={"algorithm": "supernet"})
write_parquet_atomic(table, snakemake.output.table, {"rule": "stage2_baselines_table"})
markdown = baselines_markdown(table)
write_text_atomic(markdown, snakemake.output.markdown)
write_text_atomic(markdown_page_html(markdown, markdown.splitlines()[0].lstrip("# ")), snakemake.output.html)
plot_stage2_baselines(table, path=snakemake.output.plot)
log.info("\n%s", markdown)

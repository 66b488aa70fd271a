"""Adapter: rule tables → fewshotnas.analysis.tables."""
import pandas as pd

from fewshotnas.analysis.tables import best_over_leaves, report_markdown
from fewshotnas.io import read_parquet_checked, setup_logging, write_parquet_atomic, write_text_atomic

log = setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params)
runs = pd.concat([read_parquet_checked(p) for p in snakemake.input.lookups], ignore_index=True)
summary = best_over_leaves(runs)
write_parquet_atomic(runs, snakemake.output.runs, {"rule": "tables"})
write_parquet_atomic(summary, snakemake.output.table, {"rule": "tables"})
markdown = report_markdown(summary)
write_text_atomic(markdown, snakemake.output.markdown)
log.info("\n%s", markdown)

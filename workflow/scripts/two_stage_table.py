"""Adapter: rule two_stage_table → fewshotnas.analysis.two_stage (the S1 × S2 table)."""
import pandas as pd

from fewshotnas.analysis.cost import with_costs
from fewshotnas.analysis.html import markdown_page_html
from fewshotnas.analysis.two_stage import best_leaf_per_seed, two_stage_markdown
from fewshotnas.io import read_parquet_checked, setup_logging, write_parquet_atomic, write_text_atomic

log = setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params)
rows = pd.concat([read_parquet_checked(p) for p in snakemake.input.runs], ignore_index=True)
table = with_costs(best_leaf_per_seed(rows), read_parquet_checked(snakemake.input.cost),
                   ["dataset", "method", "algorithm", "seed"])
write_parquet_atomic(table, snakemake.output.table, {"rule": "two_stage_table"})
markdown = two_stage_markdown(table)
write_text_atomic(markdown, snakemake.output.markdown)
write_text_atomic(markdown_page_html(markdown, markdown.splitlines()[0].lstrip("# ")), snakemake.output.html)
log.info("\n%s", markdown)

"""Adapter: rule tables → fewshotnas.analysis.tables (+ cost) and plots.plot_cost."""
import pandas as pd

from fewshotnas.analysis.cost import with_costs
from fewshotnas.analysis.html import markdown_page_html
from fewshotnas.analysis.plots import plot_cost
from fewshotnas.analysis.tables import best_over_leaves, report_markdown
from fewshotnas.io import (
    read_parquet_checked,
    read_parquet_metadata,
    setup_logging,
    write_parquet_atomic,
    write_text_atomic,
)

log = setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params)
runs = pd.concat([read_parquet_checked(p) for p in snakemake.input.lookups], ignore_index=True)
costs = read_parquet_checked(snakemake.input.cost)
supernet_s = read_parquet_metadata(snakemake.input.cost).get("supernet_s")
summary = with_costs(best_over_leaves(runs), costs, ["dataset", "method", "algorithm"])
write_parquet_atomic(runs, snakemake.output.runs, {"rule": "tables"})
write_parquet_atomic(summary, snakemake.output.table, {"rule": "tables", "supernet_s": supernet_s})
markdown = report_markdown(summary, supernet_s)
write_text_atomic(markdown, snakemake.output.markdown)
write_text_atomic(markdown_page_html(markdown, markdown.splitlines()[0].lstrip("# ")), snakemake.output.html)
log.info("\n%s", markdown)
plot_cost(summary, path=snakemake.output.plot)

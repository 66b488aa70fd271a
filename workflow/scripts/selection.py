"""Adapter: rule selection → fewshotnas.analysis.selection (table) + plots.plot_halving."""
from fewshotnas.analysis.cost import with_costs
from fewshotnas.analysis.html import markdown_page_html
from fewshotnas.analysis.plots import plot_halving
from fewshotnas.analysis.selection import select_leaves, selection_markdown
from fewshotnas.io import read_parquet_checked, setup_logging, write_parquet_atomic, write_text_atomic

log = setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params)
runs = read_parquet_checked(snakemake.input.runs)
fractions = list(snakemake.params.halving_epochs)
selection = with_costs(select_leaves(runs, fractions), read_parquet_checked(snakemake.input.cost),
                       ["dataset", "method", "algorithm", "seed"])
write_parquet_atomic(selection, snakemake.output.table, {"rule": "selection", "halving_epochs": fractions})
markdown = selection_markdown(selection, fractions)
write_text_atomic(markdown, snakemake.output.markdown)
write_text_atomic(markdown_page_html(markdown, markdown.splitlines()[0].lstrip("# ")), snakemake.output.html)
log.info("\n%s", markdown)
plot_halving(runs, selection, dataset=snakemake.wildcards.dataset, bench_dataset=snakemake.params.bench_dataset,
             path=snakemake.output.plot)

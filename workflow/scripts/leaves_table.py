"""Adapter: rule leaves_table → fewshotnas.analysis.leaves.leaf_summary over every tree, with
each tree's split cost (fewshotnas.analysis.cost)."""
import pandas as pd

from fewshotnas.analysis.cost import benchmark_seconds, device_type
from fewshotnas.analysis.html import markdown_page_html
from fewshotnas.analysis.leaves import leaf_summary, leaves_markdown
from fewshotnas.bench import NB201Table
from fewshotnas.io import (
    read_parquet_checked,
    read_parquet_metadata,
    setup_logging,
    write_parquet_atomic,
    write_text_atomic,
)
from fewshotnas.split import leaf_masks

log = setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params)
table = NB201Table(snakemake.input.table)
leaves = pd.concat([
    leaf_summary(table, leaf_masks(read_parquet_checked(path)), dataset=snakemake.wildcards.dataset,
                 bench_dataset=snakemake.params.bench_dataset, method=method, split_seed=seed,
                 top_fraction=snakemake.params.top_fraction,
                 cost_s=sum(benchmark_seconds(p) for p in split_files),
                 cost_device=device_type(read_parquet_metadata(path).get("device")))
    for (method, seed), path, split_files in zip(snakemake.params.trees, snakemake.input.trees,
                                                 snakemake.params.split)],
    ignore_index=True)
write_parquet_atomic(leaves, snakemake.output.table, {"rule": "leaves_table"})
markdown = leaves_markdown(leaves)
write_text_atomic(markdown, snakemake.output.markdown)
write_text_atomic(markdown_page_html(markdown, markdown.splitlines()[0].lstrip("# ")), snakemake.output.html)
log.info("\n%s", markdown)

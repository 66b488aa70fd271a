"""Adapter: rule leaves_table → fewshotnas.analysis.leaves.leaf_summary over every tree."""
import pandas as pd

from fewshotnas.analysis.leaves import leaf_summary, leaves_markdown
from fewshotnas.bench import NB201Table
from fewshotnas.io import read_parquet_checked, setup_logging, write_parquet_atomic, write_text_atomic
from fewshotnas.split import leaf_masks

log = setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params)
table = NB201Table(snakemake.input.table)
leaves = pd.concat([
    leaf_summary(table, leaf_masks(read_parquet_checked(path)), dataset=snakemake.wildcards.dataset,
                 bench_dataset=snakemake.params.bench_dataset, method=method, split_seed=seed,
                 top_fraction=snakemake.params.top_fraction)
    for (method, seed), path in zip(snakemake.params.trees, snakemake.input.trees)], ignore_index=True)
write_parquet_atomic(leaves, snakemake.output.table, {"rule": "leaves_table"})
markdown = leaves_markdown(leaves)
write_text_atomic(markdown, snakemake.output.markdown)
log.info("\n%s", markdown)

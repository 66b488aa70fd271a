"""Adapter: rule benchmark_lookup → fewshotnas.bench.lookup.lookup_logs."""
from fewshotnas.bench import NB201Table
from fewshotnas.bench.lookup import lookup_logs
from fewshotnas.io import read_parquet_checked, read_parquet_metadata, setup_logging, write_parquet_atomic

setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params)
wc = snakemake.wildcards
logs = {leaf: read_parquet_checked(path) for leaf, path in enumerate(snakemake.input.logs)}
masks = {leaf: read_parquet_metadata(path).get("mask") for leaf, path in enumerate(snakemake.input.logs)}
df = lookup_logs(logs, NB201Table(snakemake.input.table), dataset=wc.dataset,
                 bench_dataset=snakemake.params.bench_dataset, method=wc.method, algorithm=wc.algo, seed=int(wc.seed),
                 split_seed=snakemake.params.split_seed, masks=masks)
write_parquet_atomic(df, snakemake.output[0], {"rule": "benchmark_lookup"})

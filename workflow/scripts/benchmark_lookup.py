"""Adapter: rule benchmark_lookup → fewshotnas.bench.lookup.lookup_logs."""
from fewshotnas.bench import NB201Table
from fewshotnas.bench.lookup import lookup_logs
from fewshotnas.io import read_parquet_checked, setup_logging, write_parquet_atomic

setup_logging(snakemake.log[0])
wc = snakemake.wildcards
logs = {leaf: read_parquet_checked(path) for leaf, path in enumerate(snakemake.input.logs)}
df = lookup_logs(logs, NB201Table(snakemake.input.table), dataset=wc.dataset,
                 bench_dataset=snakemake.params.bench_dataset, method=wc.method, algorithm=wc.algo, seed=int(wc.seed))
write_parquet_atomic(df, snakemake.output[0], {"rule": "benchmark_lookup"})

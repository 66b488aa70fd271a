"""Adapter: rule stage1 → fewshotnas.analysis.stage1.run_stage1 on one run's leaves."""
from fewshotnas.analysis.stage1 import Stage1Config, run_stage1
from fewshotnas.bench import NB201Table
from fewshotnas.data import load_prepared
from fewshotnas.io import setup_logging, write_parquet_atomic

setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params,
              device=snakemake.params.device, threads=snakemake.threads)
wc = snakemake.wildcards
cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in snakemake.params.stage1.items()}
frame = run_stage1(dict(enumerate(snakemake.input.finals)), load_prepared(snakemake.input.data),
                   NB201Table(snakemake.input.table), bench_dataset=snakemake.params.bench_dataset,
                   cfg=Stage1Config(**cfg), device=snakemake.params.device, threads=snakemake.threads,
                   label=f"{wc.method}/{wc.algo}/seed{wc.seed}", dataset=wc.dataset, method=wc.method,
                   algorithm=wc.algo, seed=int(wc.seed))
write_parquet_atomic(frame, snakemake.output[0], {"rule": "stage1", "stage1": snakemake.params.stage1})

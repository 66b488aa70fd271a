"""Adapter: rule stage2 → fewshotnas.analysis.stage2.run_stage2 on one run's leaves."""
from fewshotnas.analysis.stage2 import Stage2Config, run_stage2
from fewshotnas.bench import NB201Table
from fewshotnas.data import load_prepared
from fewshotnas.io import setup_logging, write_parquet_atomic

setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params,
              device=snakemake.params.device, threads=snakemake.threads)
wc = snakemake.wildcards
cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in snakemake.params.stage2.items()}
frame = run_stage2(dict(enumerate(snakemake.input.finals)), load_prepared(snakemake.input.data),
                   NB201Table(snakemake.input.table), bench_dataset=snakemake.params.bench_dataset,
                   cfg=Stage2Config(**cfg), network=snakemake.params.network, seed=int(wc.seed),
                   device=snakemake.params.device, threads=snakemake.threads,
                   label=f"{wc.method}/{wc.algo}/seed{wc.seed}", dataset=wc.dataset, method=wc.method,
                   algorithm=wc.algo)
write_parquet_atomic(frame, snakemake.output[0], {"rule": "stage2", "stage2": snakemake.params.stage2})

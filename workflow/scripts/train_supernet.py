"""Adapter: rule train_supernet → fewshotnas.train.loop.train_supernet."""
from fewshotnas.data import load_prepared
from fewshotnas.io import setup_logging, write_parquet_atomic
from fewshotnas.train.loop import train_supernet

setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params,
              device=snakemake.params.device, threads=snakemake.threads)
train_log = train_supernet(
    load_prepared(snakemake.input.data),
    network=snakemake.params.network,
    train=snakemake.params.train,
    seed=int(snakemake.wildcards.seed),
    out_checkpoint=snakemake.output.checkpoint,
    resume_path=snakemake.params.resume,
    device=snakemake.params.device,
    threads=snakemake.threads,
)
write_parquet_atomic(train_log, snakemake.output.train_log, {"rule": "train_supernet"})

"""Adapter: rule proxy_scores → fewshotnas.analysis.proxies.score_sample for one metric."""
from fewshotnas.analysis.proxies import ProxyCheckConfig, config_metadata, sample_indices, score_sample
from fewshotnas.bench import NB201Table
from fewshotnas.data import load_prepared
from fewshotnas.io import setup_logging, write_parquet_atomic
from fewshotnas.metrics.proxy import ProxySetup
from fewshotnas.split.level import metric_batches
from fewshotnas.train.device import resolve_device

setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params,
              device=snakemake.params.device, threads=snakemake.threads)
cfg = ProxyCheckConfig(**snakemake.params.proxies)
data = load_prepared(snakemake.input.data)
device = resolve_device(snakemake.params.device)
batches = metric_batches(data, cfg.batches, cfg.batch_size, cfg.seed, device)
setup = ProxySetup(cfg.channels, cfg.cells_per_stage, data.num_classes, data.in_channels, data.image_size, cfg.seed)
indices = sample_indices(cfg.samples, cfg.seed)
frame = score_sample(snakemake.wildcards.metric, indices, NB201Table(snakemake.input.table), batches, setup,
                     device=device)
meta = config_metadata(cfg, rule="proxy_scores", data=data.dataset, image_size=data.image_size,
                       in_channels=data.in_channels)
write_parquet_atomic(frame, snakemake.output[0], meta)

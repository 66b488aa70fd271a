"""Adapter: rule stage2_baseline → fewshotnas.analysis.stage2.run_baseline on one baseline supernet
(an RSPS-trained one's final.pt, or fresh weights seeded by the baseline seed)."""
import torch

from fewshotnas.analysis.stage2 import Stage2Config, run_baseline
from fewshotnas.bench import NB201Table
from fewshotnas.data import load_prepared
from fewshotnas.io import setup_logging, write_parquet_atomic
from fewshotnas.search.result import LeafResult
from fewshotnas.train.loop import new_network

setup_logging(snakemake.log[0], config=snakemake.config, params=snakemake.params,
              device=snakemake.params.device, threads=snakemake.threads)
wc = snakemake.wildcards
data = load_prepared(snakemake.input.data)
network = snakemake.params.network
if wc.supernet.startswith("rsps_"):
    result = LeafResult.load(snakemake.input.final)
    net = new_network(data, result.network, result.mask)
    net.load_state_dict(result.state_dict)
else:
    torch.manual_seed(int(wc.seed))
    net = new_network(data, network)
cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in snakemake.params.stage2.items()}
frame = run_baseline(wc.supernet, net, data, NB201Table(snakemake.input.table),
                     bench_dataset=snakemake.params.bench_dataset, cfg=Stage2Config(**cfg), network=network,
                     seed=int(wc.seed), device=snakemake.params.device, threads=snakemake.threads, dataset=wc.dataset)
write_parquet_atomic(frame, snakemake.output[0], {"rule": "stage2_baseline", "stage2": snakemake.params.stage2})

"""Fused leaves against separate runs: time and dispatched operators per leaf per search step.

    .venv/bin/python benchmarks/fused_speed.py --device cpu|cuda --leaves 8
        [--algorithm darts1] [--channels 16 --cells 5 --size 32 --in-channels 3 --batch 64]
        [--rounds 8 --threads 1]

K leaves of a depth-log2(K) binary tree (random groups on edges 0, 1, 2, …) are initialised as
K separate runs of the algorithm (the engine with one leaf each) would be; then interleaved
rounds time K separate steps against one fused step on the same batches. Operators are
counted with a TorchDispatchMode over one step (every aten operator that computes, i.e. all
but views: what a GPU pays a kernel launch for). After the rounds the fused alphas are
compared with the separate ones. The papers' grid
(``snakemake -n --configfile config/paper.yaml``: every leaf search it plans, by dataset and
algorithm) is priced with the fused per-leaf step time measured here for each algorithm it
runs, at this network size, and the steps per epoch of
each dataset. Prints one JSON line. Figures, not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml
from torch.utils._python_dispatch import TorchDispatchMode

from fewshotnas.catalog import algorithm_hparams
from fewshotnas.search import ALGORITHMS
from fewshotnas.search.common import SearchConfig
from fewshotnas.search.engine import stack_leaves
from fewshotnas.space import OpMask, build_network
from fewshotnas.train.device import resolve_device

ROOT = Path(__file__).resolve().parents[1]
TRAIN_IMAGES = {"cifar10": 50_000, "cifar100": 50_000, "imagenet16_120": 151_700}
"""Training images of the papers' datasets (the search uses ``arch_fraction`` of them per half)."""
CIFAR_STEPS = 391
"""DARTS-1st steps of a CIFAR-10 leaf-epoch (25,000 images per half, batch 64)."""


class OpCounter(TorchDispatchMode):
    """Counts dispatched aten operators that compute (views excluded)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not func.is_view and func.__name__.split(".")[0] not in ("detach", "alias", "_unsafe_view"):
            self.count += 1
        return func(*args, **(kwargs or {}))


def tree_leaves(k: int, seed: int = 0) -> list[OpMask]:
    """The first ``k`` leaves of a binary tree that splits edge l at level l into two random
    non-empty groups of the ops (seeded)."""
    gen = torch.Generator().manual_seed(seed)
    leaves = [OpMask.full()]
    edge = 0
    while len(leaves) < k:
        nxt = []
        for mask in leaves:
            ops = list(mask.ops_on(edge))
            perm = torch.randperm(len(ops), generator=gen).tolist()
            cut = 1 + int(torch.randint(len(ops) - 1, (), generator=gen))
            for group in (perm[:cut], perm[cut:]):
                nxt.append(mask.restrict(edge, [ops[i] for i in group]))
        leaves, edge = nxt, edge + 1
    return leaves[:k]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def build(algorithm: str, masks: list[OpMask], args, cfg: SearchConfig, device: torch.device):
    """K one-leaf searchers, each initialised as its own run (seed 0), and the K leaves stacked
    into one searcher from identical initialisations."""
    def network(mask):
        return build_network(mask, channels=args.channels, cells_per_stage=args.cells, num_classes=args.classes,
                             in_channels=args.in_channels).to(memory_format=torch.channels_last)

    separate = [stack_leaves(algorithm, [m], network, cfg, 0, device) for m in masks]
    return separate, stack_leaves(algorithm, masks, network, cfg, 0, device)


def count_ops(step) -> int:
    with OpCounter() as counter:
        step()
    return counter.count


def time_rounds(separate, fused, batches, device: torch.device, warmup: int = 2) -> tuple[float, float]:
    """Interleaved rounds: K separate steps, then one fused step, on the same batch pair.
    Returns (separate, fused) seconds per leaf-step over the rounds after ``warmup``."""
    t_sep = t_fused = 0.0
    k = len(separate)
    for r, ((x_w, y_w), (x_a, y_a)) in enumerate(batches):
        sync(device)
        t0 = time.perf_counter()
        for algo in separate:
            algo.step(x_w, y_w, x_a, y_a)
        sync(device)
        t1 = time.perf_counter()
        fused.step(x_w, y_w, x_a, y_a)
        sync(device)
        t2 = time.perf_counter()
        if r >= warmup:
            t_sep += (t1 - t0) / k
            t_fused += t2 - t1
    rounds = max(1, len(batches) - warmup)
    return t_sep / rounds, t_fused / k / rounds


def grid_days(step_s: dict[str, float], config: Path) -> tuple[float, int]:
    """Device-days of every leaf search of ``config`` at the measured per-leaf step times, and
    how many leaf searches that is (matches are unique output paths of the dry run)."""
    cfg = yaml.safe_load(config.read_text())
    hparams = {a: algorithm_hparams(cfg["search"]["hparams"], cfg["search"].get("per_algorithm"), a) for a in step_s}
    counts: dict[tuple[str, str], int] = {}
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-s", str(ROOT / "Snakefile"), "--directory",
                          str(ROOT), "--configfile", str(config), "--cores", "1"], capture_output=True, text=True,
                         env={**os.environ, "FEWSHOTNAS_PLAN_WITHOUT_DATA": "1"})  # count jobs, no datasets needed
    if out.returncode != 0:
        raise RuntimeError(f"snakemake -n failed:\n{out.stderr[-2000:]}")
    paths = set(re.findall(r"results/[^/\s,]+/search/[^\s,]+?/log\.parquet", out.stdout + out.stderr))
    for path in paths:
        parts = path.split("/")
        key = (parts[3], parts[5])  # results/<exp>/search/<dataset>/<method>/<algo>/seed<s>/leaf<k>/log.parquet
        counts[key] = counts.get(key, 0) + 1
    seconds = 0.0
    for (dataset, algo), n in counts.items():
        steps = math.floor(TRAIN_IMAGES[dataset] * cfg["data"]["arch_fraction"] / hparams[algo]["batch_size"])
        seconds += n * hparams[algo]["epochs"] * steps * step_s[algo]
    return seconds / 86400, sum(counts.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--leaves", type=int, default=8)
    parser.add_argument("--algorithm", default="darts1", choices=list(ALGORITHMS))
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--cells", type=int, default=5)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--in-channels", type=int, default=3)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=8, help="timed rounds after 2 warm-up rounds")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--grid-rounds", type=int, default=3, help="rounds per other algorithm for the grid price")
    parser.add_argument("--no-grid", action="store_true", help="skip the papers' grid estimate")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cfg = SearchConfig(epochs=50)
    masks = tree_leaves(args.leaves)
    gen = torch.Generator().manual_seed(1)

    def batch():
        x = torch.randn(args.batch, args.in_channels, args.size, args.size, generator=gen)
        y = torch.randint(0, args.classes, (args.batch,), generator=gen)
        return x.to(device).contiguous(memory_format=torch.channels_last), y.to(device)

    batches = [(batch(), batch()) for _ in range(args.rounds + 2)]
    separate, fused = build(args.algorithm, masks, args, cfg, device)
    (x_w, y_w), (x_a, y_a) = batches[0]
    sep_ops = sum(count_ops(lambda a=a: a.step(x_w, y_w, x_a, y_a)) for a in separate) / len(separate)
    fused_ops = count_ops(lambda: fused.step(x_w, y_w, x_a, y_a)) / len(separate)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t_sep, t_fused = time_rounds(separate, fused, batches[1:], device)
    diff = (max(float((fused.alphas[k] - a.alphas[0]).detach().abs().max()) for k, a in enumerate(separate))
            if fused.alphas is not None else None)
    result = dict(device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                  torch=torch.__version__, threads=torch.get_num_threads(), algorithm=args.algorithm,
                  leaves=len(masks),
                  network=dict(channels=args.channels, cells=args.cells, size=args.size, batch=args.batch),
                  separate_ms_per_leaf_step=round(t_sep * 1e3, 2), fused_ms_per_leaf_step=round(t_fused * 1e3, 2),
                  speedup=round(t_sep / t_fused, 2), separate_ops_per_leaf_step=round(sep_ops, 1),
                  fused_ops_per_leaf_step=round(fused_ops, 1), ops_ratio=round(fused_ops / sep_ops, 3),
                  ops_ratio_bound=round(1.5 / len(masks), 3),
                  leaf_epoch_s=round(t_fused * CIFAR_STEPS, 1), max_abs_alpha_diff=diff)
    if device.type == "cuda":
        result["fused_peak_gpu_mem_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20)
    if not args.no_grid:
        step_s = {args.algorithm: t_fused}
        for algo in ALGORITHMS:
            if algo not in step_s:
                sep, fus = build(algo, masks, args, cfg, device)
                step_s[algo] = time_rounds(sep, fus, batches[: args.grid_rounds + 1], device, warmup=1)[1]
        days, searches = grid_days(step_s, ROOT / "config" / "paper.yaml")
        result.update(step_ms_per_leaf={a: round(t * 1e3, 2) for a, t in step_s.items()},
                      paper_grid_leaf_searches=searches, paper_grid_gpu_days=round(days, 2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

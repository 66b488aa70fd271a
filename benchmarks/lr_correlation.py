"""How much #lr (the TE-NAS linear-region count) tells about NB201 accuracy: score a seeded
sample of architectures and print the number of distinct scores and the Spearman ρ against
the NB201 test accuracy.

    .venv/bin/python benchmarks/lr_correlation.py [--archs 1000 --seed 0 --bench cifar10]

The batches are those of the default split (Fashion-MNIST, 2 batches of 64 at 16 px); #lr
takes its 3×3 crops from them. Figures, not tests.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from scipy.stats import spearmanr

from fewshotnas.bench import load_table
from fewshotnas.data import prepare_data
from fewshotnas.data.datasets import DEBIAN_FASHION_MNIST
from fewshotnas.metrics.proxy import ProxySetup, score_architectures
from fewshotnas.space import NUM_ARCHS
from fewshotnas.split.level import metric_batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=1000, help="architectures sampled (seeded, without replacement)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bench", default="cifar10", help="NB201 dataset of the accuracies")
    parser.add_argument("--root", default=DEBIAN_FASHION_MNIST)
    args = parser.parse_args()
    torch.set_num_threads(1)
    table = load_table()
    indices = np.random.default_rng(args.seed).choice(NUM_ARCHS, size=args.archs, replace=False)
    data = prepare_data("fashion_mnist", args.root, subset=6000, test_subset=10, image_size=16)
    batches = metric_batches(data, 2, 64, 1000 * args.seed + 1, torch.device("cpu"))
    setup = ProxySetup(channels=1, cells_per_stage=1, num_classes=10, in_channels=1, image_size=16, seed=args.seed)
    t0 = time.perf_counter()
    scores = [r["score"] for r in score_architectures("lr", [table.arch_str(int(i)) for i in indices], batches, setup)]
    seconds = time.perf_counter() - t0
    accuracy = [table.accuracy(int(i), args.bench) for i in indices]
    rho = spearmanr(scores, accuracy).statistic
    print(json.dumps({"archs": args.archs, "seed": args.seed, "bench": args.bench,
                      "distinct_scores": len(set(scores)), "distinct_in_first_100": len(set(scores[:100])),
                      "spearman_rho": round(float(rho), 4), "seconds": round(seconds, 1)}))


if __name__ == "__main__":
    main()

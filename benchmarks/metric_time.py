"""Print the metric time of one splitting tree per method (depth 3, branching 2, edges
0, 1, 2: 7 nodes × 5 candidates), in process, without Snakemake's job start-up.

    .venv/bin/python benchmarks/metric_time.py [--supernet results/default/supernet/fashion_mnist/seed0/supernet.pt]
        [--channels 8 --cells 1 --size D --batch D --batches D --threads 1 --device cpu]
        [--ntk-statistics fixed|batch]

Without --supernet a fresh network of the given size is scored (timing hardly depends on
the weights). Data: Debian's Fashion-MNIST, as many images as config/config.yaml keeps; the
defaults D of --size, --batch and --batches are that config's too.
Figures, not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml

from fewshotnas.data import prepare_data
from fewshotnas.data.datasets import DEBIAN_FASHION_MNIST
from fewshotnas.metrics import metric_names
from fewshotnas.space import build_network
from fewshotnas.split import SplitConfig, root_node, split_level, tree_to_frame
from fewshotnas.train.device import resolve_device
from fewshotnas.train.loop import load_supernet

DEFAULT = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "config.yaml").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--supernet", default=None)
    parser.add_argument("--root", default=DEBIAN_FASHION_MNIST)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--cells", type=int, default=1)
    parser.add_argument("--size", type=int, default=DEFAULT["data"]["image_size"])
    parser.add_argument("--batch", type=int, default=DEFAULT["split"]["batch_size"])
    parser.add_argument("--batches", type=int, default=DEFAULT["split"]["metric_batches"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--ntk-statistics", default="fixed", choices=["fixed", "batch"],
                        help="split.metric_options.ntk.statistics")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data = prepare_data("fashion_mnist", args.root, subset=DEFAULT["data"]["subset"], test_subset=10,
                        image_size=args.size)
    if args.supernet:
        net = load_supernet(args.supernet, device)
    else:
        torch.manual_seed(0)
        net = build_network(None, channels=args.channels, cells_per_stage=args.cells, num_classes=10,
                            in_channels=1).to(device, memory_format=torch.channels_last)
    cfg = SplitConfig(depth=3, branching=2, edges=[0, 1, 2], metric_batches=args.batches, batch_size=args.batch,
                      metric_options={"ntk": {"statistics": args.ntk_statistics}})
    print(f"device {device}, threads {args.threads}, batch {args.batch} × {args.batches}, "
          f"{'supernet ' + args.supernet if args.supernet else f'fresh C={args.channels} N={args.cells}'}")
    print(f"{'method':<18}{'tree (s)':>10}{'per node (s)':>14}")
    total = 0.0
    for method in [*metric_names(), "random"]:
        tree = tree_to_frame([root_node()])
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for level in (1, 2, 3):
            tree = split_level(tree, level, method, cfg, 0, net=net, data=data, device=device).tree
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        total += seconds
        print(f"{method:<18}{seconds:>10.2f}{seconds / 7:>14.3f}")
    print(f"{'all ten':<18}{total:>10.2f}")


if __name__ == "__main__":
    main()

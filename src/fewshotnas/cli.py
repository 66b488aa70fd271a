"""Command line: ``fewshotnas info ARCH``, ``fewshotnas score --metric NAME ARCH…`` and
``fewshotnas nb201-convert CSV OUT``."""

from __future__ import annotations

import argparse
import json
import math
import sys

import torch

from fewshotnas.bench import BENCH_DATASETS, load_table
from fewshotnas.bench.nb201 import ACCURACY_DECIMALS
from fewshotnas.space import GenotypeError, build_network, count_flops, count_parameters, genotype_from_str


def resolve_arch(arch: str, table) -> tuple[int, str]:
    """(benchmark index, string) of an index or a benchmark string."""
    index = int(arch) if arch.strip().lstrip("-").isdigit() else table.index_of(arch)
    return index, table.arch_str(index)


def arch_info(arch: str, *, channels: int = 16, cells: int = 5, classes: int = 10,
              table_path: str | None = None) -> dict:
    """Index, string, parameter count, FLOPs (32×32 RGB input; 2 per multiply-add, so
    ``macs`` = flops/2 is what NB201 tables call FLOPs) and NB201 test accuracies of ``arch``
    (a benchmark string or index), rounded to the benchmark's precision (``ACCURACY_DECIMALS``;
    NaN where the table has no accuracy)."""
    table = load_table(table_path)
    index, arch_str = resolve_arch(arch, table)
    net = build_network(genotype_from_str(arch_str), channels=channels, cells_per_stage=cells, num_classes=classes)
    return {
        "index": index,
        "arch_str": arch_str,
        "channels": channels,
        "cells_per_stage": cells,
        "num_classes": classes,
        "params": count_parameters(net),
        "flops": (flops := count_flops(net, (1, 3, 32, 32))),
        "macs": flops // 2,
        "test_acc": {d: round(table.accuracy(index, d), ACCURACY_DECIMALS) for d in BENCH_DATASETS},
    }


def json_line(record: dict) -> str:
    """``record`` as one line of strict JSON: NaN and ±inf (e.g. a missing accuracy, a degenerate
    score) become ``null``."""

    def plain(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return json.dumps(plain(record), allow_nan=False)


def parse_options(pairs: list[str]) -> dict:
    """``KEY=VALUE`` strings → dict; VALUE is read as YAML (numbers, true/false, null)."""
    import yaml

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--option takes KEY=VALUE, got {pair!r}")
        options[key] = yaml.safe_load(value)
    return options


def score_command(args: argparse.Namespace) -> None:
    """Print one JSON line per architecture: index, string, metric, score, finite, seconds."""
    from fewshotnas.metrics.proxy import ProxySetup, score_architectures, synthetic_batches
    from fewshotnas.train.device import resolve_device

    device = resolve_device(args.device)  # an unavailable device fails before any work
    table = load_table(args.table)
    archs = [resolve_arch(a, table) for a in args.archs]
    if args.dataset is None:
        setup = ProxySetup(args.channels, args.cells, args.classes, 3, args.image_size or 32, args.seed)
        batches = synthetic_batches(setup, args.batches, args.batch_size, args.seed)
    else:
        from fewshotnas.data import prepare_data
        from fewshotnas.data.datasets import DEBIAN_FASHION_MNIST
        from fewshotnas.split.level import metric_batches

        root = args.root or (DEBIAN_FASHION_MNIST if args.dataset == "fashion_mnist" else f"data/{args.dataset}")
        need = 2 * args.batches * args.batch_size  # the weight half of the subset gives the batches
        data = prepare_data(args.dataset, root, subset=need, test_subset=1, image_size=args.image_size, seed=args.seed)
        setup = ProxySetup(args.channels, args.cells, data.num_classes, data.in_channels, data.image_size, args.seed)
        batches = metric_batches(data, args.batches, args.batch_size, args.seed, torch.device("cpu"))
    records = score_architectures(args.metric, [s for _, s in archs], batches, setup, parse_options(args.option),
                                  device)
    for (index, _), record in zip(archs, records):  # one record per architecture, in order
        print(json_line({"index": index, **record}), flush=True)


def in_range(minimum: int, maximum: int, what: str, why: str):
    """An argparse type: an integer in ``minimum..maximum`` (the error says why). The upper
    bounds keep a typo (``--cells 100000``) from building a network that never finishes."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is too small: {what} must be ≥ {minimum}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"{value} is too large: {what} must be ≤ {maximum:,} ({why})")
        return value

    return parse


CHANNELS = in_range(1, 256, "channels", "the papers use 16")
CELLS = in_range(1, 32, "cells per stage", "the papers use 5")
CLASSES = in_range(1, 100_000, "classes", "ImageNet16-120 has 120")
BATCHES = in_range(1, 1_000, "batches", "metrics use 1 to a few")
BATCH_SIZE = in_range(2, 4_096, "the batch size (BatchNorm needs two samples)", "the papers use 64")
IMAGE_SIZE = in_range(4, 512, "the image size (the network halves it twice)", "NB201's images are 16 or 32 px")


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line (``prog: error: … (see --help)``), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="fewshotnas", description="Metric-driven few-shot NAS on NAS-Bench-201.")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="facts of one architecture as JSON")
    info.add_argument("arch", help="benchmark string (|op~0|+|op~0|op~1|+…) or benchmark index 0..15624")
    info.add_argument("--channels", type=CHANNELS, default=16, help="initial channels C (default 16)")
    info.add_argument("--cells", type=CELLS, default=5, help="cells per stage N (default 5)")
    info.add_argument("--classes", type=CLASSES, default=10, help="output classes (default 10)")
    info.add_argument("--table", default=None, help="NB201 table (default: the shipped one)")
    score = sub.add_parser("score", help="score whole architectures with a metric (zero-cost proxy), JSON lines")
    score.add_argument("archs", nargs="+", metavar="ARCH", help="benchmark string or index 0..15624")
    score.add_argument("--metric", required=True, help="a scalar splitting metric, e.g. synflow, jacobcov, snip")
    score.add_argument("--dataset", default=None, choices=["fashion_mnist", "cifar10", "cifar100", "imagenet16_120"],
                       help="batches from this dataset (default: standard normal images, 3×32×32, random labels)")
    score.add_argument("--root", default=None, help="dataset folder (default: Debian's Fashion-MNIST, else data/<D>)")
    score.add_argument("--batch-size", type=BATCH_SIZE, default=64)
    score.add_argument("--batches", type=BATCHES, default=1, help="mini-batches the metric sees (default 1)")
    score.add_argument("--image-size", type=IMAGE_SIZE, default=None, help="resize images to this size")
    score.add_argument("--channels", type=CHANNELS, default=16, help="initial channels C (default 16)")
    score.add_argument("--cells", type=CELLS, default=5, help="cells per stage N (default 5)")
    score.add_argument("--classes", type=CLASSES, default=10, help="classes without --dataset (default 10)")
    score.add_argument("--seed", type=int, default=0, help="weights and data seed (default 0)")
    score.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="metric option")
    score.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    score.add_argument("--table", default=None, help="NB201 table (default: the shipped one)")
    conv = sub.add_parser("nb201-convert", help="convert the NB201 CSV export into the shipped Parquet table")
    conv.add_argument("csv")
    conv.add_argument("out")
    docs = sub.add_parser("config-docs", help="write config/README.md from config/schema.yaml")
    docs.add_argument("--schema", default="config/schema.yaml")
    docs.add_argument("--config", default="config/config.yaml", help="whose values are the defaults shown")
    docs.add_argument("--out", default="config/README.md")
    args = parser.parse_args(argv)
    try:
        if args.command == "info":
            print(json_line(arch_info(args.arch, channels=args.channels, cells=args.cells, classes=args.classes,
                                      table_path=args.table)))
        elif args.command == "score":
            score_command(args)
        elif args.command == "config-docs":
            from fewshotnas.configdocs import config_docs
            from fewshotnas.io import write_text_atomic

            write_text_atomic(config_docs(args.schema, args.config), args.out)
        else:
            from fewshotnas.bench import convert_csv
            from fewshotnas.io import write_parquet_atomic

            write_parquet_atomic(convert_csv(args.csv), args.out, {"source": args.csv})
    except (GenotypeError, IndexError, KeyError, ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"fewshotnas: error: {str(err).splitlines()[0] if str(err) else type(err).__name__}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

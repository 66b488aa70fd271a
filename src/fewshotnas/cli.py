"""Command line: ``fewshotnas info ARCH`` and ``fewshotnas nb201-convert CSV OUT``."""

from __future__ import annotations

import argparse
import json
import sys

from fewshotnas.bench import BENCH_DATASETS, load_table
from fewshotnas.space import GenotypeError, build_network, count_flops, count_parameters, genotype_from_str


def arch_info(arch: str, *, channels: int = 16, cells: int = 5, classes: int = 10, table_path: str | None = None) -> dict:
    """Index, string, parameter count, FLOPs (32×32 RGB input; 2 per multiply-add, so
    ``macs`` = flops/2 is what NB201 tables call FLOPs) and NB201 test accuracies of ``arch``
    (a benchmark string or index)."""
    table = load_table(table_path)
    if arch.strip().lstrip("-").isdigit():
        index = int(arch)
        arch_str = table.arch_str(index)
    else:
        index = table.index_of(arch)
        arch_str = table.arch_str(index)
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
        "test_acc": {d: table.accuracy(index, d) for d in BENCH_DATASETS},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fewshotnas", description="Metric-driven few-shot NAS on NAS-Bench-201.")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="facts of one architecture as JSON")
    info.add_argument("arch", help="benchmark string (|op~0|+|op~0|op~1|+…) or benchmark index 0..15624")
    info.add_argument("--channels", type=int, default=16, help="initial channels C (default 16)")
    info.add_argument("--cells", type=int, default=5, help="cells per stage N (default 5)")
    info.add_argument("--classes", type=int, default=10, help="output classes (default 10)")
    info.add_argument("--table", default=None, help="NB201 table (default: the shipped one)")
    conv = sub.add_parser("nb201-convert", help="convert the NB201 CSV export into the shipped Parquet table")
    conv.add_argument("csv")
    conv.add_argument("out")
    args = parser.parse_args(argv)
    try:
        if args.command == "info":
            print(json.dumps(arch_info(args.arch, channels=args.channels, cells=args.cells, classes=args.classes,
                                       table_path=args.table)))
        else:
            from fewshotnas.bench import convert_csv
            from fewshotnas.io import write_parquet_atomic

            write_parquet_atomic(convert_csv(args.csv), args.out, {"source": args.csv})
    except (GenotypeError, IndexError, KeyError, ValueError, FileNotFoundError) as err:
        print(f"fewshotnas: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

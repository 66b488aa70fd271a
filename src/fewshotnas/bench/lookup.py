"""Benchmark lookup of search logs: every leaf × epoch derived genotype with its
NB201 test accuracy on the benchmark dataset."""

from __future__ import annotations

import pandas as pd

from fewshotnas.bench.nb201 import NB201Table

LOOKUP_COLUMNS = {
    "dataset": "string", "bench_dataset": "string", "method": "string", "algorithm": "string", "seed": "int64",
    "split_seed": "Int64", "leaf": "int64", "leaf_mask": "string", "epoch": "int64", "genotype": "string",
    "arch_index": "int64", "test_acc": "float64",
    "val_acc": "float64", "val_loss": "float64", "train_acc": "float64", "disconnected": "bool",
}


def lookup_logs(
    logs: dict[int, pd.DataFrame],
    table: NB201Table,
    *,
    dataset: str,
    bench_dataset: str,
    method: str,
    algorithm: str,
    seed: int,
    split_seed: int | None = None,
    masks: dict[int, str] | None = None,
) -> pd.DataFrame:
    """Rows for every (leaf, epoch) of the search logs keyed by leaf index. A leaf whose
    architectures are all disconnected (log rows marked ``disconnected``) was not searched:
    its accuracy is NaN. So is an architecture the benchmark table lacks (a table built from
    the official file may): a *missing lookup*, kept as NaN, which the analysis counts and
    never replaces by another leaf's number. ``split_seed`` (None for ``nosplit``) and ``masks`` (leaf → OpMask
    bits, from each log's metadata) let the rows join the splitting trees without lookups."""
    frames = []
    for leaf, log_df in sorted(logs.items()):
        disconnected = log_df["disconnected"].to_numpy(dtype=bool)
        test_acc = table.accuracies(log_df["genotype"].astype(str), bench_dataset).astype(float)
        test_acc[disconnected] = float("nan")
        frames.append(pd.DataFrame({
            "leaf": leaf, "epoch": log_df["epoch"].to_numpy(), "genotype": log_df["genotype"].astype(str),
            "arch_index": [table.index_of(s) for s in log_df["genotype"].astype(str)],
            "test_acc": test_acc, "val_acc": log_df["val_acc"].to_numpy(),
            "val_loss": log_df["val_loss"].to_numpy(), "train_acc": log_df["train_acc"].to_numpy(),
            "disconnected": disconnected,
        }))
    df = pd.concat(frames, ignore_index=True)
    df.insert(0, "leaf_mask", df["leaf"].map(lambda k: (masks or {}).get(int(k))))
    df.insert(0, "split_seed", split_seed)
    df.insert(0, "seed", seed)
    df.insert(0, "algorithm", algorithm)
    df.insert(0, "method", method)
    df.insert(0, "bench_dataset", bench_dataset)
    df.insert(0, "dataset", dataset)
    return df[list(LOOKUP_COLUMNS)].astype(LOOKUP_COLUMNS)

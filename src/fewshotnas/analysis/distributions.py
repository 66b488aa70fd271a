"""Where the benchmark's architectures land across the leaves of a tree."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fewshotnas.bench import NB201Table
from fewshotnas.space import OpMask


def leaf_distribution(table: NB201Table, masks: list[OpMask], bench_dataset: str, method: str,
                      top_fraction: float = 0.01) -> pd.DataFrame:
    """One row per architecture: its leaf, test accuracy (NaN where the table has none),
    ``known`` (it has one) and ``top``: it is in the top ``top_fraction`` of the architectures
    with a known accuracy (never an unknown one). Raises if the leaves do not partition the space."""
    acc = table.frame[bench_dataset].to_numpy(dtype=float)
    known = ~np.isnan(acc)
    leaf = np.full(len(acc), -1, dtype=np.int64)
    for k, mask in enumerate(masks):
        member = table.in_mask(mask)
        if np.any(leaf[member] >= 0):
            raise ValueError(f"leaves of {method} overlap: leaf {k} shares architectures with an earlier leaf")
        leaf[member] = k
    if np.any(leaf < 0):
        raise ValueError(f"leaves of {method} miss {int(np.sum(leaf < 0))} architectures")
    top = np.zeros(len(acc), dtype=bool)
    if known.any():
        top[known] = acc[known] >= np.quantile(acc[known], 1.0 - top_fraction)
    return pd.DataFrame({"method": method, "leaf": leaf, "arch_index": np.arange(len(acc)), "test_acc": acc,
                         "known": known, "top": top}).astype({"method": "string"})

"""Search cost: the wall seconds of the jobs behind each result, read from Snakemake's
benchmark files, as NAS-Bench-201's and GM-NAS's tables report search cost.

A *run* is one (dataset, method, algorithm, search seed): for a split method its cost is the
split levels that built the searched tree plus the leaf searches; for ``nosplit`` the one
search. The base supernet is shared by every split method and reported once
(:func:`supernet_seconds`), never added to a run. A search job fused over several methods
(``search.fuse: dataset``) is shared out by leaves: a run's part is its leaves over the job's.
A job resumed after a kill has in its benchmark file the seconds of its last attempt only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

COST_COLUMNS = {
    "dataset": "string", "method": "string", "algorithm": "string", "seed": "int64", "split_s": "float64",
    "search_s": "float64", "cost_s": "float64", "cost_device": "string",
}
"""Schema of the per-run cost table: ``split_s`` + ``search_s`` = ``cost_s`` (wall seconds, ≥ 0);
``cost_device``: the device type the searches ran on (``cpu``, ``cuda``, …)."""

RUN_KEYS = ["dataset", "method", "algorithm", "seed"]


def benchmark_seconds(path: str | Path) -> float:
    """Wall seconds of one job from its Snakemake benchmark file (TSV with a column ``s``; the
    mean over repeats). ValueError naming the file when it is not such a file."""
    try:
        frame = pd.read_csv(path, sep="\t")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a Snakemake benchmark file ({err}); delete it and rerun its job") from err
    if "s" not in frame.columns or frame.empty:
        raise ValueError(f"{path}: not a Snakemake benchmark file (no column 's'); delete it and rerun its job")
    return float(frame["s"].astype(float).mean())


def device_type(device: str | None) -> str:
    """``cuda:0`` → ``cuda``; None (not recorded) → ``unknown``."""
    return str(device).split(":")[0] if device else "unknown"


def run_costs(runs: Sequence[dict[str, Any]], seconds: Callable[[str], float] = benchmark_seconds) -> pd.DataFrame:
    """One :data:`COST_COLUMNS` row per run. Each run is a dict with the :data:`RUN_KEYS`,
    ``split`` (benchmark files of the split levels behind its tree; empty for ``nosplit``),
    ``search`` (of its search jobs), ``share`` (the part of the search jobs' seconds that is the
    run's, in (0, 1]) and ``device`` (where the searches ran)."""
    rows = []
    for run in runs:
        if not 0 < run["share"] <= 1:
            raise ValueError(f"run {run['method']}/{run['algorithm']}/seed{run['seed']}: share {run['share']} "
                             "not in (0, 1]")
        split_s = sum(seconds(p) for p in run["split"])
        search_s = run["share"] * sum(seconds(p) for p in run["search"])
        rows.append({**{k: run[k] for k in RUN_KEYS}, "split_s": split_s, "search_s": search_s,
                     "cost_s": split_s + search_s, "cost_device": device_type(run.get("device"))})
    return pd.DataFrame(rows, columns=list(COST_COLUMNS)).astype(COST_COLUMNS)


def cell_costs(costs: pd.DataFrame, keys: Sequence[str] = ("dataset", "method", "algorithm")) -> pd.DataFrame:
    """Mean ``cost_s`` over the seeds of each cell (the cost of one search, as papers report
    it) and the cell's device types (joined with ``+`` when they differ)."""
    return costs.groupby(list(keys), observed=True).agg(
        cost_s=("cost_s", "mean"), cost_device=("cost_device", lambda d: "+".join(sorted(set(d))))).reset_index()


def with_costs(table: pd.DataFrame, costs: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """``table`` with ``cost_s`` and ``cost_device`` joined on ``keys`` (per seed when ``keys``
    holds ``seed``, else the :func:`cell_costs` mean); rows without a cost get NaN/<NA>."""
    keys = list(keys)
    right = costs[keys + ["cost_s", "cost_device"]] if "seed" in keys else cell_costs(costs, keys)
    out = table.drop(columns=[c for c in ("cost_s", "cost_device") if c in table.columns])
    out = out.merge(right, on=keys, how="left", validate="many_to_one")
    return out.astype({"cost_s": "float64", "cost_device": "string"})


def hours_text(seconds: float, device: str | None) -> str:
    """Seconds as the papers write search cost: ``0.52 GPU-h`` / ``0.0083 CPU-h`` (two
    significant digits below 10 h, trailing zeros kept so a column reads evenly: ``0.050``);
    ``n/a`` for NaN."""
    if seconds is None or pd.isna(seconds):
        return "n/a"
    unit = {"cuda": "GPU", "cpu": "CPU", "mps": "GPU"}.get(str(device), str(device))
    hours = seconds / 3600
    return f"{hours:#.2g} {unit}-h" if hours < 10 else f"{hours:.0f} {unit}-h"


def supernet_seconds(paths: Sequence[str | Path], seconds: Callable[[str], float] = benchmark_seconds) -> float | None:
    """The shared base supernet's training seconds (None when no split method trains one)."""
    return sum(seconds(str(p)) for p in paths) if paths else None

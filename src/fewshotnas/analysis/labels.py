"""What people read: the papers' row and column order and display names. Parquet keeps the
identifiers (``nosplit``, ``lr``, ``darts1``); Markdown and figures show these labels."""

from __future__ import annotations

METHOD_ORDER = ("nosplit", "random", "gradientmatching", "gradnorm", "jacobcov", "snip", "grasp", "synflow", "ntk",
                "lr", "params")
"""Rows of Tables 1–3 of the metric-splitting paper."""

METHOD_LABELS = {"nosplit": "no splitting", "lr": "#lr", "params": "#params"}

ALGORITHM_ORDER = ("darts1", "darts2", "snas", "dsnas")
"""Columns of Tables 1–3."""

ALGORITHM_LABELS = {"darts1": "DARTS-1st", "darts2": "DARTS-2nd", "snas": "SNAS", "dsnas": "DSNAS"}


def _ordered(names: list[str], order: tuple[str, ...]) -> list[str]:
    known = [n for n in order if n in names]
    return known + sorted(n for n in set(names) if n not in order)


def method_order(methods: list[str]) -> list[str]:
    """The papers' row order: no splitting, random, then the metrics as Tables 1–3 list them
    (others after, sorted)."""
    return _ordered(methods, METHOD_ORDER)


def algorithm_order(algorithms: list[str]) -> list[str]:
    """The papers' column order: DARTS-1st, DARTS-2nd, SNAS, DSNAS (others after, sorted)."""
    return _ordered(algorithms, ALGORITHM_ORDER)


def method_label(method: str) -> str:
    """Display name of a split method (``nosplit`` → ``no splitting``, ``lr`` → ``#lr``)."""
    return METHOD_LABELS.get(method, method)


def algorithm_label(algorithm: str) -> str:
    """Display name of a search algorithm (``darts1`` → ``DARTS-1st``)."""
    return ALGORITHM_LABELS.get(algorithm, algorithm)

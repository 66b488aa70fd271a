"""Registry of one-shot search algorithms by config name."""

from __future__ import annotations

from fewshotnas.search.darts import Darts1st, Darts2nd
from fewshotnas.search.dsnas import Dsnas
from fewshotnas.search.snas import Snas

ALGORITHMS: dict[str, type] = {"darts1": Darts1st, "darts2": Darts2nd, "snas": Snas, "dsnas": Dsnas}


def get_algorithm(name: str) -> type:
    """The algorithm class for ``name``; the error lists the known names."""
    if name not in ALGORITHMS:
        raise ValueError(f"unknown search algorithm {name!r}; known: {', '.join(sorted(ALGORITHMS))}")
    return ALGORITHMS[name]

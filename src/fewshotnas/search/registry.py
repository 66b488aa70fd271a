"""Registry of the search algorithms' implementations by config name.

Each name is a :data:`fewshotnas.catalog.CATALOG` entry (label, table order, sampling kind);
``tests/unit/test_engine.py`` keeps the two equal."""

from __future__ import annotations

from fewshotnas.catalog import CATALOG, algorithm_info
from fewshotnas.search.darts import Darts1st, Darts2nd
from fewshotnas.search.darts_minus import DartsMinus
from fewshotnas.search.drnas import Drnas
from fewshotnas.search.dsnas import Dsnas
from fewshotnas.search.engine import Searcher
from fewshotnas.search.gdas import Gdas
from fewshotnas.search.rsps import Rsps
from fewshotnas.search.snas import Snas

ALGORITHMS: dict[str, type[Searcher]] = {cls.name: cls for cls in sorted(
    (Darts1st, Darts2nd, DartsMinus, Snas, Dsnas, Gdas, Drnas, Rsps), key=lambda c: CATALOG[c.name].order)}
"""Every implementation, by config name, in the catalog's (the tables') order."""


def get_algorithm(name: str) -> type[Searcher]:
    """The implementation of ``name``; the error lists the known names."""
    algorithm_info(name)
    if name not in ALGORITHMS:
        raise ValueError(f"search algorithm {name!r} is in the catalog but has no implementation registered")
    return ALGORITHMS[name]

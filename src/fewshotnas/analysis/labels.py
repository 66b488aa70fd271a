"""What people read: the papers' row and column order and display names. Parquet keeps the
identifiers (``nosplit``, ``lr``, ``darts1``); Markdown and figures show these labels."""

from __future__ import annotations

import re

from fewshotnas.catalog import ALGORITHM_NAMES, CATALOG

METHOD_ORDER = ("nosplit", "random", "gradientmatching", "gradnorm", "jacobcov", "snip", "grasp", "synflow", "ntk",
                "lr", "params")
"""Rows of Tables 1–3 of the metric-splitting paper."""

METHOD_LABELS = {"nosplit": "no splitting", "gradientmatching": "gradient matching", "lr": "#lr", "params": "#params"}

ALGORITHM_ORDER = ALGORITHM_NAMES
"""Columns of Tables 1–3: the catalog's order (DARTS-1st, DARTS-2nd, DARTS-, SNAS, DSNAS, GDAS,
DrNAS, RSPS)."""

ALGORITHM_LABELS = {name: info.label for name, info in CATALOG.items()}

OP_CODES = {"none": "n", "skip": "s", "1x1": "1", "3x3": "3", "pool": "p"}
"""One character per NB201 operation (keys: the short names of ``OpMask.short_label``), for
leaf labels that must fit a figure's legend."""
OP_CODE_KEY = "n none, s skip, 1 conv 1x1, 3 conv 3x3, p avg pool 3x3"
"""The key of :data:`OP_CODES`, for a figure's title."""


def leaf_code_label(short_label: str) -> str:
    """The compact form of a leaf label, one character per kept op (:data:`OP_CODES`):
    ``e0:{3x3} e2:{skip,1x1}`` (``OpMask.short_label``) → ``e0:{3} e2:{s1}``; other text
    (``all ops``) unchanged. Raises KeyError on an op name it does not know."""
    def compact(match: re.Match) -> str:
        return "{" + "".join(OP_CODES[name] for name in match.group(1).split(",")) + "}"

    return re.sub(r"\{([^}]*)\}", compact, short_label)


def _ordered(names: list[str], order: tuple[str, ...]) -> list[str]:
    known = [n for n in order if n in names]
    return known + sorted(n for n in set(names) if n not in order)


def method_order(methods: list[str]) -> list[str]:
    """The papers' row order: no splitting, random, then the metrics as Tables 1–3 list them
    (others after, sorted)."""
    return _ordered(methods, METHOD_ORDER)


def algorithm_order(algorithms: list[str]) -> list[str]:
    """The catalog's column order (:data:`ALGORITHM_ORDER`; others after, sorted)."""
    return _ordered(algorithms, ALGORITHM_ORDER)


def method_label(method: str) -> str:
    """Display name of a split method (``nosplit`` → ``no splitting``, ``lr`` → ``#lr``)."""
    return METHOD_LABELS.get(method, method)


def algorithm_label(algorithm: str) -> str:
    """Display name of a search algorithm (``darts1`` → ``DARTS-1st``)."""
    return ALGORITHM_LABELS.get(algorithm, algorithm)


DATASET_LABELS = {"fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100",
                  "imagenet16_120": "ImageNet16-120"}

SELECTOR_ORDER = ("val_acc", "val_loss", "halving", "oracle")
"""Rows of a selection table (GM-NAS Table 8's order, the oracle last)."""

SELECTOR_LABELS = {"val_acc": "validation accuracy", "val_loss": "validation loss", "halving": "successive halving",
                   "oracle": "max (oracle)"}


def dataset_label(dataset: str) -> str:
    """Display name of a dataset (``fashion_mnist`` → ``Fashion-MNIST``)."""
    return DATASET_LABELS.get(dataset, dataset)


def bench_label(bench_dataset: str) -> str:
    """Display name of an NB201 accuracy source (``cifar10`` → ``NB201 CIFAR-10``)."""
    return f"NB201 {dataset_label(bench_dataset)}"


def selector_label(selector: str) -> str:
    """Display name of a supernet selector (``halving`` → ``successive halving``)."""
    return SELECTOR_LABELS.get(selector, selector)


def percent(fraction: float) -> str:
    """A fraction as a short percentage for titles: 0.01 → ``1 %``, 0.002 → ``0.2 %``."""
    return f"{100 * fraction:.3g} %"


STAGE2_LABELS = {"prune": "prune", "valid": "valid", "synflow": "synflow", "jacobcov": "jacob cov",
                 "perturb": "perturb"}
"""Columns of the S1 × S2 table (*Picking up the pieces*, Table 2)."""

SUPERNET_LABELS = {"rsps_uniform": "RSPS, uniform", "rsps_biased": "RSPS, biased", "init_uniform": "initial, uniform",
                   "init_biased": "initial, biased"}
"""The Stage-2 baseline supernets (*Picking up the pieces*, Fig. 2)."""


def stage2_label(selector: str) -> str:
    """Display name of a Stage-2 selector (``jacobcov`` → ``jacob cov``)."""
    return STAGE2_LABELS.get(selector, selector)


def supernet_label(supernet: str) -> str:
    """Display name of a Stage-2 baseline supernet (``rsps_biased`` → ``RSPS, biased``)."""
    return SUPERNET_LABELS.get(supernet, supernet)

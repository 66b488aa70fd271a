"""The one-shot search algorithms the project knows, as plain data (standard library only).

Snakemake reads this catalog at parse time (which algorithms fuse, the parse-time checks),
without importing torch; the tables and figures read their column order and labels from it.
The implementations register under the same names in :mod:`fewshotnas.search.registry`, and
a test keeps the two equal. Adding an algorithm: one module in ``fewshotnas/search`` plus its
entry here (docs/adding-an-algorithm.md).
"""

from __future__ import annotations

from dataclasses import dataclass

SAMPLINGS = ("mixture", "relaxed", "dirichlet", "path", "uniform")
"""How an algorithm trains the supernet: ``mixture`` (every op of the leaf, weighted by
softmax(α)), ``relaxed`` (a Gumbel-softmax sample of all ops), ``dirichlet`` (a Dirichlet
sample of mixing weights), ``path`` (one op per edge drawn from softmax(α); only those run),
``uniform`` (one op per edge drawn uniformly from the leaf; no architecture weights)."""


@dataclass(frozen=True)
class AlgorithmInfo:
    """One algorithm: config ``name``, display ``label``, column position ``order`` in the
    tables, whether it has architecture weights (``has_alphas``), its ``sampling`` kind
    (:data:`SAMPLINGS`), the paper it implements (``reference``) and ``step_cost``, the time
    of one of its steps relative to DARTS-1st's (``benchmarks/step_speed.py``, one leaf, CPU;
    the Slurm time limit of its search jobs scales with it), and ``own_hparams``, the
    hyperparameters that are its own (another algorithm's jobs neither read them nor rerun
    when they change)."""

    name: str
    label: str
    order: int
    has_alphas: bool
    sampling: str
    reference: str
    step_cost: float = 1.0
    own_hparams: tuple[str, ...] = ()
    """The ``search.hparams`` keys only this algorithm (and others that list them) reads."""

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"algorithm {self.name}: unknown sampling {self.sampling!r}; known: {SAMPLINGS}")

    @property
    def samples_paths(self) -> bool:
        """True when each step trains single-op paths (only the sampled ops run)."""
        return self.sampling in ("path", "uniform")


CATALOG: dict[str, AlgorithmInfo] = {info.name: info for info in (
    AlgorithmInfo("darts1", "DARTS-1st", 0, True, "mixture",
                  "Liu, Simonyan & Yang, DARTS: Differentiable architecture search (ICLR 2019), first order"),
    AlgorithmInfo("darts2", "DARTS-2nd", 1, True, "mixture",
                  "Liu, Simonyan & Yang, DARTS: Differentiable architecture search (ICLR 2019), second order",
                  step_cost=3.0),
    AlgorithmInfo("darts_minus", "DARTS-", 2, True, "mixture",
                  "Chu et al., DARTS-: Robustly stepping out of performance collapse without indicators (ICLR 2021)",
                  step_cost=1.1,
                  own_hparams=('aux_skip',)),
    AlgorithmInfo("snas", "SNAS", 3, True, "relaxed",
                  "Xie, Zheng, Liu & Lin, SNAS: Stochastic neural architecture search (ICLR 2019)", step_cost=1.1,
                  own_hparams=('temperature', 'validation')),
    AlgorithmInfo("dsnas", "DSNAS", 4, True, "path",
                  "Hu et al., DSNAS: Direct neural architecture search without parameter retraining (CVPR 2020)",
                  step_cost=0.4,
                  own_hparams=('fix_threshold', 'validation')),
    AlgorithmInfo("gdas", "GDAS", 5, True, "path",
                  "Dong & Yang, Searching for a robust neural architecture in four GPU hours (CVPR 2019)",
                  step_cost=0.5,
                  own_hparams=('gdas_temperature', 'validation')),
    AlgorithmInfo("drnas", "DrNAS", 6, True, "dirichlet",
                  "Chen et al., DrNAS: Dirichlet neural architecture search (ICLR 2021)", step_cost=0.9),
    AlgorithmInfo("rsps", "RSPS", 7, False, "uniform",
                  "Li & Talwalkar, Random search and reproducibility for neural architecture search (UAI 2019)",
                  step_cost=0.4,
                  own_hparams=('rsps_samples',)),
)}
"""Every algorithm by config name, in the tables' column order."""

OWN_HPARAMS: frozenset[str] = frozenset(k for info in CATALOG.values() for k in info.own_hparams)
"""Every key some algorithm lists as its own."""

ALGORITHM_NAMES: tuple[str, ...] = tuple(sorted(CATALOG, key=lambda n: CATALOG[n].order))
"""Config names in the tables' column order."""


def algorithm_info(name: str) -> AlgorithmInfo:
    """The catalog entry of ``name``; the error lists the known names."""
    if name not in CATALOG:
        raise ValueError(f"unknown search algorithm {name!r}; known: {', '.join(ALGORITHM_NAMES)}")
    return CATALOG[name]


def algorithm_hparams(hparams: dict, per_algorithm: dict | None, name: str) -> dict:
    """The search hyperparameters of algorithm ``name``: the shared ``hparams`` with the entries
    of ``per_algorithm[name]`` (config ``search.per_algorithm``, e.g. ``{rsps: {epochs: 50}}``)
    on top, without the other algorithms' own keys (:attr:`AlgorithmInfo.own_hparams`), keys
    sorted: what a search job of ``name`` reads, the same whatever order the config files
    list them in. The result is a new dict; the inputs are not changed."""
    override = (per_algorithm or {}).get(name) or {}
    unknown = sorted(set(override) - set(hparams))
    if unknown:
        raise ValueError(f"config search.per_algorithm.{name}: {', '.join(unknown)} not in search.hparams; "
                         "only hyperparameters that search.hparams sets can be overridden per algorithm")
    others = OWN_HPARAMS - set(algorithm_info(name).own_hparams)
    merged = {**hparams, **override}
    return {k: merged[k] for k in sorted(merged) if k not in others}


def search_runtime_minutes(name: str, base_minutes: int = 24 * 60) -> int:
    """Time limit of a search job of algorithm ``name``: ``base_minutes`` (DARTS-1st's) scaled by
    its ``step_cost``, never below the base (a cheap step may still run 50 epochs)."""
    return int(base_minutes * max(1.0, algorithm_info(name).step_cost))

"""NAS-Bench-201 lookup from the shipped test-accuracy table.

The table (``resources/nb201/nb201_test_acc.parquet``) has one row per
architecture in benchmark index order: ``index``, ``arch_str`` (benchmark
string), ``unique_str`` (isomorphism-canonical form) and test accuracy (%)
after 200 epochs on ``cifar10``, ``cifar100`` and ``imagenet16_120``.

Every table is checked when it is loaded (:func:`validate_table`). A missing accuracy
(NaN) is allowed only in a table that says so: one built from the official benchmark file
(:mod:`fewshotnas.bench.api`) has ``<dataset>_seeds`` columns, and NaN there is allowed
exactly where the seed count is 0 (the benchmark did not evaluate it). The shipped table
and CSV conversions have every accuracy.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from fewshotnas.space import NUM_ARCHS, NUM_EDGES, OpMask, genotype_from_str, genotype_to_str

BENCH_DATASETS = ("cifar10", "cifar100", "imagenet16_120")
CSV_COLUMNS = {
    "CIFAR10TestAccuracy200Epochs": "cifar10",
    "CIFAR100TestAccuracy200Epochs": "cifar100",
    "ImageNetTestAccuracy200Epochs": "imagenet16_120",
    "ArchitectureString": "arch_str",
    "UniqueString": "unique_str",
}
TABLE_NAME = "nb201_test_acc.parquet"
TABLE_COLUMNS = ("index", "arch_str", "unique_str", *BENCH_DATASETS)
"""The columns every lookup table has (the API-built one adds ``<dataset>_valid``/``_seeds``)."""
ARCH_ORDER_SHA256 = "83abc799e45cf34e9d2163654668ab998b9a54d01c39e72ca1f71f2cdf356d84"
"""SHA-256 of the 15,625 benchmark strings in NAS-Bench-201's index order, joined by newlines:
the benchmark's index ↔ architecture map (the same in the official file and its CSV export)."""
ACCURACY_DECIMALS = 3
"""The benchmark's precision: its accuracies are means over 1–3 seeds of accuracies on
6,000–10,000 test images (steps of 1/300 % or coarser), stored with float noise. Rounded to 3
decimals the shipped table keeps every distinct value (as many as at 4 or 5 decimals); at 2
it merges thousands."""


class BenchmarkTableError(ValueError):
    """A lookup table whose content is not NAS-Bench-201's (corrupt, permuted, rescaled …)."""


def _fix() -> str:
    return (f"restore the shipped table with `git checkout -- resources/nb201/{TABLE_NAME}`, rebuild it from the "
            f"benchmark (`fewshotnas nb201-convert CSV OUT`, or benchmark.api_file), or point benchmark.table "
            f"elsewhere")


def _problem(source: str | Path, problem: str) -> BenchmarkTableError:
    return BenchmarkTableError(f"NB201 table {source}: {problem}; {_fix()}")


def _check_arch_strings(arch: pd.Series, source: str | Path) -> None:
    """The benchmark strings are NAS-Bench-201's, in its index order (the digest); otherwise
    say what is wrong: missing, duplicated, not benchmark strings, or rows permuted."""
    if arch.isna().any():
        raise _problem(source, f"arch_str is missing in {int(arch.isna().sum())} rows (first: row "
                               f"{int(np.flatnonzero(arch.isna().to_numpy())[0])})")
    strings = arch.astype(str).tolist()
    if hashlib.sha256("\n".join(strings).encode()).hexdigest() == ARCH_ORDER_SHA256:
        return
    for row, arch_str in enumerate(strings):
        try:
            canonical = genotype_to_str(genotype_from_str(arch_str))
        except ValueError as err:
            raise _problem(source, f"row {row}: arch_str {arch_str[:60]!r} is not a NAS-Bench-201 benchmark string "
                                   f"({err}); are columns swapped?") from None
        if canonical != arch_str:
            raise _problem(source, f"row {row}: arch_str {arch_str!r} is not in canonical form ({canonical!r})")
    duplicated = arch.duplicated(keep=False).to_numpy()
    if duplicated.any():
        rows = np.flatnonzero(duplicated)
        first = strings[rows[0]]
        same = [int(r) for r in rows if strings[r] == first][:3]
        raise _problem(source, f"arch_str has {int(arch.duplicated().sum())} duplicate strings ({first!r} in rows "
                               f"{', '.join(map(str, same))})")
    raise _problem(source, "its rows are not in NAS-Bench-201's index order (the architecture strings are the "
                           "benchmark's, but permuted), so an index would name another architecture")


def _check_accuracies(frame: pd.DataFrame, source: str | Path) -> None:
    """Accuracies are floats in [0, 100] (%, not fractions), NaN only where ``<dataset>_seeds``
    is 0, and the datasets are not swapped (per architecture CIFAR-10 > CIFAR-100 >
    ImageNet16-120 for most architectures: 10, 100 and 120 classes)."""
    for dataset in BENCH_DATASETS:
        acc = frame[dataset].to_numpy()
        missing = np.isnan(acc)
        seeds = f"{dataset}_seeds"
        if seeds in frame:
            unexplained = missing & (frame[seeds].to_numpy() != 0)
            if unexplained.any():
                raise _problem(source, f"{dataset} is NaN in {int(unexplained.sum())} rows whose {seeds} is not 0 "
                                       f"(first: row {int(np.flatnonzero(unexplained)[0])})")
        elif missing.any():
            raise _problem(source, f"{dataset} is NaN in {int(missing.sum())} rows (first: row "
                                   f"{int(np.flatnonzero(missing)[0])}); only a table with a {seeds} column (built "
                                   "from the benchmark file) may lack accuracies")
        known = acc[~missing]
        if known.size == 0:
            continue
        bad = ~((known >= 0) & (known <= 100))
        if bad.any():
            rows = np.flatnonzero(~missing)[bad]
            raise _problem(source, f"{dataset} accuracy {float(known[bad][0]):g} in row {int(rows[0])} is outside "
                                   f"[0, 100] ({int(bad.sum())} rows)")
        if known.max() <= 1.0:
            raise _problem(source, f"{dataset} accuracies are all ≤ 1 (max {known.max():.4g}): fractions, not "
                                   "percentages; multiply them by 100")
    for higher, lower in zip(BENCH_DATASETS, BENCH_DATASETS[1:]):
        a, b = frame[higher].to_numpy(), frame[lower].to_numpy()
        both = ~np.isnan(a) & ~np.isnan(b)
        if both.any() and np.mean(a[both] > b[both]) < 0.5:
            raise _problem(source, f"{higher} accuracies are below {lower}'s for {np.mean(a[both] <= b[both]):.0%} "
                                   f"of the architectures (NAS-Bench-201 has them above): are {higher} and {lower} "
                                   "swapped?")


def validate_table(frame: pd.DataFrame, source: str | Path) -> None:
    """Check a lookup table against NAS-Bench-201: the columns :data:`TABLE_COLUMNS` with their
    types (``index`` and ``<dataset>_seeds`` integers, strings, float accuracies), 15,625 rows,
    ``index`` = row number, the benchmark's strings in its index order, accuracies as above.
    Raises :class:`BenchmarkTableError`, one line naming the problem and the fix. Vectorised:
    a valid table costs a few milliseconds."""
    missing = [c for c in TABLE_COLUMNS if c not in frame.columns]
    if missing:
        raise _problem(source, f"columns {missing} missing (it has {list(frame.columns)})")
    if len(frame) != NUM_ARCHS:
        raise _problem(source, f"{len(frame)} rows, expected {NUM_ARCHS} (one per architecture)")
    integers = ["index", *(f"{d}_seeds" for d in BENCH_DATASETS if f"{d}_seeds" in frame)]
    for column in integers:
        if not pd.api.types.is_integer_dtype(frame[column]):
            raise _problem(source, f"column {column} is {frame[column].dtype}, expected integers; are columns swapped?")
    for column in BENCH_DATASETS:
        if not pd.api.types.is_float_dtype(frame[column]):
            raise _problem(source, f"column {column} is {frame[column].dtype}, expected float accuracies (%); are "
                                   "columns swapped?")
    for column in ("arch_str", "unique_str"):
        if not pd.api.types.is_string_dtype(frame[column]):  # string dtype, or objects that are all strings
            raise _problem(source, f"column {column} is {frame[column].dtype}, expected strings; are columns swapped?")
    index = frame["index"].to_numpy()
    if not np.array_equal(index, np.arange(NUM_ARCHS)):
        row = int(np.flatnonzero(index != np.arange(NUM_ARCHS))[0])
        raise _problem(source, f"row {row} has index {int(index[row])}: the rows must be in index order "
                               f"0..{NUM_ARCHS - 1} (sort them by index)")
    _check_arch_strings(frame["arch_str"], source)
    _check_accuracies(frame, source)


def default_table_path() -> Path:
    """``$FEWSHOTNAS_NB201`` if set, else the table shipped in the repository's ``resources/nb201``."""
    env = os.environ.get("FEWSHOTNAS_NB201")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "resources" / "nb201" / TABLE_NAME


def convert_csv(csv_path: str | Path) -> pd.DataFrame:
    """The benchmark CSV export as the compact typed table, checked by :func:`validate_table`."""
    raw = pd.read_csv(csv_path)
    missing = set(CSV_COLUMNS) - set(raw.columns)
    if missing:
        raise ValueError(f"{csv_path}: columns {sorted(missing)} missing")
    df = raw.rename(columns=CSV_COLUMNS)[list(CSV_COLUMNS.values())]
    df.insert(0, "index", np.arange(len(df), dtype=np.int64))
    df = df.astype({"arch_str": "string", "unique_str": "string", **{d: "float64" for d in BENCH_DATASETS}})
    validate_table(df, csv_path)
    return df


class NB201Table:
    """Lookups in the NB201 test-accuracy table; all genotypes as benchmark strings or op tuples."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_table_path()
        if not self.path.is_file():
            raise FileNotFoundError(
                f"NB201 table {self.path} not found. It ships with the project: restore it with "
                f"`git checkout -- resources/nb201/{TABLE_NAME}`, or rebuild it from the benchmark's CSV export with "
                f"`fewshotnas nb201-convert CSV {self.path}` (set $FEWSHOTNAS_NB201 or benchmark.table to use another)"
            )
        try:
            self.frame = pd.read_parquet(self.path)
        except Exception as err:  # truncated or not Parquet
            raise ValueError(f"NB201 table {self.path} is unreadable ({type(err).__name__}); restore it with "
                             f"`git checkout -- resources/nb201/{TABLE_NAME}`") from err
        validate_table(self.frame, self.path)
        self._index = {s: i for i, s in enumerate(self.frame["arch_str"].astype(str))}
        self._ops: np.ndarray | None = None

    def index_of(self, arch: str | tuple[int, ...]) -> int:
        """Benchmark index of a genotype or benchmark string."""
        arch_str = arch if isinstance(arch, str) else genotype_to_str(arch)
        arch_str = genotype_to_str(genotype_from_str(arch_str))  # validates and normalises
        return self._index[arch_str]

    def arch_str(self, index: int) -> str:
        if not 0 <= index < NUM_ARCHS:
            raise IndexError(f"benchmark index must lie in 0..{NUM_ARCHS - 1}, got {index}")
        return str(self.frame["arch_str"].iat[index])

    def genotype(self, index: int) -> tuple[int, ...]:
        return genotype_from_str(self.arch_str(index))

    def accuracy(self, arch: str | tuple[int, ...] | int, dataset: str) -> float:
        """Test accuracy (%) of an architecture (index, string or genotype) on ``dataset``."""
        self._check_dataset(dataset)
        index = arch if isinstance(arch, (int, np.integer)) else self.index_of(arch)
        return float(self.frame[dataset].iat[int(index)])

    def accuracies(self, arch_strs: pd.Series | list[str], dataset: str) -> np.ndarray:
        """Vectorised :meth:`accuracy` over benchmark strings."""
        self._check_dataset(dataset)
        idx = [self._index[str(s)] for s in arch_strs]
        return self.frame[dataset].to_numpy()[idx]

    def op_matrix(self) -> np.ndarray:
        """(15625, 6) op indices of every architecture, in index order."""
        if self._ops is None:
            self._ops = np.array([genotype_from_str(s) for s in self.frame["arch_str"].astype(str)], dtype=np.int64)
        return self._ops

    def in_mask(self, mask: OpMask) -> np.ndarray:
        """Boolean (15625,) membership of every architecture in the sub-space ``mask``."""
        allowed = mask.to_array()
        ops = self.op_matrix()
        return np.all(allowed[np.arange(NUM_EDGES), ops], axis=1)

    @staticmethod
    def _check_dataset(dataset: str) -> None:
        if dataset not in BENCH_DATASETS:
            raise ValueError(f"unknown benchmark dataset {dataset!r}; known: {', '.join(BENCH_DATASETS)}")


@lru_cache(maxsize=4)
def load_table(path: str | None = None) -> NB201Table:
    """Cached :class:`NB201Table`."""
    return NB201Table(path)


"""NAS-Bench-201 lookup from the shipped test-accuracy table.

The table (``resources/nb201/nb201_test_acc.parquet``) has one row per
architecture in benchmark index order: ``index``, ``arch_str`` (benchmark
string), ``unique_str`` (isomorphism-canonical form) and test accuracy (%)
after 200 epochs on ``cifar10``, ``cifar100`` and ``imagenet16_120``.
"""

from __future__ import annotations

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


def default_table_path() -> Path:
    """``$FEWSHOTNAS_NB201`` if set, else the table shipped in the repository's ``resources/nb201``."""
    env = os.environ.get("FEWSHOTNAS_NB201")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "resources" / "nb201" / TABLE_NAME


def convert_csv(csv_path: str | Path) -> pd.DataFrame:
    """The benchmark CSV export as the compact typed table (checks row count and strings)."""
    raw = pd.read_csv(csv_path)
    missing = set(CSV_COLUMNS) - set(raw.columns)
    if missing:
        raise ValueError(f"{csv_path}: columns {sorted(missing)} missing")
    df = raw.rename(columns=CSV_COLUMNS)[list(CSV_COLUMNS.values())]
    if len(df) != NUM_ARCHS or df["arch_str"].nunique() != NUM_ARCHS:
        raise ValueError(f"{csv_path}: expected {NUM_ARCHS} distinct architectures, got {len(df)} rows")
    for s in df["arch_str"]:
        if genotype_to_str(genotype_from_str(s)) != s:
            raise ValueError(f"{csv_path}: architecture string {s!r} does not round-trip")
    df.insert(0, "index", np.arange(NUM_ARCHS, dtype=np.int64))
    return df.astype({"arch_str": "string", "unique_str": "string", **{d: "float64" for d in BENCH_DATASETS}})


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
        if len(self.frame) != NUM_ARCHS:
            raise ValueError(f"{self.path} has {len(self.frame)} rows, expected {NUM_ARCHS}")
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


"""Faults in the benchmark's files: a crafted official-format ``.pth`` (``benchmark.api_file``)
and corrupt lookup tables (``benchmark.table``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import RunsCode  # noqa: E402  (shared crafted-pickle payload)

from fewshotnas.bench import NB201Table
from fewshotnas.bench.api import BenchmarkFileError, load_api, read_benchmark_file
from fewshotnas.bench.nb201 import BenchmarkTableError
from fewshotnas.cli import main

pytestmark = pytest.mark.fault


def official_shape(archs: list[str]) -> dict:
    """The dict the official file holds, with no architecture evaluated."""
    return {"meta_archs": archs, "arch2infos": {}, "evaluated_indexes": []}


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_crafted_benchmark_file_runs_no_code(tmp_path, nb201, legacy):
    marker, path = tmp_path / "pwned", tmp_path / "NAS-Bench-201-crafted.pth"
    payload = {**official_shape(list(nb201.frame["arch_str"].astype(str))), "evil": RunsCode(marker)}
    torch.save(payload, path, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(BenchmarkFileError, match=r"NAS-Bench-201-crafted\.pth: refused to load posix\.system") as err:
        load_api(path)
    assert not marker.exists()
    assert len(str(err.value).splitlines()) == 1 and "official file" in str(err.value)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_benchmark_file_with_numpy_scalars_loads(tmp_path, legacy):
    """The official file stores some numbers as numpy scalars: those load, in either torch format."""
    path = tmp_path / "b.pth"
    data = {"params": np.float64(1.5), "n": np.int64(3), "acc": {"x@1": np.float32(0.5)}, "t": torch.ones(2)}
    torch.save(data, path, _use_new_zipfile_serialization=not legacy)
    back = read_benchmark_file(path)
    assert back["params"] == 1.5 and back["n"] == 3 and back["acc"]["x@1"] == 0.5 and back["t"].sum() == 2


def test_object_arrays_and_unknown_classes_are_refused(tmp_path):
    path = tmp_path / "b.pth"
    torch.save({"x": np.array([1, 2])}, path)  # arrays are not in the official format
    with pytest.raises(BenchmarkFileError, match=r"b\.pth: refused to load numpy"):
        read_benchmark_file(path)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04garbage", b"not a pickle"], ids=["empty", "zip", "text"])
def test_unreadable_benchmark_file_names_file_and_fix(tmp_path, content):
    path = tmp_path / "b.pth"
    path.write_bytes(content)
    with pytest.raises(BenchmarkFileError, match=r"b\.pth.*official") as err:
        load_api(path)
    assert len(str(err.value).splitlines()) == 1


def test_benchmark_file_without_its_keys(tmp_path):
    path = tmp_path / "b.pth"
    torch.save({"meta_archs": []}, path)
    with pytest.raises(BenchmarkFileError, match=r"keys \['arch2infos', 'evaluated_indexes'\] missing"):
        load_api(path)


def permuted(frame):
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


def two_rows_exchanged(frame):
    out = frame.copy()
    out.loc[[3, 4], "arch_str"] = out.loc[[4, 3], "arch_str"].to_numpy()
    return out


def with_value(column, row, value):
    def corrupt(frame):
        out = frame.copy()
        out.loc[row, column] = value
        return out
    return corrupt


def swapped(a, b):
    return lambda frame: frame.rename(columns={a: b, b: a})


def api_format(seeds_where_nan: int):
    """The API-built layout (``<dataset>_seeds``), cifar10 of row 9 missing, with the given seed count there."""
    def corrupt(frame):
        out = frame.assign(**{f"{d}_seeds": 3 for d in ("cifar10", "cifar100", "imagenet16_120")})
        out.loc[9, "cifar10"] = float("nan")
        out.loc[9, "cifar10_seeds"] = seeds_where_nan
        return out
    return corrupt


TABLE_CORRUPTIONS = [
    ("permuted rows", permuted, r"row 0 has index \d+: the rows must be in index order"),
    ("permuted rows, index renumbered", lambda f: permuted(f).assign(index=np.arange(len(f))),
     r"not in NAS-Bench-201's index order"),
    ("two strings exchanged", two_rows_exchanged, r"not in NAS-Bench-201's index order"),
    ("duplicate strings", lambda f: with_value("arch_str", 7, f.loc[5, "arch_str"])(f),
     r"arch_str has 1 duplicate strings \('.*' in rows 5, 7\)"),
    ("accuracy 150", with_value("cifar10", 11, 150.0), r"cifar10 accuracy 150 in row 11 is outside \[0, 100\]"),
    ("accuracy -5", with_value("cifar100", 12, -5.0), r"cifar100 accuracy -5 in row 12 is outside \[0, 100\]"),
    ("accuracy inf", with_value("imagenet16_120", 13, float("inf")), r"imagenet16_120 accuracy inf in row 13"),
    ("scaled by 1/100", lambda f: f.assign(cifar10=f["cifar10"] / 100),
     r"cifar10 accuracies are all ≤ 1 \(max 0\.9437\): fractions, not percentages; multiply them by 100"),
    ("cifar10 and cifar100 swapped", swapped("cifar10", "cifar100"), r"are cifar10 and cifar100 swapped\?"),
    ("cifar100 and imagenet swapped", swapped("cifar100", "imagenet16_120"),
     r"are cifar100 and imagenet16_120 swapped\?"),
    ("arch_str and unique_str swapped", swapped("arch_str", "unique_str"),
     r"row 0: arch_str '\(0\)@.*' is not a NAS-Bench-201 benchmark string"),
    ("index and cifar10 swapped", swapped("index", "cifar10"), r"column index is float64, expected integers"),
    ("accuracies as text", lambda f: f.assign(cifar10=f["cifar10"].astype(str)),
     r"column cifar10 is .*, expected float accuracies"),
    ("column missing", lambda f: f.drop(columns="cifar100"), r"columns \['cifar100'\] missing"),
    ("rows missing", lambda f: f.head(10), r"10 rows, expected 15625"),
    ("NaN in the shipped layout", with_value("cifar10", 9, float("nan")),
     r"cifar10 is NaN in 1 rows \(first: row 9\); only a table with a cifar10_seeds column"),
    ("NaN where seeds say evaluated", api_format(seeds_where_nan=2),
     r"cifar10 is NaN in 1 rows whose cifar10_seeds is not 0"),
]


@pytest.mark.parametrize("corrupt, message", [c[1:] for c in TABLE_CORRUPTIONS], ids=[c[0] for c in TABLE_CORRUPTIONS])
def test_corrupt_lookup_table_is_refused_with_the_fix(tmp_path, nb201, corrupt, message):
    path = tmp_path / "table.parquet"
    corrupt(nb201.frame.copy()).to_parquet(path)
    with pytest.raises(BenchmarkTableError, match=message) as err:
        NB201Table(path)
    text = str(err.value)
    assert len(text.splitlines()) == 1 and str(path) in text and "git checkout -- resources/nb201" in text


def test_missing_accuracies_where_the_table_says_so_load(tmp_path, nb201):
    path = tmp_path / "table.parquet"
    api_format(seeds_where_nan=0)(nb201.frame.copy()).to_parquet(path)
    table = NB201Table(path)
    assert np.isnan(table.accuracy(9, "cifar10")) and table.accuracy(10, "cifar10") == nb201.accuracy(10, "cifar10")


def test_info_on_a_permuted_table_is_an_error_not_another_architecture(tmp_path, nb201, capsys):
    path = tmp_path / "table.parquet"
    permuted(nb201.frame.copy()).assign(index=np.arange(15625)).to_parquet(path)
    assert main(["info", "1", "--table", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "index order" in captured.err and len(captured.err.strip().splitlines()) == 1


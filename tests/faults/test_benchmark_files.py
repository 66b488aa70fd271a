"""Faults in the benchmark's files: a crafted official-format ``.pth`` (``benchmark.api_file``)
and corrupt lookup tables (``benchmark.table``)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from fewshotnas.bench.api import BenchmarkFileError, load_api, read_benchmark_file

pytestmark = pytest.mark.fault


class RunsCode:
    """Unpickling this runs a shell command (what a crafted file does)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


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

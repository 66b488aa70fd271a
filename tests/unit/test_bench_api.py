"""The lookup table built from an official-format NAS-Bench-201 file, made here with the
benchmark package's own classes (its API accepts the dict the file holds)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fewshotnas.bench import NB201Table
from fewshotnas.bench.api import check_against, load_api, table_from_api

api_utils = pytest.importorskip("nas_201_api.api_utils", reason="needs the nas-bench-201 package (test extra)")

EPOCHS = 2


def trial(dataset: str, seed: int, evals: dict[str, float]) -> api_utils.ResultsCount:
    """One training run: final accuracies ``evals`` (set name → %), other epochs 1 point lower."""
    result = api_utils.ResultsCount(dataset, None, {e: 50.0 for e in range(EPOCHS)}, {e: 1.0 for e in range(EPOCHS)},
                                    0.1, 10.0, {}, seed, EPOCHS, None)
    accs = {f"{name}@{e}": value - (e != EPOCHS - 1) for name, value in evals.items() for e in range(EPOCHS)}
    result.update_eval(accs, {k: 0.5 for k in accs}, {k: 1.0 for k in accs})
    return result


def arch_results(index: int, arch_str: str, base: float) -> dict:
    """An architecture evaluated with two seeds on CIFAR-10 and one on CIFAR-100 (no ImageNet)."""
    res = api_utils.ArchResults(index, arch_str)
    for seed, shift in ((777, 0.0), (888, 1.0)):
        res.update("cifar10-valid", seed, trial("cifar10-valid", seed, {"x-valid": base + shift}))
        res.update("cifar10", seed, trial("cifar10", seed, {"ori-test": base + 2 + shift}))
    res.update("cifar100", 777, trial("cifar100", 777, {"x-valid": base - 20, "x-test": base - 21}))
    return res.state_dict()


@pytest.fixture(scope="module")
def benchmark_file(tmp_path_factory, nb201):
    archs = list(nb201.frame["arch_str"].astype(str))
    evaluated = {5: 80.0, 123: 90.0}
    data = {"meta_archs": archs, "evaluated_indexes": sorted(evaluated),
            "arch2infos": {i: {"less": arch_results(i, archs[i], b), "full": arch_results(i, archs[i], b)}
                           for i, b in evaluated.items()}}
    path = tmp_path_factory.mktemp("nb201") / "NAS-Bench-201-test.pth"
    torch.save(data, path)
    return path


def test_table_from_official_api(benchmark_file, nb201, tmp_path):
    table = table_from_api(load_api(benchmark_file))
    assert len(table) == 15625 and list(table["arch_str"]) == list(nb201.frame["arch_str"].astype(str))
    row = table.set_index("index").loc[123]
    # means over the two seeds: valid (90 + 91) / 2, test (92 + 93) / 2
    assert row["cifar10_valid"] == pytest.approx(90.5) and row["cifar10"] == pytest.approx(92.5)
    assert row["cifar10_seeds"] == 2 and row["cifar100_seeds"] == 1
    assert row["cifar100_valid"] == pytest.approx(70.0) and row["cifar100"] == pytest.approx(69.0)
    assert math.isnan(row["imagenet16_120"]) and row["imagenet16_120_seeds"] == 0
    missing = table.set_index("index").loc[0]
    assert math.isnan(missing["cifar10"]) and missing["cifar10_seeds"] == 0
    # the shipped table's reader takes the built one
    path = tmp_path / "built.parquet"
    table.to_parquet(path)
    built = NB201Table(path)
    assert built.accuracy(123, "cifar10") == pytest.approx(92.5)
    assert set(nb201.frame.columns) <= set(table.columns)
    deltas = check_against(table, nb201.frame)
    assert deltas["cifar10"] == pytest.approx(np.max(np.abs(table.loc[[5, 123], "cifar10"].to_numpy()
                                                             - nb201.frame.loc[[5, 123], "cifar10"].to_numpy())))


def test_api_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="benchmark.api_file"):
        load_api(tmp_path / "missing.pth")
    bad = tmp_path / "bad.pth"
    torch.save([1, 2], bad)
    with pytest.raises(ValueError, match="not a NAS-Bench-201 benchmark file"):
        load_api(bad)


def test_workflow_builds_and_uses_the_api_table(benchmark_file, tmp_path):
    """benchmark.api_file set: rule nb201_from_api builds the table the lookups then read."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import pandas as pd
    import yaml

    root = Path(__file__).resolve().parents[2]
    cfg = yaml.safe_load((root / ".test" / "config" / "config.yaml").read_text())
    cfg["benchmark"]["api_file"] = str(benchmark_file)
    cfg["data"]["download"] = True  # the plan-time data check passes; this test runs no data job
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(cfg))
    base = [sys.executable, "-m", "snakemake", "-s", str(root / "Snakefile"), "--directory", str(tmp_path),
            "--configfile", str(config), "--cores", "1"]
    plan = subprocess.run([*base, "-n"], capture_output=True, text=True, timeout=1200)
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert "nb201_from_api" in plan.stdout and "results/tiny/benchmark/nb201_from_api.parquet" in plan.stdout
    target = "results/tiny/benchmark/nb201_from_api.parquet"
    out = subprocess.run([*base, target], capture_output=True, text=True, timeout=3600,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    table = pd.read_parquet(tmp_path / target)
    assert table.loc[123, "cifar10"] == pytest.approx(92.5) and table["cifar10"].notna().sum() == 2

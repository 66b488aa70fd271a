"""Faults around jobs: a failing job's log says why; `make unlock` does not unlock under a
live run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import fake_set_up_project, start_fake_snakemake

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.fault


def test_failing_job_writes_its_traceback_and_runtime_to_its_log(tmp_path):
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["experiment"] = "fail"
    corrupt = tmp_path / "corrupt-fmnist"  # every file there (so the plan passes), none readable
    corrupt.mkdir()
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (corrupt / stem).write_bytes(b"not an idx file")
    cfg["data"]["roots"]["fashion_mnist"] = str(corrupt)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(cfg))
    target = "results/fail/data/fashion_mnist/prepared.pt"
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory",
                          str(tmp_path), "--configfile", str(config), "--cores", "1", target],
                         capture_output=True, text=True, timeout=1200, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode != 0
    log = (tmp_path / "results/fail/logs/data/fashion_mnist.log").read_text()
    assert "Traceback" in log and "is not an IDX file" in log and "corrupt-fmnist" in log
    assert "device cpu, float32, torch " in log and "threads" in log
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO fewshotnas ", log, re.M), log[:200]  # dated lines
    assert re.search(r"INFO parameters: \{.*\"code\": ", log), log[:400]  # the job's params, one JSON line
    assert not (tmp_path / target).exists()


def test_setup_logging_sends_uncaught_errors_to_the_log(tmp_path):
    code = ("from fewshotnas.io import setup_logging\n"
            f"setup_logging({str(tmp_path / 'job.log')!r})\n"
            "raise ValueError('the reason')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 1
    log = (tmp_path / "job.log").read_text()
    assert "job failed: ValueError: the reason" in log and "Traceback" in log


def test_make_unlock_refuses_while_snakemake_runs(tmp_path):
    """A copy of the Makefile in a project folder whose set-up is already done: `make
    unlock` runs the venv's snakemake only when no Snakemake process works in the folder."""
    if shutil.which("make") is None:
        pytest.fail("make is needed for the README's commands")
    fake_set_up_project(tmp_path)
    live = start_fake_snakemake(tmp_path)
    try:
        refused = subprocess.run(["make", "-s", "unlock"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert refused.returncode != 0
        assert f"refusing to unlock: Snakemake (pid {live.pid}) is still running" in refused.stderr
        assert "unlocked" not in refused.stdout
    finally:
        live.kill()
        live.wait()
    done = subprocess.run(["make", "-s", "unlock"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "unlocked" in done.stdout, done.stderr

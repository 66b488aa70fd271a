"""The workflow as conda users and cluster nodes run it: from an environment holding only
Snakemake, with no numpy, pandas or torch. (The Slurm plugin itself pulls in numpy and
pandas, so it stays out of this environment; torch is never needed to plan.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def snakemake_only(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("snakemake-only") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "snakemake>=9,<10"], capture_output=True,
                         text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr[-2000:]
    for module in ("numpy", "pandas", "torch"):  # the point: no scientific stack in this env
        assert subprocess.run([str(venv / "bin" / "python"), "-c", f"import {module}"], capture_output=True).returncode
    return venv / "bin" / "snakemake"


def run(snakemake: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["FEWSHOTNAS_PLAN_WITHOUT_DATA"] = "1"  # the papers' datasets are not here
    return subprocess.run([str(snakemake), "-s", str(ROOT / "Snakefile"), "--directory", str(ROOT), "--cores", "1",
                           *args], capture_output=True, text=True, timeout=3600, env=env)


@pytest.mark.parametrize("configs", [[], ["--configfile", str(ROOT / "config" / "paper.yaml")]],
                         ids=["default", "paper"])
def test_plan_and_lint_with_snakemake_alone(snakemake_only, configs):
    plan = run(snakemake_only, "-n", "--forceall", *configs)  # --forceall: plan every job even after a run
    assert plan.returncode == 0, (plan.stdout + plan.stderr)[-3000:]
    assert "search_leaf" in plan.stdout or "search_tree" in plan.stdout
    lint = run(snakemake_only, "--lint", *configs)
    assert lint.returncode == 0 and "good condition" in lint.stdout + lint.stderr, (lint.stdout + lint.stderr)[-3000:]
    # --use-conda parses and plans too; only creating the envs needs conda, which this machine lacks
    conda = run(snakemake_only, "-n", "--forceall", "--use-conda", *configs)
    log = conda.stdout + conda.stderr
    assert "No module named" not in log and "Building DAG of jobs" in log
    assert conda.returncode == 0 or "conda info" in log


def test_halving_config_plans():
    """`snakemake -n` plans the §4.3 successive-halving experiment (config/halving.yaml)."""
    env = {**os.environ, "FEWSHOTNAS_PLAN_WITHOUT_DATA": "1"}
    plan = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(ROOT),
                           "--cores", "1", "-n", "--forceall", "--configfile", str(ROOT / "config" / "paper.yaml"),
                           str(ROOT / "config" / "halving.yaml")], capture_output=True, text=True, timeout=1800,
                          env=env)
    log = plan.stdout + plan.stderr
    assert plan.returncode == 0, log[-3000:]
    assert "results/halving/search/cifar10/gradientmatching/snas/seed0/leaf7" in log
    assert "darts1" not in log and "cifar100" not in log

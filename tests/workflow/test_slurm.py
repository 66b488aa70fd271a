"""The workflow through profiles/slurm on a single-node Slurm started on this machine
(tests/workflow/slurm/start-slurm.sh: munge, slurmctld, slurmd, no accounting, one fake GPU).

Slow, and needs root on Debian (it installs and starts the Slurm daemons):
    pytest -m slow tests/workflow/test_slurm.py
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import make_fashion_mnist
from test_workflow import SNAKEMAKE, tiny_config

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_workflow_runs_through_slurm_profile(tmp_path):
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("needs root on Debian to install and start Slurm (not root, or no apt-get here)")
    up = subprocess.run(["bash", str(ROOT / "tests/workflow/slurm/start-slurm.sh")], capture_output=True, text=True,
                        timeout=3600)
    assert up.returncode == 0 and "slurm up" in up.stdout, up.stdout + up.stderr
    cfg = tiny_config(make_fashion_mnist(tmp_path / "fmnist", n_train=100, n_test=20))
    cfg["split"].update(methods=["synflow"], depth=1)
    cfg["search"].update(algorithms=["darts1"], seeds=[0])  # the fewest jobs that cross every kind of rule
    cfg["threads"] = 2  # each job must ask Slurm for 2 CPUs (cpus_per_task = threads)
    cfg["report"]["stage2"].update(selectors=["prune", "valid"], baselines=False)  # the workflow test runs the rest
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(cfg))
    # no slurmdbd here: job states come from squeue, and no account is passed
    cmd = [*SNAKEMAKE, "--directory", str(tmp_path), "--configfile", str(config), "--profile",
           str(ROOT / "profiles/slurm"), "--slurm-status-command", "squeue", "--slurm-no-account",
           "--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "2", "--verbose",
           "results/tiny/tables/fashion_mnist.parquet"]  # data, split, searches, lookups, main table
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)  # catches a hang only
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert "gpu=1" in log  # training/search jobs asked Slurm for a GPU
    # the split level, the synflow tree and the nosplit search (threads: config threads) ask for 2 CPUs
    # each (synflow scores fresh weights: no supernet here); prepare_data has threads: 1
    assert len(re.findall(r"cpus-per-task[= ]2\b", log)) >= 3, log[-4000:]
    table = pd.read_parquet(tmp_path / "results/tiny/tables/fashion_mnist.parquet")
    assert set(table["method"]) == {"synflow", "nosplit"}

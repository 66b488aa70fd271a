"""`snakemake proxies` plans the proxy check (one scoring job per metric, one table job, and the
checked copy of the benchmark table they read) and the default target does not (dry runs on the tiny test config)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import make_fashion_mnist

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]


def plan(work: Path, config: Path, *targets: str) -> dict[str, int]:
    """Rule → job count of a dry run."""
    out = subprocess.run([*SNAKEMAKE, "--directory", str(work), "--configfile", str(config), "-n", "--cores", "2",
                          *targets], capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                         timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    table = (out.stdout + out.stderr).split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


def test_proxies_target_plans_one_job_per_metric_and_stays_out_of_all(tmp_path):
    cfg = yaml.safe_load((ROOT / ".test" / "config" / "config.yaml").read_text())
    cfg["data"]["roots"] = {"fashion_mnist": str(make_fashion_mnist(tmp_path / "fmnist"))}
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(cfg))
    metrics = cfg["report"]["proxies"]["metrics"]
    assert plan(tmp_path, config, "proxies") == {"prepare_data": 1, "benchmark_table": 1,
                                                 "proxy_scores": len(metrics), "proxies_table": 1,
                                                 "proxies": 1}
    default = plan(tmp_path, config)
    assert "proxy_scores" not in default and "proxies_table" not in default
    cfg["report"]["proxies"]["metrics"] = None  # every scalar metric of the schema
    config.write_text(yaml.safe_dump(cfg))
    assert plan(tmp_path, config, "proxies")["proxy_scores"] == 8

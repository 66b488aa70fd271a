"""Interrupting the workflow during leaf search and running it again finishes
without recomputing finished stages, and the interrupted leaf continues from
its resume file."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import yaml
from conftest import make_fashion_mnist
from test_workflow import SNAKEMAKE, tiny_config


def test_interrupted_search_resumes(tmp_path):
    cfg = tiny_config(make_fashion_mnist(tmp_path / "fmnist", n_train=400, n_test=40))
    cfg["split"].update(methods=["synflow"], seeds=[0], weights="trained")  # the supernet is trained and used
    cfg["data"]["subset"] = 400
    cfg["search"]["hparams"].update(epochs=6, batch_size=8)
    cfg["search"].update(algorithms=["snas"], seeds=[0])  # one sampling algorithm: resume restores its RNG too
    cfg["report"]["stage2"].update(selectors=["prune", "valid"], baselines=False)  # the workflow test runs the rest
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(cfg))
    cmd = [*SNAKEMAKE, "--directory", str(tmp_path), "--configfile", str(config), "--cores", "1",
           "--rerun-incomplete", "results/tiny/tables/fashion_mnist.parquet"]  # searches and the main table
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = tmp_path / "results" / "tiny"
    # SIGINT back to its default in the child: a shell that starts pytest in the background
    # ignores SIGINT, and the child (Snakemake) would inherit that
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 1800
    # wait until the supernet is trained and some leaf search is part-way
    while not (list(res.glob("supernet/**/supernet.pt")) and list(res.glob("_resume/search/*/synflow/**/*.pt"))):
        assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
        assert time.time() < deadline, "no search resume file appeared"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does to `make run`
    proc.wait(timeout=600)  # its exit code varies with where the signal lands; what follows is what matters
    supernet = next(res.glob("supernet/**/supernet.pt"))
    before = {p: p.stat().st_mtime_ns for p in [supernet, *res.glob("split/**/*.parquet"),
                                                 *res.glob("search/**/log.parquet")]}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    log = out.stdout + out.stderr
    assert "rule train_supernet" not in log and "rule split_level" not in log
    assert "resuming search at epoch" in log
    for path, mtime in before.items():
        assert path.stat().st_mtime_ns == mtime, f"{path} was recomputed"
    assert (res / "tables" / "fashion_mnist.parquet").is_file()

"""`make unlock` in a checkout folder whose name is shell code: the name is data, nothing runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import wait_for_process_name

pytestmark = pytest.mark.bad_input

ROOT = Path(__file__).resolve().parents[2]
MAKE = ["make", "--no-print-directory"]  # under `make test`, a nested make would print the folder's name


def test_make_unlock_runs_no_code_from_the_folder_name(tmp_path):
    if shutil.which("make") is None:
        pytest.fail("make is needed for the README's commands")
    folder = tmp_path / 'p$(touch PWNED)`touch PWNED2`"q'
    folder.mkdir()
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, folder / name)
    venv_bin = folder / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "snakemake").write_text("#!/bin/sh\necho unlocked\n")
    (venv_bin / "snakemake").chmod(0o755)
    (folder / ".venv" / ".installed").touch()
    hour_ago = time.time() - 3600
    for name in ("Makefile", "pyproject.toml"):  # older than the stamp: no set-up runs
        os.utime(folder / name, (hour_ago, hour_ago))
    live = subprocess.Popen(["bash", "-c", "exec -a snakemake sleep 3600"], cwd=folder)  # killed below
    try:
        wait_for_process_name(live.pid, "snakemake")
        dry = subprocess.run([*MAKE, "-n", "unlock"], cwd=folder, capture_output=True, text=True, timeout=600)
        assert dry.returncode == 0 and "PWNED" not in dry.stdout  # the recipe holds no folder name
        refused = subprocess.run([*MAKE, "-s", "unlock"], cwd=folder, capture_output=True, text=True, timeout=600)
        assert refused.returncode != 0
        assert f"Snakemake (pid {live.pid}) is still running in {folder};" in refused.stderr, refused.stderr
    finally:
        live.kill()
        live.wait()
    done = subprocess.run([*MAKE, "-s", "unlock"], cwd=folder, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "unlocked" in done.stdout, done.stderr
    assert not list(tmp_path.rglob("PWNED*")), list(tmp_path.rglob("PWNED*"))

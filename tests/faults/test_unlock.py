"""`make unlock` in a checkout folder whose name is shell code: the name is data, nothing runs."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import fake_set_up_project, start_fake_snakemake

pytestmark = pytest.mark.bad_input

MAKE = ["make", "--no-print-directory"]  # under `make test`, a nested make would print the folder's name


def test_make_unlock_runs_no_code_from_the_folder_name(tmp_path):
    if shutil.which("make") is None:
        pytest.fail("make is needed for the README's commands")
    folder = tmp_path / 'p$(touch PWNED)`touch PWNED2`"q'
    folder.mkdir()
    fake_set_up_project(folder)
    live = start_fake_snakemake(folder)
    try:
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

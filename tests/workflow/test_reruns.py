"""Reruns follow content, not modification times: on a copy of the workflow whose data and
base supernet stages ran (the tiny config, seconds), a touched script, input or dataset file
plans nothing; a replaced dataset file (even with an old mtime) plans `prepare_data` and what
follows; an edited script (code, not comments) plans its rule again, an edited library
module (code, not docstrings) exactly the rules that import it. Dry runs only after the two real jobs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import make_fashion_mnist, write_idx

pytestmark = pytest.mark.fault

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ["results/tiny/data/fashion_mnist/prepared.pt", "results/tiny/supernet/fashion_mnist/seed0/train_log.parquet"]


def _run(checkout: Path, work: Path, *args: str) -> str:
    """`snakemake` as the README calls it (no --profile: the workflow profile applies)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(checkout / "Snakefile"), "--directory",
                          str(work), "--configfile", str(work / "tiny.yaml"), "--cores", "1", *args, *TARGETS],
                         capture_output=True, text=True, env=env, timeout=1800, cwd=work)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


def planned(checkout: Path, work: Path) -> set[str]:
    """The rules a dry run plans (empty: nothing to be done)."""
    log = _run(checkout, work, "-n")
    if "Nothing to be done" in log:
        return set()
    table = log.split("Job stats:")[1].split("total")[0]
    return {m.group(1) for m in re.finditer(r"^(\w+)\s+\d+\s*$", table, re.M)}


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """A copy of the workflow (so that touching its scripts leaves the checkout alone) and a
    folder where prepare_data and train_supernet have run."""
    base = tmp_path_factory.mktemp("reruns")
    checkout = base / "checkout"
    checkout.mkdir()
    shutil.copy(ROOT / "Snakefile", checkout / "Snakefile")
    for name in ("workflow", "src", "config", "resources", "profiles", "envs"):
        shutil.copytree(ROOT / name, checkout / name, ignore=shutil.ignore_patterns("__pycache__"))
    work = base / "work"
    work.mkdir()
    cfg = yaml.safe_load((ROOT / ".test" / "config" / "config.yaml").read_text())
    cfg["data"]["roots"] = {"fashion_mnist": str(make_fashion_mnist(base / "fmnist", n_train=200, n_test=60))}
    (work / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    _run(checkout, work)
    assert planned(checkout, work) == set()
    return checkout, work, base / "fmnist"


def test_touched_scripts_inputs_and_dataset_files_rerun_nothing(ran):
    checkout, work, fmnist = ran
    time.sleep(1.1)  # mtimes later than every output
    for path in [checkout / "workflow/scripts/prepare_data.py", checkout / "workflow/scripts/train_supernet.py",
                 checkout / "src/fewshotnas/data/splits.py", work / TARGETS[0], *fmnist.iterdir()]:
        path.touch()
    assert planned(checkout, work) == set()


def test_replaced_dataset_file_reruns_prepare_data_and_what_follows(ran):
    checkout, work, fmnist = ran
    labels = fmnist / "train-labels-idx1-ubyte.gz"
    original, stat = labels.read_bytes(), labels.stat()
    write_idx(labels, np.random.default_rng(5).integers(0, 10, 200).astype(np.uint8))
    os.utime(labels, ns=(stat.st_atime_ns, stat.st_mtime_ns - 10**12))  # replaced by an older copy
    try:
        assert planned(checkout, work) == {"prepare_data", "train_supernet"}
    finally:
        labels.write_bytes(original)
        os.utime(labels, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert planned(checkout, work) == set()


def test_edited_script_reruns_its_rule_and_an_edited_comment_nothing(ran):
    checkout, work, _ = ran
    script = checkout / "workflow/scripts/train_supernet.py"
    original = script.read_text()
    script.write_text(original + "# an edit of a comment\n")
    try:
        assert planned(checkout, work) == set()  # comments and docstrings are not behaviour
        script.write_text(original + "_EDIT = 1\n")
        assert planned(checkout, work) == {"train_supernet"}
    finally:
        script.write_text(original)
    assert planned(checkout, work) == set()


def test_library_docstring_edit_reruns_nothing_and_a_code_edit_exactly_its_importers(ran):
    """A docstring fix in a module every stage imports (``files.py``) must not rerun a
    24-hour supernet; a change of code in a module only training imports reruns training."""
    checkout, work, _ = ran
    files = checkout / "src/fewshotnas/files.py"
    loop = checkout / "src/fewshotnas/train/loop.py"
    originals = {p: p.read_text() for p in (files, loop)}
    try:
        text = originals[files]
        files.write_text(text.replace('"""', '"""Edited docstring. ', 1) + "\n# a trailing comment\n")
        assert planned(checkout, work) == set()
        loop.write_text(originals[loop] + "\n_EDIT = 1\n")
        assert planned(checkout, work) == {"train_supernet"}
    finally:
        for path, text in originals.items():
            path.write_text(text)
    assert planned(checkout, work) == set()

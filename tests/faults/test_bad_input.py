"""Bad input from a user: a config or command line that cannot work gets one clear line that
names the key (or flag), what is wrong and the fix, before any work is done."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fewshotnas.bench import NB201Table
from fewshotnas.cli import main
from fewshotnas.configcheck import check_config
from fewshotnas.data import DatasetNotFoundError, prepare_data
from fewshotnas.split import SplitConfig

pytestmark = pytest.mark.bad_input

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
DEFAULT = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def edited(path: str, value):
    cfg = copy.deepcopy(DEFAULT)
    *parents, key = path.split(".")
    node = cfg
    for part in parents:
        node = node[part]
    node[key] = value
    return cfg


CONFIG_CASES = [
    ("search.hparams.batch_size", 5000, r"search\.hparams\.batch_size = 5000 exceeds the 1000 images of each half"),
    ("supernet.train.batch_size", 7000, r"supernet\.train\.batch_size = 7000 exceeds the 2000 images"),
    ("split.metric_batches", 100, r"split\.batch_size × split\.metric_batches = 6400 exceeds the 1000 images"),
    ("split.batch_size", 2000, r"split\.batch_size × split\.metric_batches = 4000 exceeds the 1000 images"),
    ("search.hparams.epochs", 2.0, r"search\.hparams\.epochs: 2\.0 must be an integer \(write 2\)"),
    ("supernet.train.epochs", 2.5, r"supernet\.train\.epochs: 2\.5 is not of type 'integer'"),
    ("split.branching", 6, r"split\.branching: 6 is out of range: allowed 2\.\.5"),
    ("split.branching", [2, 7, 2], r"split\.branching: 7 is out of range: allowed 2\.\.5"),
    ("split.depth", 3.0, r"split\.depth: 3\.0 must be an integer"),
    ("search.hparams.lr", 0, r"search\.hparams\.lr: 0 is out of range: allowed > 0"),
    ("split.methods", ["gradnorm", "nope"], r"split\.methods\.1: 'nope' is not one of"),
    ("search.hparams.momentm", 0.9, r"search\.hparams: Additional properties are not allowed \('momentm'"),
]


@pytest.mark.parametrize("path, value, message", CONFIG_CASES, ids=[f"{p}={v}" for p, v, _ in CONFIG_CASES])
def test_bad_config_gets_one_line(path, value, message):
    problems = check_config(edited(path, value), SCHEMA)
    assert len(problems) == 1 and len(problems[0]) < 260, problems
    assert problems[0].startswith("config ")
    assert re.search(message, problems[0]), problems[0]


def test_good_configs_pass():
    for name in ("config.yaml", "paper.yaml"):
        assert check_config(yaml.safe_load((ROOT / "config" / name).read_text()), SCHEMA) == []


def snakemake_plan(tmp_path: Path, cfg: dict) -> subprocess.CompletedProcess:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(cfg))
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory",
                           str(tmp_path), "--configfile", str(config), "-n", "--cores", "1"],
                          capture_output=True, text=True, timeout=1200, env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.parametrize("path, value, key", [("search.hparams.epochs", 2.0, "search.hparams.epochs"),
                                              ("split.bogus", 1, "split: Additional properties"),
                                              ("search.hparams.batch_size", 5000, "search.hparams.batch_size")])
def test_snakemake_plan_stops_with_a_short_message(tmp_path, path, value, key):
    out = snakemake_plan(tmp_path, edited(path, value))
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert key in text and "bad config" in text
    assert len(text.strip().splitlines()) <= 6, text  # not hundreds of lines of schema
    assert not (tmp_path / "results").exists()


def test_missing_benchmark_table_names_path_and_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"not found\. It ships with the project: restore it with `git "
                                                r"checkout -- resources/nb201/nb201_test_acc\.parquet`"):
        NB201Table(tmp_path / "gone.parquet")
    out = snakemake_plan(tmp_path, edited("benchmark.table", "resources/nb201/gone.parquet"))
    assert out.returncode != 0 and "git checkout -- resources/nb201/nb201_test_acc.parquet" in out.stdout + out.stderr


def test_missing_dataset_names_folder_and_fix(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path)):
        prepare_data("fashion_mnist", tmp_path, subset=10)


def test_split_config_out_of_range_names_the_range():
    with pytest.raises(ValueError, match=r"branching factor at level 2 must lie in 2\.\.5, got 6"):
        SplitConfig(branching=[2, 6, 2])


CLI_CASES = [
    (["score", "--metric", "snip", "--channels", "0", "1"], "--channels: 0 is too small: channels must be ≥ 1"),
    (["score", "--metric", "snip", "--channels", "-3", "1"], "--channels: -3 is too small"),
    (["score", "--metric", "snip", "--batches", "0", "1"], "--batches: 0 is too small"),
    (["score", "--metric", "snip", "--batch-size", "0", "1"], "--batch-size: 0 is too small"),
    (["score", "--metric", "snip", "--batch-size", "1", "1"], "BatchNorm needs two samples"),
    (["score", "--metric", "snip", "--image-size", "2", "1"], "--image-size: 2 is too small"),
    (["score", "--metric", "snip", "--classes", "0", "1"], "--classes: 0 is too small"),
    (["info", "1", "--channels", "0"], "--channels: 0 is too small"),
    (["score", "--metric", "snip", "--device", "cuda", "1"], "CUDA is not available here"),
]


@pytest.mark.parametrize("argv, message", CLI_CASES, ids=[" ".join(a[2:] or a) for a, _ in CLI_CASES])
def test_cli_bad_arguments_get_one_line_and_exit_2(capsys, monkeypatch, argv, message):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same answer on a GPU machine
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's usage errors
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err

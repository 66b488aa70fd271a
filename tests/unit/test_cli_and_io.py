"""The CLI, checkpoints and Parquet writes."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import torch
import yaml

from fewshotnas.cli import main
from fewshotnas.files import (
    CheckpointConfigMismatch,
    CheckpointCorrupt,
    CheckpointFormatError,
    CheckpointMissing,
    config_hash,
    load_checkpoint,
    save_checkpoint,
)
from fewshotnas.io import read_parquet_metadata, write_parquet_atomic


def test_info_by_index_and_string(capsys):
    assert main(["info", "1"]) == 0
    by_index = json.loads(capsys.readouterr().out)
    assert main(["info", by_index["arch_str"]]) == 0
    by_string = json.loads(capsys.readouterr().out)
    assert by_index == by_string
    assert by_index["index"] == 1 and by_index["params"] > 0 and by_index["macs"] * 2 == by_index["flops"]
    assert set(by_index["test_acc"]) == {"cifar10", "cifar100", "imagenet16_120"}
    assert main(["info", "1", "--classes", "100"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] > by_index["params"]


def test_info_bad_input(capsys):
    assert main(["info", "|conv~0|"]) == 2
    assert "error" in capsys.readouterr().err
    assert main(["info", "99999"]) == 2


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "fewshotnas.cli", "info", "0"], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout)["index"] == 0


def test_checkpoint_errors(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint({"format": 1, "config_hash": "abc", "x": torch.ones(2)}, path)
    assert load_checkpoint(path, kind="test", format_version=1, expected_hash="abc")["x"].sum() == 2
    with pytest.raises(CheckpointFormatError, match="format"):
        load_checkpoint(path, kind="test", format_version=2)
    with pytest.raises(CheckpointConfigMismatch, match="configuration"):
        load_checkpoint(path, kind="test", format_version=1, expected_hash="other")
    path.write_bytes(b"garbage")
    with pytest.raises(CheckpointCorrupt, match="corrupt"):
        load_checkpoint(path, kind="test", format_version=1)
    with pytest.raises(CheckpointMissing, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt", kind="test", format_version=1)
    torch.save({"format": 1, "x": torch.ones(2)}, path)  # a torch file without our digest
    with pytest.raises(CheckpointFormatError, match="not a fewshotnas checkpoint"):
        load_checkpoint(path, kind="test", format_version=1)
    assert not list(tmp_path.glob(".*.tmp"))


def test_config_hash_is_order_free():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1}) != config_hash({"a": 2})


def test_parquet_with_provenance(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "s": pd.array(["x", "y"], dtype="string")})
    write_parquet_atomic(df, tmp_path / "t.parquet", {"rule": "test"})
    back = pd.read_parquet(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(back, df)
    meta = read_parquet_metadata(tmp_path / "t.parquet")
    assert meta["rule"] == "test" and "version" in meta


NO_PATH = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|none~2|"


def test_score_cli_json_lines(capsys, fmnist_root):
    from fewshotnas.metrics import MetricContext, get_metric
    from fewshotnas.metrics.proxy import ProxySetup, synthetic_batches
    from fewshotnas.space import OpMask, build_network, genotype_from_str

    args = ["score", "--metric", "snip", "--channels", "4", "--cells", "1", "--batch-size", "8", "--image-size", "8",
            "--data", "noise"]
    assert main([*args, "9930", NO_PATH]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["index"] == 9930 and lines[0]["finite"] and lines[0]["metric"] == "snip"
    assert lines[1]["arch_str"] == NO_PATH
    assert all(line["data"] == "noise" and line["data_root"] is None for line in lines)
    # the same value by hand: seeded fresh network, synthetic batch
    setup = ProxySetup(4, 1, 10, 3, 8, 0)
    batches = synthetic_batches(setup, 1, 8, 0)
    genotype = genotype_from_str(lines[0]["arch_str"])
    torch.manual_seed(0)
    net = build_network(genotype, channels=4, cells_per_stage=1).train()
    ctx = MetricContext(batches, -1, torch.device("cpu"), {})
    assert lines[0]["score"] == pytest.approx(get_metric("snip").fn(net, OpMask.from_genotype(genotype), ctx))
    # a cell with no path from input to output: jacobcov is not finite → null
    assert main(["score", "--metric", "jacobcov", "--channels", "4", "--cells", "1", "--batch-size", "8",
                 "--dataset", "fashion_mnist", "--root", str(fmnist_root), NO_PATH]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["score"] is None and record["finite"] is False
    assert record["data"] == "fashion_mnist" and record["data_root"] == str(fmnist_root)


def test_score_cli_scores_real_images_by_default(capsys, monkeypatch, fmnist_root):
    """Without --data: Debian's Fashion-MNIST (here the tiny files standing in for it), the
    value equal to one computed by hand on those images, not on noise."""
    from fewshotnas import datafiles
    from fewshotnas.data import prepare_data
    from fewshotnas.metrics import MetricContext, get_metric
    from fewshotnas.space import OpMask, build_network, genotype_from_str
    from fewshotnas.split.level import metric_batches

    monkeypatch.setattr(datafiles, "DEBIAN_FASHION_MNIST", str(fmnist_root))
    args = ["score", "--metric", "snip", "--channels", "4", "--cells", "1", "--batch-size", "8", "9930"]
    assert main(args) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["data"] == "fashion_mnist" and record["data_root"] == str(fmnist_root)
    data = prepare_data("fashion_mnist", fmnist_root, subset=16, test_subset=1, seed=0)
    batches = metric_batches(data, 1, 8, 0, torch.device("cpu"))
    genotype = genotype_from_str(record["arch_str"])
    torch.manual_seed(0)
    net = build_network(genotype, channels=4, cells_per_stage=1, in_channels=1).train()
    ctx = MetricContext(batches, -1, torch.device("cpu"), {})
    assert record["score"] == pytest.approx(get_metric("snip").fn(net, OpMask.from_genotype(genotype), ctx))
    assert main([*args, "--data", "noise"]) == 0
    assert json.loads(capsys.readouterr().out)["score"] != pytest.approx(record["score"])


def test_score_cli_falls_back_to_the_configured_dataset(capsys, monkeypatch, tmp_path, fmnist_root):
    from fewshotnas import datafiles

    monkeypatch.setattr(datafiles, "DEBIAN_FASHION_MNIST", str(tmp_path / "not-installed"))
    config = tmp_path / "config.yaml"
    config.write_text(f"datasets: [fashion_mnist]\ndata:\n  roots:\n    fashion_mnist: {fmnist_root}\n")
    args = ["score", "--metric", "synflow", "--channels", "2", "--cells", "1", "--batch-size", "4", "1"]
    assert main([*args, "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)["data_root"] == str(fmnist_root)
    # neither installed nor configured: one line naming the folder and the fix
    config.write_text(f"datasets: [fashion_mnist]\ndata:\n  roots:\n    fashion_mnist: {tmp_path / 'empty'}\n")
    assert main([*args, "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(tmp_path / "not-installed") in err
    assert str(tmp_path / "empty") in err and "apt-get install dataset-fashion-mnist" in err and "--data noise" in err
    assert main([*args, "--config", str(tmp_path / "none.yaml")]) == 2
    assert "apt-get install dataset-fashion-mnist" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [(["--metric", "gradientmatching", "1"], "pairwise"),
                                           (["--metric", "nope", "1"], "unknown metric"),
                                           (["--metric", "lr", "--option", "size=3", "1"], "has no option"),
                                           (["--metric", "snip", "99999"], "")])
def test_score_cli_errors(capsys, monkeypatch, tmp_path, args, message):
    """Bad metrics and architectures fail before any data is looked for (here there is none)."""
    from fewshotnas import datafiles

    monkeypatch.setattr(datafiles, "DEBIAN_FASHION_MNIST", str(tmp_path / "not-installed"))
    assert main(["score", *args, "--config", str(tmp_path / "none.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fewshotnas: error:") and message in err


def test_score_cli_lr_tells_architectures_apart(capsys):
    """#lr on 40 spread-out architectures (synthetic batches): many distinct counts, none
    above the samples counted."""
    archs = [str(i) for i in range(0, 15625, 390)][:40]
    assert main(["score", "--metric", "lr", "--channels", "1", "--cells", "1", "--option", "samples=600",
                 "--option", "repeat=1", "--data", "noise", *archs]) == 0
    scores = [json.loads(line)["score"] for line in capsys.readouterr().out.splitlines()]
    assert len(scores) == 40 and all(1 <= s <= 600 for s in scores)
    assert len(set(scores)) >= 15


def test_parquet_provenance_names_commit_torch_device_and_config(tmp_path):
    import pandas as pd

    from fewshotnas import io

    io.setup_logging(None, device="cpu", config={"experiment": "x", "threads": 1})
    io.write_parquet_atomic(pd.DataFrame({"a": [1]}), tmp_path / "t.parquet", {"rule": "r"})
    meta = io.read_parquet_metadata(tmp_path / "t.parquet")
    assert meta["rule"] == "r" and meta["device"] == "cpu" and meta["torch"].startswith("2.")
    assert meta["config_hash"] == io.config_hash({"experiment": "x", "threads": 1})
    assert yaml.safe_load(meta["config"]) == {"experiment": "x", "threads": 1}  # the resolved config itself
    assert meta["commit"] is None or len(meta["commit"].removesuffix("+dirty")) == 40


def test_info_rounds_to_the_benchmarks_precision(capsys, nb201):
    """The table stores means with float noise (93.66000000000001); ``info`` prints 93.66."""
    from fewshotnas.bench.nb201 import ACCURACY_DECIMALS

    assert repr(nb201.accuracy(1, "cifar10")) != "93.66"  # the noise is in the table
    assert main(["info", "1"]) == 0
    out = capsys.readouterr().out
    assert '"cifar10": 93.66,' in out and json.loads(out)["test_acc"]["cifar10"] == 93.66
    # 3 decimals keep every distinct accuracy of the shipped table (as 5 do); 2 would merge some
    for dataset in ("cifar10", "cifar100", "imagenet16_120"):
        acc = nb201.frame[dataset].to_numpy()
        assert ACCURACY_DECIMALS == 3
        assert len(set(acc.round(3))) == len(set(acc.round(5))) > len(set(acc.round(2)))


def test_info_prints_null_for_a_missing_accuracy(capsys, tmp_path, nb201):
    path = tmp_path / "api.parquet"
    frame = nb201.frame.assign(**{f"{d}_seeds": 3 for d in ("cifar10", "cifar100", "imagenet16_120")})
    frame.loc[1, ["cifar100", "cifar100_seeds"]] = [float("nan"), 0]
    frame.to_parquet(path)
    assert main(["info", "1", "--table", str(path)]) == 0
    out = capsys.readouterr().out
    assert "NaN" not in out
    info = json.loads(out)  # strict JSON
    assert info["test_acc"]["cifar100"] is None and info["test_acc"]["cifar10"] == 93.66


def test_json_lines_are_strict():
    from fewshotnas.cli import json_line

    line = json_line({"score": float("nan"), "x": [float("inf"), 1.5], "n": {"y": float("-inf")}})
    assert json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON {c}")) == {"score": None,
                                                                                      "x": [None, 1.5],
                                                                                      "n": {"y": None}}


def test_version_prints_the_package_version(capsys):
    import fewshotnas
    from fewshotnas.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"fewshotnas {fewshotnas.__version__}"

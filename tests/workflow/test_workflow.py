"""End to end: the whole workflow on a tiny config, then what a second plan and a
changed search hyperparameter make Snakemake do."""

from __future__ import annotations

import base64
import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import make_fashion_mnist

from fewshotnas.io import read_parquet_metadata

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]


def tiny_config(fmnist: Path) -> dict:
    """The tiny workflow config users run with `snakemake --directory .test`, on ``fmnist``."""
    cfg = yaml.safe_load((ROOT / ".test" / "config" / "config.yaml").read_text())
    cfg["data"]["roots"] = {"fashion_mnist": str(fmnist)}
    return cfg


def snakemake(workdir: Path, config: Path, *args: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([*SNAKEMAKE, "--directory", str(workdir), "--configfile", str(config), "--cores", "2",
                          *args], capture_output=True, text=True, env=env, timeout=3600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


def planned_jobs(log: str) -> dict[str, int]:
    """Rule → count from the 'Job stats' table of a dry run ({} when nothing is to be done)."""
    if "Nothing to be done" in log:
        return {}
    table = log.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("workflow")
    cfg = tiny_config(make_fashion_mnist(work / "fmnist", n_train=200, n_test=60))
    config = work / "tiny.yaml"
    config.write_text(yaml.safe_dump(cfg))
    snakemake(work, config)
    return work, cfg, config


def test_outputs_exist_and_read(finished_run):
    work, cfg, _ = finished_run
    res = work / "results" / "tiny"
    table = pd.read_parquet(res / "tables" / "fashion_mnist.parquet")
    assert set(table["method"]) == {"nosplit", "random", "gradientmatching", "synflow"}
    assert set(table["selection"]) == {"benchmark", "val_acc"}
    assert set(table["bench_dataset"]) == {"cifar10"}
    assert table["test_acc_mean"].between(0, 100).all()
    assert (table.loc[table.method != "nosplit", "num_leaves"] == 4).all()
    md = (res / "tables" / "fashion_mnist.md").read_text()
    assert "CIFAR-10" in md and "Fashion-MNIST" in md and "gradient matching" in md and "±" in md
    assert "## Search cost" in md and "CPU-h" in md
    assert md.index("DARTS-1st") < md.index("SNAS") and "no splitting" in md
    runs = pd.read_parquet(res / "tables" / "fashion_mnist_runs.parquet")
    assert len(runs) == (3 * 4 + 1) * 2 * 3  # (methods × leaves + nosplit) × epochs × (darts1 + 2 snas seeds)
    split_runs = runs[runs.method != "nosplit"]
    assert (split_runs["split_seed"] == 0).all() and runs.loc[runs.method == "nosplit", "split_seed"].isna().all()
    synflow_tree = pd.read_parquet(res / "split/fashion_mnist/synflow/seed0/level2/tree.parquet")
    joined = split_runs[split_runs.method == "synflow"].merge(synflow_tree[["leaf", "mask"]], on="leaf")
    assert (joined["leaf_mask"] == joined["mask"]).all() and len(joined) == 4 * 2 * 3
    meta = read_parquet_metadata(res / "tables" / "fashion_mnist_runs.parquet")
    assert meta["torch"] and meta["device"] == "cpu" and len(meta["config_hash"]) == 16 and "commit" in meta
    snas = table[(table.algorithm == "snas")]
    assert (snas["num_seeds"] == 2).all() and (table.loc[table.algorithm == "darts1", "num_seeds"] == 1).all()
    dist = pd.read_parquet(res / "split" / "fashion_mnist" / "split_distance.parquet")
    assert set(dist["method"]) == {"gradientmatching", "synflow", "random"} and set(dist["seed"]) == {0, 1}
    external = dist[(dist.setting == "external") & (dist.level == 0)]
    assert (external["pairs"] == 3 * 3).all() and external["distance"].between(0, 20 / 9).all()
    for name in ("distributions", "leaf_epochs", "split_distance", "halving", "stage1"):
        assert (res / "plots" / "fashion_mnist" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert (res / "plots" / "fashion_mnist" / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
    selection = pd.read_parquet(res / "tables" / "fashion_mnist_selection.parquet")
    assert len(selection) == 3 * (1 + 2) * 4  # split methods × (darts1 + 2 snas seeds) × selectors
    assert (selection["regret"] >= 0).all() and (selection.loc[selection.selector == "oracle", "regret"] == 0).all()
    assert (selection["cut_epochs"] == "1,1,2").all()  # default fractions of a 2-epoch search
    assert "successive halving" in (res / "tables" / "fashion_mnist_selection.md").read_text()
    leaves = pd.read_parquet(res / "tables" / "fashion_mnist_leaves.parquet")
    assert len(leaves) == 3 * 2 * 4 and (leaves.groupby(["method", "split_seed"])["num_archs"].sum() == 15625).all()
    assert (leaves.groupby(["method", "split_seed"])["holds_best"].sum() == 1).all()
    stage1 = pd.read_parquet(res / "tables" / "fashion_mnist_stage1.parquet")
    mass = stage1[stage1.statistic == "mass"]
    assert mass["value"].between(0, 1).all() and mass["baseline"].between(0, 1).all()
    overall = stage1[(stage1.statistic == "kendall") & (stage1.subset == 1.0)]
    searched = runs[(runs.epoch == runs.epoch.max()) & ~runs.disconnected]
    assert len(overall) == len(searched) and overall["value"].between(-1, 1).all()
    tree = pd.read_parquet(res / "split/fashion_mnist/synflow/seed0/level2/tree.parquet")
    assert tree["leaf"].max() == 3 and tree.loc[tree.leaf >= 0, "num_archs"].sum() == 15625
    seed1 = pd.read_parquet(res / "split/fashion_mnist/random/seed1/level2/tree.parquet")  # every split seed grows
    assert seed1.loc[seed1.leaf >= 0, "num_archs"].sum() == 15625
    # search cost: split levels + searches per run, from the benchmark files, in every table
    cost = pd.read_parquet(res / "tables" / "fashion_mnist_cost.parquet")
    assert len(cost) == 4 * 3 and (cost["cost_s"] > 0).all() and (cost["cost_device"] == "cpu").all()
    assert (cost.loc[cost.method == "nosplit", "split_s"] == 0).all() and (cost.loc[cost.method != "nosplit",
                                                                                    "split_s"] > 0).all()
    level_s = sum(pd.read_csv(res / f"benchmarks/split/fashion_mnist/synflow/seed0/level{lv}.tsv", sep="\t")["s"].iat[0]
                  for lv in (1, 2))
    tree_s = pd.read_csv(res / "benchmarks/search/fashion_mnist/synflow/darts1/seed0/fused.tsv", sep="\t")["s"].iat[0]
    one = cost[(cost.method == "synflow") & (cost.algorithm == "darts1")].iloc[0]
    assert one["cost_s"] == pytest.approx(level_s + tree_s)
    for frame in (table, selection, leaves, pd.read_parquet(res / "tables" / "fashion_mnist_two_stage.parquet")):
        assert frame["cost_s"].notna().all() and (frame["cost_device"] == "cpu").all()
    assert (res / "plots" / "fashion_mnist" / "cost.pdf").read_bytes()[:5] == b"%PDF-"
    # the winning run of each cell, and what each leaf keeps
    known = table[table["test_acc_mean"].notna() & (table["num_seeds"] == 1)]
    assert known["best_genotype"].notna().all() and (known["best_leaf"] >= 0).all()
    assert leaves["leaf_mask"].str.fullmatch(r"[01]{5}(-[01]{5}){5}").all() and leaves["ops"].str.startswith("e").all()
    assert yaml.safe_load((res / "config.yaml").read_text())["experiment"] == "tiny"
    assert not list(res.rglob("_resume/**/*.pt"))  # resume files are removed once a stage finishes
    assert (res / "logs" / "search").is_dir() and (res / "benchmarks" / "supernet").is_dir()


def test_two_stage_tables_and_baselines(finished_run):
    """All five Stage-2 selectors on every leaf; the prune column equals the main table; the
    baselines' four supernets with every sampling selector and perturb; both figures."""
    work, _, _ = finished_run
    res = work / "results" / "tiny"
    two = pd.read_parquet(res / "tables" / "fashion_mnist_two_stage.parquet")
    assert set(two["selector"]) == {"prune", "valid", "synflow", "jacobcov", "perturb"}
    assert len(two) == 4 * 3 * 5  # methods × (darts1 + 2 snas seeds) × selectors
    assert two["defined"].all() and two["test_err"].between(0, 100).all()
    main = pd.read_parquet(res / "tables" / "fashion_mnist.parquet")
    main = main[main.selection == "benchmark"].set_index(["method", "algorithm"])["test_acc_mean"]
    prune = two[two.selector == "prune"].groupby(["method", "algorithm"])["test_acc"].mean()
    pd.testing.assert_series_equal(prune.sort_index(), main.loc[prune.index].sort_index(), check_names=False)
    rows = pd.read_parquet(res / "stage2" / "fashion_mnist" / "synflow" / "snas" / "seed1.parquet")
    assert len(rows) == 4 * 5 and (rows.loc[rows.selector == "valid", "candidates"] <= 6).all()
    md = (res / "tables" / "fashion_mnist_two_stage.md").read_text()
    assert md.index("## no splitting") < md.index("## random") and "jacob cov" in md and "DARTS-1st" in md
    base = pd.read_parquet(res / "tables" / "fashion_mnist_stage2_baselines.parquet")
    assert set(base["supernet"]) == {"rsps_uniform", "rsps_biased", "init_uniform", "init_biased"}
    assert set(base["selector"]) == {"valid", "synflow", "jacobcov", "perturb"} and len(base) == 16
    biased = pd.read_parquet(res / "stage2" / "fashion_mnist" / "baselines" / "rsps_biased" / "seed0" / "log.parquet")
    assert len(biased) == 2 and biased["val_acc"].between(0, 100).all()
    assert "trained weights" in (res / "tables" / "fashion_mnist_stage2_baselines.md").read_text()
    stage1 = pd.read_parquet(res / "tables" / "fashion_mnist_stage1.parquet")
    recall = stage1[stage1.statistic == "recall"]
    assert recall["value"].dropna().between(0, 1).all() and recall["error_threshold"].notna().all()
    for name in ("stage1_curves", "stage2_baselines"):
        assert (res / "plots" / "fashion_mnist" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert (res / "plots" / "fashion_mnist" / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"


def test_readme_pandas_snippets_run_on_the_results(finished_run):
    """Every ```python block of the README that reads results/default runs as written on the
    tiny workflow's results (results/tiny), the pivot of one selection rule included."""
    work, _, _ = finished_run
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    snippets = [b for b in blocks if "results/default" in b]
    assert snippets and any(".pivot(" in b for b in snippets)
    for code in snippets:
        namespace: dict = {}
        exec(compile(code.replace("results/default", str(work / "results" / "tiny")), "README.md", "exec"),
             namespace)
    assert namespace["table"]["method"].nunique() == 4 and len(namespace["runs"]) > 0


def test_second_plan_is_empty(finished_run):
    work, _, config = finished_run
    assert planned_jobs(snakemake(work, config, "-n")) == {}


def test_moved_checkout_and_results_plan_nothing(finished_run, tmp_path):
    """`cp -a` of a finished checkout to another folder: the copy plans no job (no absolute path
    reaches a rule's input, output or params; the benchmark table is read from a copy inside the
    results, rule benchmark_table)."""
    work, _, _ = finished_run
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("Snakefile", "workflow", "config", "resources", "envs", "profiles", "src"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, checkout / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(source, checkout / name)
    moved = checkout / "moved_results"
    shutil.copytree(work, moved, symlinks=True)  # copy2: modification times kept, as cp -a keeps them
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    plan = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(checkout / "Snakefile"), "--directory",
                           str(moved), "--configfile", str(moved / "tiny.yaml"), "--cores", "1", "-n"],
                          capture_output=True, text=True, env=env, timeout=3600)
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    assert planned_jobs(plan.stdout + plan.stderr) == {}, (plan.stdout + plan.stderr)[-3000:]
    assert (moved / "results" / "tiny" / "benchmark" / "nb201.parquet").read_bytes() == (
        ROOT / "resources" / "nb201" / "nb201_test_acc.parquet").read_bytes()


def test_report_holds_every_figure_and_table(finished_run):
    """`snakemake --report` gives one self-contained page with the workflow description,
    every figure (with its caption) and every Markdown table, each embedded."""
    work, _, config = finished_run
    report = work / "results" / "tiny" / "report.html"
    snakemake(work, config, "--report", str(report))
    html = report.read_text()
    for name in ("distributions.png", "leaf_epochs.png", "split_distance.png", "halving.png", "stage1.png",
                 "stage1_curves.png", "stage2_baselines.png", "cost.png", "fashion_mnist.html",
                 "fashion_mnist_selection.html", "fashion_mnist_leaves.html", "fashion_mnist_two_stage.html",
                 "fashion_mnist_stage2_baselines.html"):
        assert f"filename={name};base64," in html, name
    # tables are HTML pages, which the report shows inline (an iframe), not download links
    assert html.count("data:text/html;") >= 5 and "filename=fashion_mnist.md;" not in html
    assert "What ran." in html and "Successive halving (GM-NAS" in html and "Stage-1 statistics" in html
    landing = html.split("What ran.")[1].split("Analyses.")[0]
    assert "DARTS-1st and SNAS" in landing and "gradient matching" in landing and "darts1" not in landing
    assert '"Fashion-MNIST"' in html and '"Results"' in html and '"Splits"' in html  # category per dataset, stages
    embedded = base64.b64decode(html.split("filename=fashion_mnist_selection.html;base64,")[1].split('"')[0])
    assert embedded == (work / "results" / "tiny" / "tables" / "fashion_mnist_selection.html").read_bytes()
    assert b"<table>" in embedded and b"successive halving" in embedded


def test_search_hyperparameter_reruns_only_search_and_downstream(finished_run):
    work, cfg, _ = finished_run
    changed = copy.deepcopy(cfg)
    changed["search"]["hparams"]["lr"] = 0.05
    config = work / "changed.yaml"
    config.write_text(yaml.safe_dump(changed))
    jobs = planned_jobs(snakemake(work, config, "-n"))
    assert jobs.pop("search_tree") == 3 * 3 and jobs.pop("search_leaf") == 3  # a job per tree; nosplit's leaf alone
    assert set(jobs) <= {"benchmark_lookup", "tables", "plot_leaf_epochs", "selection", "stage1", "stage1_table",
                         "stage2", "two_stage_table", "stage2_baseline_train", "stage2_baseline",
                         "stage2_baselines_table", "cost_table", "plot_distributions", "resolved_config", "all"}
    assert jobs["benchmark_lookup"] == 4 * 3


def test_all_algorithms_switch(finished_run):
    """config/all_algorithms.yaml adds six algorithms and their own hyperparameters: only their
    searches are new (the others' jobs do not read those keys). Seeds given per algorithm must
    name every algorithm run."""
    work, cfg, _ = finished_run
    changed = copy.deepcopy(cfg)
    changed["search"]["seeds"] = [0]
    config = work / "one_seed.yaml"
    config.write_text(yaml.safe_dump(changed))
    jobs = planned_jobs(snakemake(work, config, "-n", "--configfile", str(config),
                                  str(ROOT / "config" / "all_algorithms.yaml")))
    assert jobs["search_tree"] == 3 * 6 and jobs["search_leaf"] == 6 and jobs["benchmark_lookup"] == 4 * 6
    per_algo = work / "per_algo.yaml"
    per_algo.write_text(yaml.safe_dump(cfg))  # seeds for darts1 and snas only
    out = subprocess.run([*SNAKEMAKE, "--directory", str(work), "-n", "--cores", "1", "--configfile", str(per_algo),
                          str(ROOT / "config" / "all_algorithms.yaml")], capture_output=True, text=True)
    assert out.returncode != 0 and "search.seeds lists seeds per algorithm but not for ['darts2', 'darts_minus'" in (
        out.stdout + out.stderr)


def test_split_change_keeps_supernet(finished_run):
    work, cfg, _ = finished_run
    changed = copy.deepcopy(cfg)
    changed["split"]["metric_batches"] = 2
    config = work / "split.yaml"
    config.write_text(yaml.safe_dump(changed))
    jobs = planned_jobs(snakemake(work, config, "-n"))
    assert "train_supernet" not in jobs and "prepare_data" not in jobs
    assert jobs["split_level"] == 12  # 3 methods × 2 levels × 2 seeds; random too: levels share the split params


def test_bad_config_is_a_clear_error(finished_run, tmp_path):
    work, cfg, _ = finished_run
    bad = copy.deepcopy(cfg)
    bad["split"]["depth"] = 4
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(bad))
    out = subprocess.run([*SNAKEMAKE, "--directory", str(work), "--configfile", str(config), "-n", "--cores", "1"],
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert "split.edges needs 4 distinct edges" in out.stdout + out.stderr


def search_logs(root: Path) -> dict[str, pd.DataFrame]:
    logs = sorted(root.glob("results/tiny/search/**/log.parquet"))
    return {str(p.relative_to(root)): pd.read_parquet(p) for p in logs}


def test_fused_searches_plan_and_match_separate_runs(finished_run, tmp_path):
    """search.fuse: none makes one job per leaf, tree one job per tree (nosplit, one leaf either
    way, is not rerun), dataset one job per dataset × algorithm × seed; the fused program (fuse_mode: fused)
    writes the same per-leaf logs as the tiny run's tree jobs (one leaf after another, each as its
    own job would), and the main table reads them."""
    work, cfg, _ = finished_run
    plans = (("none", "auto", {"search_leaf": 12 * 3}), ("tree", "fused", {"search_tree": 3 * 3}),
             ("dataset", "fused", {"search_dataset": 3}))
    for fuse, mode, expected in plans:
        changed = copy.deepcopy(cfg)
        changed["search"].update(fuse=fuse, fuse_mode=mode)
        config = tmp_path / f"{fuse}.yaml"
        config.write_text(yaml.safe_dump(changed))
        jobs = planned_jobs(snakemake(work, config, "-n"))
        assert {k: v for k, v in jobs.items() if k.startswith("search")} == expected
    copy_dir = tmp_path / "copy"
    shutil.copytree(work, copy_dir, ignore=shutil.ignore_patterns(".snakemake"))
    # synflow's trees (darts1, and snas for two seeds) run again, fused; the all-algorithms test
    # compares the fused program with leaves one by one for every algorithm
    shutil.rmtree(copy_dir / "results/tiny/search/fashion_mnist/synflow")
    separate = search_logs(work)
    trees = [path for path in separate if "/synflow/" in path]  # the fused jobs' leaves, by name
    targets = [*trees, "results/tiny/tables/fashion_mnist.parquet"]  # and the main table, which reads them
    plan = planned_jobs(snakemake(copy_dir, tmp_path / "tree.yaml", "-n", *targets))
    assert plan["search_tree"] == 3 and "train_supernet" not in plan and "split_level" not in plan
    snakemake(copy_dir, tmp_path / "tree.yaml", *targets)
    fused = search_logs(copy_dir)
    assert separate.keys() == fused.keys() and len(fused) == 13 * 3 and len(trees) == 4 * 3
    for path, a in separate.items():
        b = fused[path]
        assert list(a["genotype"]) == list(b["genotype"]), path
        for col in ("train_loss", "val_loss"):
            np.testing.assert_allclose(b[col], a[col], atol=1e-3, err_msg=f"{path} {col}")
        np.testing.assert_allclose(np.stack(b["alphas"]), np.stack(a["alphas"]), atol=1e-3, err_msg=path)
    assert planned_jobs(snakemake(copy_dir, tmp_path / "tree.yaml", "-n", *targets)) == {}

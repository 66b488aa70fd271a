"""Configs against the schema, conda envs, and the registry ↔ schema link."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from fewshotnas.metrics import metric_names
from fewshotnas.search import ALGORITHMS

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((ROOT / "config/schema.yaml").read_text())


def load(name):
    return yaml.safe_load((ROOT / "config" / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_configs_validate(name):
    jsonschema.validate(load(name), SCHEMA)


def merged(base: dict, over: dict) -> dict:
    """Snakemake's --configfile merge: nested mappings update key by key."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.mark.parametrize("overlay", ["splits.yaml", "all_algorithms.yaml"])
def test_overlay_configs_validate(overlay):
    cfg = merged(load("config.yaml"), load(overlay))
    jsonschema.validate(cfg, SCHEMA)
    assert cfg["network"] == load("config.yaml")["network"]  # the rest stays the default


def test_search_seeds_per_algorithm():
    cfg = load("paper.yaml")
    assert cfg["search"]["seeds"] == {"darts1": [0], "darts2": [0], "snas": [0, 1, 2], "dsnas": [0, 1, 2]}
    cfg["search"]["seeds"] = {"snas": [0], "bogus": [1]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cfg, SCHEMA)


@pytest.mark.parametrize("path,value", [(("split", "bogus"), 1), (("search", "hparams", "lr_typo"), 0.1),
                                        (("datasets",), ["mnist"]), (("split", "methods"), ["nope"])])
def test_unknown_keys_and_values_rejected(path, value):
    cfg = copy.deepcopy(load("config.yaml"))
    node = cfg
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cfg, SCHEMA)


def test_schema_enums_follow_registries():
    methods = SCHEMA["properties"]["split"]["properties"]["methods"]["items"]["enum"]
    assert sorted(methods) == sorted(metric_names() + ["random"])
    per_method = SCHEMA["properties"]["split"]["properties"]["weights"]["oneOf"][1]["properties"]
    assert sorted(per_method) == sorted(metric_names() + ["default"])
    algos = SCHEMA["properties"]["search"]["properties"]["algorithms"]["items"]["enum"]
    assert sorted(algos) == sorted(ALGORITHMS)


@pytest.mark.parametrize("env", sorted((ROOT / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_conda_envs_parse_and_pin(env):
    spec = yaml.safe_load(env.read_text())
    deps = spec["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pips = [d for d in deps if isinstance(d, dict)]
    assert any(d.startswith("python=") for d in conda)
    assert all(re.match(r"^[\w.-]+=[\d.*]+$", d) for d in conda), conda
    if pips:
        assert any(d.startswith("pip=") for d in conda)
        assert all("==" in p for p in pips[0]["pip"] if not p.startswith("--"))


def test_every_conda_path_in_rules_exists():
    rules = list((ROOT / "workflow" / "rules").glob("*.smk"))
    paths = [m for r in rules for m in re.findall(r'conda:\s*\n\s*"([^"]+)"', r.read_text())]
    assert paths
    for rule_file in rules:
        for rel in re.findall(r'conda:\s*\n\s*"([^"]+)"', rule_file.read_text()):
            assert (rule_file.parent / rel).resolve().is_file(), rel
    # every rule that runs a script has an env (also rules under `if`); `run:` rules run in Snakemake itself
    n_scripts = sum(len(re.findall(r"^\s*script:", r.read_text(), re.M)) for r in rules)
    assert len(paths) == n_scripts


def test_workflow_parse_imports_only_the_standard_library():
    """What the Snakefile imports from the library while it is parsed must not pull in numpy,
    pandas or torch: Snakemake's own environment (conda users, cluster nodes) has none of them."""
    code = ("import sys; import fewshotnas.treeshape, fewshotnas.codehash, fewshotnas.configcheck, "
            "fewshotnas.datafiles, fewshotnas.catalog, fewshotnas.analysis.labels, fewshotnas.analysis.landing; "
            "heavy = sorted(m for m in ('numpy', 'pandas', 'torch', 'scipy') if m in sys.modules); "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert out.stdout.strip() == ""
    rules = (ROOT / "workflow" / "rules" / "common.smk").read_text() + (ROOT / "Snakefile").read_text()
    imported = set(re.findall(r"^from (fewshotnas[\w.]*) import", rules, re.M))
    assert imported == {"fewshotnas.treeshape", "fewshotnas.codehash", "fewshotnas.configcheck",
                        "fewshotnas.datafiles", "fewshotnas.catalog", "fewshotnas.analysis.labels",
                        "fewshotnas.analysis.landing"}


def test_tree_shape_matches_the_space():
    from fewshotnas.space import NUM_EDGES, OPS
    from fewshotnas.treeshape import NUM_EDGES as SHAPE_EDGES
    from fewshotnas.treeshape import NUM_OPS, TreeShape

    assert NUM_OPS == len(OPS) and SHAPE_EDGES == NUM_EDGES
    assert TreeShape(depth=3, branching=[2, 3, 2]).num_leaves() == 12
    assert TreeShape(depth=2, policy="exhaustive", edges=[1, 4]).num_leaves() == 25


def test_one_set_of_versions():
    """envs/*.yaml (--use-conda), the Makefile (make setup) and pyproject.toml agree: the
    Makefile pins the same torch and torchvision as the envs, and every version an env pins
    satisfies pyproject's requirement for that package."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    required = {Requirement(r).name.lower(): Requirement(r).specifier
                for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    make_pins = dict(re.findall(r"(torch|torchvision)==([\d.]+)", (ROOT / "Makefile").read_text()))
    assert set(make_pins) == {"torch", "torchvision"}
    checked = 0
    for env_file in (ROOT / "envs").glob("*.yaml"):
        deps = yaml.safe_load(env_file.read_text())["dependencies"]
        pins = {}
        for dep in deps:
            if isinstance(dep, dict):
                pins.update(re.findall(r"^([\w-]+)==([\d.]+)$", "\n".join(dep["pip"]), re.M))
            else:
                name, _, version = dep.partition("=")
                pins[name] = version
        for name, version in pins.items():
            if name in ("torch", "torchvision"):
                assert version == make_pins[name], (
                    f"{env_file.name} pins {name} {version}, the Makefile {make_pins[name]}")
            if name.lower() in required:
                assert Version(version) in required[name.lower()], (
                    f"{env_file.name}: {name} {version} outside pyproject's {required[name.lower()]}")
                checked += 1
    assert checked >= 10


def test_slurm_profile_keeps_its_promises():
    """Jobs get cpus_per_task = threads (no profile-wide cpus_per_task), partition and account
    placeholders are documented, failed jobs are resubmitted (and resume); GPUs come from the
    rules and follow `device` (none with `device: cpu`), and random splits ask for none."""
    text = (ROOT / "profiles" / "slurm" / "config.yaml").read_text()
    profile = yaml.safe_load(text)
    assert "cpus_per_task" not in profile["default-resources"]
    assert all("cpus_per_task" not in r for r in profile["set-resources"].values())
    assert profile["restart-times"] >= 1
    assert "# slurm_partition:" in text and "# slurm_account:" in text
    assert all("gpu" not in r for r in profile["set-resources"].values())
    split_rule = (ROOT / "workflow" / "rules" / "split.smk").read_text()
    assert 'gpu=lambda wc: 0 if wc.method == "random" else GPUS' in split_rule
    gpus = {}
    for device in ("cpu", "auto"):
        out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory",
                              str(ROOT / ".test"), "-n", "--cores", "1", "--config", f"device={device}"],
                             capture_output=True, text=True, timeout=1200,
                             env={**os.environ, "FEWSHOTNAS_PLAN_WITHOUT_DATA": "1"})
        assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
        gpus[device] = re.findall(r"gpu=(\d+)", out.stdout + out.stderr)
    assert gpus["cpu"] and set(gpus["cpu"]) == {"0"}  # device: cpu asks Slurm for no GPU
    assert gpus["auto"].count("1") > len(gpus["auto"]) / 2  # training, split, search, stage-1/2 jobs


def test_config_is_read_from_the_working_directory(tmp_path):
    """A deployed copy (`snakemake --directory DIR`) brings its own config/config.yaml."""
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["experiment"] = "deployed"
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    plan = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory",
                           str(tmp_path), "-n", "--cores", "1", "--summary"], capture_output=True, text=True,
                          timeout=1200)
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert "results/deployed/tables/fashion_mnist.parquet" in plan.stdout


def test_missing_dataset_fails_when_planned(tmp_path):
    """`snakemake -n` with a dataset folder that lacks its files stops before planning, naming
    the folder, the files and the fix."""
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["datasets"] = ["fashion_mnist", "cifar10"]
    cfg["data"]["roots"]["cifar10"] = str(tmp_path / "no-cifar")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(cfg))
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory",
                          str(tmp_path), "--configfile", str(config), "-n", "--cores", "1"], capture_output=True,
                         text=True, timeout=1200)
    log = out.stdout + out.stderr
    assert out.returncode != 0 and "Job stats" not in log
    assert "data_batch_1" in log and str(tmp_path / "no-cifar") in log and "data.download: true" in log


def test_config_readme_describes_every_key_and_is_current():
    from fewshotnas.configdocs import config_docs

    page = config_docs(ROOT / "config" / "schema.yaml", ROOT / "config" / "config.yaml")
    assert (ROOT / "config" / "README.md").read_text() == page, "run `fewshotnas config-docs` and commit"
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    assert len(rows) > 80
    undocumented = [row.split("|")[1].strip() for row in rows if row.rstrip().endswith("|  |")]
    assert undocumented == []
    assert "| `search.fuse` |" in page and "| `report.stage1.sample` | integer | `24` |" in page


def test_test_config_plans_for_users():
    """`snakemake --directory .test` is the tiny workflow the tests run; it plans every stage
    when Debian's Fashion-MNIST is installed, and otherwise says how to get it."""
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory",
                          str(ROOT / ".test"), "-n", "--cores", "1"], capture_output=True, text=True, timeout=1200)
    log = out.stdout + out.stderr
    if Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").is_file():
        assert out.returncode == 0, log[-2000:]
        assert re.search(r"^search_tree\s+9$", log, re.M) and re.search(r"^search_leaf\s+3$", log, re.M)
        assert re.search(r"^stage1\s+12$", log, re.M)
    else:
        assert out.returncode != 0 and "apt-get install dataset-fashion-mnist" in log


IMPORT_TO_PACKAGE = {"yaml": "pyyaml", "more_itertools": "more-itertools", "PIL": "pillow",
                     "nas_201_api": "nas-bench-201"}


def third_party_imports(path: Path) -> set[str]:
    """Top-level names of the non-library, non-standard-library modules a file imports."""
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("fewshotnas", "__future__")}


def test_each_rule_script_needs_only_what_its_conda_env_declares():
    """--use-conda runs a rule's script in its `conda:` env: the script and every library
    module it imports (transitively) may import only packages that env lists."""
    from fewshotnas.codehash import imported_modules

    checked = 0
    for rule_file in (ROOT / "workflow" / "rules").glob("*.smk"):
        text = rule_file.read_text()
        for body in re.split(r"^\s*rule \w+:", text, flags=re.M)[1:]:
            script = re.search(r'script:\s*\n\s*"([^"]+)"', body)
            env = re.search(r'conda:\s*\n\s*"([^"]+)"', body)
            if not script:
                continue
            script_path = (rule_file.parent / script.group(1)).resolve()
            env_file = (rule_file.parent / env.group(1)).resolve()
            deps = yaml.safe_load(env_file.read_text())["dependencies"]
            declared = set()
            for dep in deps:
                if isinstance(dep, dict):
                    declared.update(re.split(r"[=<>\[]", p)[0].lower() for p in dep["pip"] if not p.startswith("-"))
                else:
                    declared.add(re.split(r"[=<>]", dep)[0].lower())
            needed = third_party_imports(script_path)
            for module_path in imported_modules(script_path).values():
                needed |= third_party_imports(module_path)
            missing = {IMPORT_TO_PACKAGE.get(n, n).lower() for n in needed} - declared
            assert not missing, f"{script.group(1)} needs {sorted(missing)}, not in {env_file.name}"
            checked += 1
    assert checked >= 14


def test_halving_config_is_the_papers_successive_halving():
    """config/halving.yaml over paper.yaml: SNAS for 600 epochs on CIFAR-10, cuts at 30, 100, 600."""
    from fewshotnas.analysis.selection import cut_epochs

    cfg = merged(merged(load("config.yaml"), load("paper.yaml")), load("halving.yaml"))
    jsonschema.validate(cfg, SCHEMA)
    assert cfg["search"]["algorithms"] == ["snas"] and cfg["search"]["hparams"]["epochs"] == 600
    assert cfg["datasets"] == ["cifar10"] and "gradientmatching" in cfg["split"]["methods"]
    assert cut_epochs(cfg["report"]["halving_epochs"], 600) == [30, 100, 600]
    assert cfg["network"] == load("paper.yaml")["network"]  # the rest stays the papers'


def test_command_line_strings_are_read_as_yaml_where_the_schema_wants_no_string():
    """Snakemake passes ``--config data='{download: true}'`` as {'download': 'true'}."""
    from fewshotnas.configcheck import check_config, coerce_command_line_strings

    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["data"].update(download="true", subset="600", roots={"fashion_mnist": "123"})
    config["search"]["hparams"].update(epochs="2", arch_betas="[0.5, 0.9]")
    config["experiment"] = "2024"
    assert check_config(copy.deepcopy(config), schema)  # as Snakemake hands them over: refused
    changed = coerce_command_line_strings(config, schema)
    assert sorted(changed) == ["data.download", "data.subset", "search.hparams.arch_betas", "search.hparams.epochs"]
    assert config["data"]["download"] is True and config["data"]["subset"] == 600
    assert config["search"]["hparams"]["epochs"] == 2 and config["search"]["hparams"]["arch_betas"] == [0.5, 0.9]
    assert config["data"]["roots"]["fashion_mnist"] == "123" and config["experiment"] == "2024"  # strings stay
    assert check_config(config, schema) == []
    config["search"]["hparams"]["epochs"] = "two"  # not YAML for a number: the schema's message
    coerce_command_line_strings(config, schema)
    assert any("search.hparams.epochs" in line and "'two'" in line for line in check_config(config, schema))


def test_readme_config_one_liners_plan(tmp_path):
    """The README's `--config` command lines, as written (a shell parses the quotes)."""
    readme = (ROOT / "README.md").read_text()
    assert "--config data='{download: true}'" in readme
    cmd = (f"{sys.executable} -m snakemake -s {ROOT / 'Snakefile'} --directory {ROOT / '.test'} -n --cores 1 "
           "--config data='{download: true}' search='{hparams: {epochs: 2}}'")
    out = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=1200,
                         env={**os.environ, "FEWSHOTNAS_PLAN_WITHOUT_DATA": "1"})
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]

# Shared helpers: paths, wildcard constraints, config checks and code hashes.
from fewshotnas.catalog import algorithm_hparams, search_runtime_minutes  # noqa: E402  (standard library only)
from fewshotnas.codehash import script_hash  # noqa: E402
from fewshotnas.datafiles import (
    copy_verified,
    dataset_digest,
    file_digest,
    missing_dataset,
)  # noqa: E402  (standard library only)
from fewshotnas.treeshape import TreeShape  # noqa: E402
from fewshotnas.analysis.labels import dataset_label  # noqa: E402  (standard library only)

R = f"results/{config['experiment']}"
SPLIT_METHODS = list(config["split"]["methods"])
SEARCH_METHODS = SPLIT_METHODS + (["nosplit"] if config["search"]["nosplit"] else [])
ALGORITHMS = list(config["search"]["algorithms"])
SPLIT_SEED = config["split"]["seeds"][0]  # the tree the searches use
FUSE = config["search"]["fuse"]  # none | tree | dataset
FUSED_ALGORITHMS = ALGORITHMS if FUSE != "none" else []  # the engine fuses every algorithm
SUPERNET_SEED = config["supernet"]["seed"]
GPUS = 0 if config["device"] == "cpu" else 1  # each training job's Slurm GPU request follows `device`
API_FILE = config["benchmark"].get("api_file")  # the official benchmark file, if the user has it
# The benchmark table reaches the rules as a copy inside the results (rule benchmark_table), never by
# its path in the checkout: no absolute path enters a rule's input, output or params, so a finished
# checkout moved or copied elsewhere plans nothing. The copy follows the shipped file's content.
SHIPPED_TABLE = Path(workflow.basedir) / config["benchmark"]["table"]  # relative paths: to the repository
SHIPPED_TABLE_COPY = f"{R}/benchmark/nb201.parquet"  # built by rule benchmark_table
if API_FILE:
    BENCH_TABLE = f"{R}/benchmark/nb201_from_api.parquet"  # built by rule nb201_from_api
else:
    BENCH_TABLE = SHIPPED_TABLE_COPY
SPLIT_KEYS = (
    "policy",
    "edge_choice",
    "weights",
    "warmup_epochs",
    "depth",
    "branching",
    "edges",
    "balanced",
    "metric_batches",
    "batch_size",
    "metric_options",
)
SPLIT_PARAMS = {k: config["split"][k] for k in SPLIT_KEYS if k in config["split"]}

try:  # cross-field checks the JSON schema cannot express
    SPLIT_CONFIG = TreeShape(**SPLIT_PARAMS)
except ValueError as err:
    raise WorkflowError(f"config split: {err}")
try:
    SEARCH_HPARAMS = {
        a: algorithm_hparams(config["search"]["hparams"], config["search"].get("per_algorithm"), a) for a in ALGORITHMS
    }
except ValueError as err:
    raise WorkflowError(str(err))
_unused = sorted(set(config["search"].get("per_algorithm") or {}) - set(ALGORITHMS))
if _unused:
    raise WorkflowError(
        f"config search.per_algorithm sets {_unused}, which search.algorithms does not run; "
        "add them to search.algorithms or remove their entries"
    )
if isinstance(config["search"]["seeds"], dict):
    _missing = [a for a in ALGORITHMS if a not in config["search"]["seeds"]]
    if _missing:
        raise WorkflowError(
            f"config search.seeds lists seeds per algorithm but not for {_missing}; add e.g. " f"{_missing[0]}: [0]"
        )
if API_FILE and not Path(API_FILE).is_file():
    raise WorkflowError(
        f"config benchmark.api_file: {API_FILE} not found; point it at the official NAS-Bench-201 "
        ".pth file, or set it to null to use the shipped table"
    )
if not SHIPPED_TABLE.is_file():
    raise WorkflowError(
        f"config benchmark.table: {SHIPPED_TABLE} not found. It ships with the project: restore it with "
        "`git checkout -- resources/nb201/nb201_test_acc.parquet`, or point benchmark.table at a copy"
    )
for _ds in config["datasets"]:
    if _ds not in config["data"]["roots"]:
        raise WorkflowError(f"config data.roots has no entry for dataset {_ds!r}; add data.roots.{_ds}: <folder>")
    if _ds not in config["benchmark"]["dataset_map"]:
        raise WorkflowError(f"config benchmark.dataset_map has no entry for {_ds!r}; add e.g. {_ds}: cifar10")
    # a missing dataset fails now, not after the plan (unless its prepared data already exists;
    # FEWSHOTNAS_PLAN_WITHOUT_DATA=1 plans anyway, e.g. to count the papers' jobs before downloading)
    _problem = missing_dataset(_ds, config["data"]["roots"][_ds], config["data"]["download"])
    if _problem and not Path(f"results/{config['experiment']}/data/{_ds}/prepared.pt").exists():
        if os.environ.get("FEWSHOTNAS_PLAN_WITHOUT_DATA") != "1":
            raise WorkflowError(
                f"dataset {_ds}: {_problem} (to plan without the data, e.g. to count jobs: "
                "FEWSHOTNAS_PLAN_WITHOUT_DATA=1 snakemake -n …)"
            )


wildcard_constraints:
    dataset="|".join(["fashion_mnist", "cifar10", "cifar100", "imagenet16_120"]),
    method=r"[a-z_]+",
    algo=r"[a-z0-9_]+",
    seed=r"\d+",
    level=r"\d+",
    leaf=r"\d+",


def library_hash(script):
    """Hash of the rule's script and the library modules it imports (transitively, see
    fewshotnas.codehash), passed as a param so that a change of their content (not a touch:
    the profile's rerun-triggers leave out Snakemake's mtime-based code trigger) reruns exactly
    the stages that run it."""
    return script_hash(Path(workflow.basedir) / "workflow" / "scripts" / script)


def num_leaves(method):
    return 1 if method == "nosplit" else SPLIT_CONFIG.num_leaves()


def data_params(dataset):
    d = config["data"]
    return dict(
        dataset=dataset,
        root=d["roots"][dataset],
        download=d["download"],
        subset=d["subset"],
        fraction=d["fraction"],
        test_subset=d["test_subset"],
        image_size=d["image_size"],
        arch_fraction=d["arch_fraction"],
        seed=d["seed"],
    )


def prepared(dataset):
    return f"{R}/data/{dataset}/prepared.pt"


def supernet_ckpt(dataset):
    return f"{R}/supernet/{dataset}/seed{SUPERNET_SEED}/supernet.pt"


def supernet_log(dataset):
    return f"{R}/supernet/{dataset}/seed{SUPERNET_SEED}/train_log.parquet"


def tree_path(dataset, method, seed, level):
    return f"{R}/split/{dataset}/{method}/seed{seed}/level{level}/tree.parquet"


def warm_path(dataset, method, seed, level):
    return f"{R}/split/{dataset}/{method}/seed{seed}/level{level}/warm.pt"


def final_tree(dataset, method):
    return tree_path(dataset, method, SPLIT_SEED, SPLIT_CONFIG.depth)


def final_tree_of_seed(dataset, method, seed):
    return tree_path(dataset, method, seed, SPLIT_CONFIG.depth)


def search_log(dataset, method, algo, seed, leaf):
    return f"{R}/search/{dataset}/{method}/{algo}/seed{seed}/leaf{leaf}/log.parquet"


def search_final(dataset, method, algo, seed, leaf):
    return f"{R}/search/{dataset}/{method}/{algo}/seed{seed}/leaf{leaf}/final.pt"


def stage1_path(dataset, method, algo, seed):
    return f"{R}/stage1/{dataset}/{method}/{algo}/seed{seed}.parquet"


def all_stage1(dataset):
    return [stage1_path(dataset, m, a, s) for m in SEARCH_METHODS for a in ALGORITHMS for s in search_seeds(a)]


STAGE2 = config["report"]["stage2"]
STAGE2_PARAMS = {
    **{k: STAGE2[k] for k in ("selectors", "samples", "tune_epochs", "tune_lr", "seed")},
    **{k: config["report"]["stage1"][k] for k in ("bn_batches", "batch_size", "eval_images")},
}
try:
    BASELINE_HPARAMS = algorithm_hparams(config["search"]["hparams"], config["search"].get("per_algorithm"), "rsps")
except ValueError as err:
    raise WorkflowError(str(err))


def stage2_path(dataset, method, algo, seed):
    return f"{R}/stage2/{dataset}/{method}/{algo}/seed{seed}.parquet"


def all_stage2(dataset):
    return [stage2_path(dataset, m, a, s) for m in SEARCH_METHODS for a in ALGORITHMS for s in search_seeds(a)]


def all_baselines(dataset):
    return [
        f"{R}/stage2/{dataset}/baselines/{n}/seed{s}.parquet"
        for n in ("rsps_uniform", "rsps_biased", "init_uniform", "init_biased")
        for s in STAGE2["baseline_seeds"]
    ]


def baseline_inputs(wc):
    inputs = {"data": prepared(wc.dataset), "table": BENCH_TABLE}
    if wc.supernet.startswith("rsps_"):
        inputs["final"] = f"{R}/stage2/{wc.dataset}/baselines/{wc.supernet}/seed{wc.seed}/final.pt"
    return inputs


def fused_outputs(name, methods):
    """Per-leaf output patterns of a fused search job ({dataset}, {algo}, {seed} wildcards; the
    method too when ``methods`` is ["{method}"])."""
    out = []
    for method in methods:
        leaves = SPLIT_CONFIG.num_leaves() if method == "{method}" else num_leaves(method)
        out += [f"{R}/search/{{dataset}}/{method}/{{algo}}/seed{{seed}}/leaf{leaf}/{name}" for leaf in range(leaves)]
    return out


def one_of(names):
    """A wildcard regex matching exactly ``names`` (nothing when empty)."""
    return "|".join(names) if names else "(?!x)x"


def lookup_path(dataset, method, algo, seed):
    return f"{R}/benchmark/{dataset}/{method}/{algo}/seed{seed}.parquet"


def search_seeds(algo):
    """Seeds of one algorithm: search.seeds is one list for all, or a list per algorithm."""
    seeds = config["search"]["seeds"]
    return list(seeds[algo]) if isinstance(seeds, dict) else list(seeds)


def all_lookups(dataset):
    return [lookup_path(dataset, m, a, s) for m in SEARCH_METHODS for a in ALGORITHMS for s in search_seeds(a)]


def split_outputs():
    """Every split seed's tree (searches use the first seed's) and the split distances."""
    outs = []
    for ds in config["datasets"]:
        outs += [tree_path(ds, m, s, SPLIT_CONFIG.depth) for m in SPLIT_METHODS for s in config["split"]["seeds"]]
        if SPLIT_METHODS:
            outs += [
                f"{R}/split/{ds}/split_distance.parquet",
                f"{R}/plots/{ds}/split_distance.png",
                f"{R}/plots/{ds}/split_distance.pdf",
            ]
    return outs


def figure(dataset, name):
    """A figure's PNG and PDF."""
    return [f"{R}/plots/{dataset}/{name}.{ext}" for ext in ("png", "pdf")]


def write_yaml_atomic(obj, path):
    """``obj`` as YAML (keys in their order) to ``path`` via a temporary file and a rename."""
    tmp = Path(f"{path}.tmp{os.getpid()}")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        header = "# the resolved config of this run (written by the workflow)"
        tmp.write_text(f"{header}\n{yaml.safe_dump(obj, sort_keys=False)}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def final_outputs():
    """Every table and figure of every dataset, and the resolved config (what `snakemake` builds
    by default)."""
    outs = split_outputs() + [f"{R}/config.yaml"]
    for ds in config["datasets"]:
        outs += [
            f"{R}/tables/{ds}.parquet",
            f"{R}/tables/{ds}.md",
            f"{R}/tables/{ds}.html",
            f"{R}/tables/{ds}_stage1.parquet",
        ]
        outs += [cost_table(ds)] + figure(ds, "cost")
        outs += figure(ds, "leaf_epochs") + figure(ds, "stage1") + figure(ds, "stage1_curves")
        if STAGE2["selectors"]:
            outs += [
                f"{R}/tables/{ds}_two_stage.parquet",
                f"{R}/tables/{ds}_two_stage.md",
                f"{R}/tables/{ds}_two_stage.html",
            ]
        if STAGE2["baselines"]:
            outs += [
                f"{R}/tables/{ds}_stage2_baselines.parquet",
                f"{R}/tables/{ds}_stage2_baselines.md",
                f"{R}/tables/{ds}_stage2_baselines.html",
            ]
            outs += figure(ds, "stage2_baselines")
        if SPLIT_METHODS:
            outs += [
                f"{R}/tables/{ds}_selection.parquet",
                f"{R}/tables/{ds}_selection.md",
                f"{R}/tables/{ds}_selection.html",
                f"{R}/tables/{ds}_leaves.parquet",
                f"{R}/tables/{ds}_leaves.md",
                f"{R}/tables/{ds}_leaves.html",
            ]
            outs += figure(ds, "distributions") + figure(ds, "halving")
    return outs


def split_inputs(wc):
    """Level 1 splits the root; level l > 1 the tree of level l−1. Metrics need data and, unless
    they score fresh weights, the supernet; with warm-up, level l ≥ 3 inherits level l−1's weights."""
    inputs = {}
    level = int(wc.level)
    if level > 1:
        inputs["parent"] = tree_path(wc.dataset, wc.method, wc.seed, level - 1)
    if wc.method != "random":
        inputs["data"] = prepared(wc.dataset)
        if SPLIT_CONFIG.weights_for(wc.method) == "trained":
            inputs["supernet"] = supernet_ckpt(wc.dataset)
            inputs["train_log"] = supernet_log(wc.dataset)
        if SPLIT_CONFIG.warmup_epochs > 0 and level >= 3:
            inputs["warm"] = warm_path(wc.dataset, wc.method, wc.seed, level - 1)
    return inputs


def search_inputs(wc):
    inputs = {"data": prepared(wc.dataset)}
    if wc.method != "nosplit":
        inputs["tree"] = final_tree(wc.dataset, wc.method)
    return inputs


def dataset_search_inputs(wc):
    """A fused job over a whole dataset: its data and every split method's final tree."""
    return {"data": prepared(wc.dataset), "trees": [final_tree(wc.dataset, m) for m in SPLIT_METHODS]}


def search_benchmarks(dataset, method, algo, seed):
    """The benchmark files of the search jobs behind one run, and the part of their seconds
    that is the run's (a job fused over every method is shared out by leaves)."""
    base = f"{R}/benchmarks/search/{dataset}"
    if FUSE == "dataset":
        return [f"{base}/fused/{algo}/seed{seed}.tsv"], num_leaves(method) / sum(map(num_leaves, SEARCH_METHODS))
    if FUSE == "tree" and method != "nosplit":
        return [f"{base}/{method}/{algo}/seed{seed}/fused.tsv"], 1.0
    return [f"{base}/{method}/{algo}/seed{seed}/leaf{k}.tsv" for k in range(num_leaves(method))], 1.0


def split_benchmarks(dataset, method, seed=SPLIT_SEED):
    """The benchmark files of the split levels that build one tree (none for nosplit)."""
    if method == "nosplit":
        return []
    return [
        f"{R}/benchmarks/split/{dataset}/{method}/seed{seed}/level{l}.tsv" for l in range(1, SPLIT_CONFIG.depth + 1)
    ]


def supernet_benchmarks(dataset):
    """The base supernet's benchmark file, when a split method trains on it."""
    trained = any(SPLIT_CONFIG.weights_for(m) == "trained" and m != "random" for m in SPLIT_METHODS)
    return [f"{R}/benchmarks/supernet/{dataset}/seed{SUPERNET_SEED}.tsv"] if trained else []


def cost_runs(dataset):
    """Every run of a dataset with the benchmark files behind it (fewshotnas.analysis.cost.run_costs)."""
    runs = []
    for m in SEARCH_METHODS:
        for a in ALGORITHMS:
            for s in search_seeds(a):
                search, share = search_benchmarks(dataset, m, a, s)
                runs.append(
                    dict(
                        dataset=dataset,
                        method=m,
                        algorithm=a,
                        seed=s,
                        split=split_benchmarks(dataset, m),
                        search=search,
                        share=share,
                        log=search_log(dataset, m, a, s, 0),
                    )
                )
    return runs


def cost_table(dataset):
    return f"{R}/tables/{dataset}_cost.parquet"


def dataset_category(wildcards):
    """The report category of a dataset's results: its display name (e.g. Fashion-MNIST)."""
    return dataset_label(wildcards.dataset)

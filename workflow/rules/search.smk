rule search_leaf:
    """Search one leaf from fresh weights with one algorithm and seed; resumes after a kill.
    With search.fuse: tree, only nosplit runs here."""
    input:
        unpack(search_inputs),
    output:
        log=f"{R}/search/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}/leaf{{leaf}}/log.parquet",
        final=f"{R}/search/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}/leaf{{leaf}}/final.pt",
    log:
        f"{R}/logs/search/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}/leaf{{leaf}}.log",
    benchmark:
        f"{R}/benchmarks/search/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}/leaf{{leaf}}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        gpu=GPUS,
        mem_mb=8000,
        runtime=lambda wc: search_runtime_minutes(wc.algo),  # DARTS-1st 24 h, scaled by the catalog's step cost
    params:
        network=config["network"],
        search=lambda wc: SEARCH_HPARAMS[wc.algo],
        device=config["device"],
        resume=f"{R}/_resume/search/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}/leaf{{leaf}}.pt",
        code=library_hash("search_leaf.py"),
    script:
        "../scripts/search_leaf.py"


# search.fuse: the leaves of one tree (or every tree of a dataset) searched as one program,
# each leaf's outputs exactly as search_leaf writes them (fewshotnas.search.engine).
if FUSE == "tree":

    ruleorder: search_tree > search_leaf

    rule search_tree:
        """Search every leaf of one tree as one fused program; resumes after a kill."""
        input:
            data=lambda wc: prepared(wc.dataset),
            tree=lambda wc: final_tree(wc.dataset, wc.method),
        output:
            logs=fused_outputs("log.parquet", ["{method}"]),
            finals=fused_outputs("final.pt", ["{method}"]),
        log:
            f"{R}/logs/search/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}/fused.log",
        benchmark:
            f"{R}/benchmarks/search/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}/fused.tsv"
        wildcard_constraints:
            method=one_of(SPLIT_METHODS),
            algo=one_of(FUSED_ALGORITHMS),
        conda:
            "../../envs/torch.yaml"
        threads: config["threads"]
        resources:
            gpu=GPUS,
            mem_mb=8000,
            runtime=lambda wc: search_runtime_minutes(wc.algo),
        params:
            network=config["network"],
            search=lambda wc: SEARCH_HPARAMS[wc.algo],
            device=config["device"],
            resume=f"{R}/_resume/search/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}/fused.pt",
            mode=config["search"]["fuse_mode"],
            code=library_hash("search_fused.py"),
        script:
            "../scripts/search_fused.py"


if FUSE == "dataset":

    ruleorder: search_dataset > search_leaf

    rule search_dataset:
        """Search every leaf of every tree of a dataset (and the nosplit baseline) as one fused
        program; resumes after a kill."""
        input:
            unpack(dataset_search_inputs),
        output:
            logs=fused_outputs("log.parquet", SEARCH_METHODS),
            finals=fused_outputs("final.pt", SEARCH_METHODS),
        log:
            f"{R}/logs/search/{{dataset}}/fused/{{algo}}/seed{{seed}}.log",
        benchmark:
            f"{R}/benchmarks/search/{{dataset}}/fused/{{algo}}/seed{{seed}}.tsv"
        wildcard_constraints:
            algo=one_of(FUSED_ALGORITHMS),
        conda:
            "../../envs/torch.yaml"
        threads: config["threads"]
        resources:
            gpu=GPUS,
            mem_mb=16000,
            runtime=lambda wc: search_runtime_minutes(wc.algo, 48 * 60),
        params:
            network=config["network"],
            search=lambda wc: SEARCH_HPARAMS[wc.algo],
            device=config["device"],
            methods=SEARCH_METHODS,
            resume=f"{R}/_resume/search/{{dataset}}/fused/{{algo}}/seed{{seed}}.pt",
            mode=config["search"]["fuse_mode"],
            code=library_hash("search_fused.py"),
        script:
            "../scripts/search_fused.py"

localrules:
    benchmark_lookup,


if API_FILE:

    rule nb201_from_api:
        """The lookup table from the official NAS-Bench-201 file (benchmark.api_file)."""
        input:
            api_file=API_FILE,
            shipped=str(Path(workflow.basedir) / config["benchmark"]["table"]),
        output:
            f"{R}/benchmark/nb201_from_api.parquet",
        log:
            f"{R}/logs/benchmark/nb201_from_api.log",
        conda:
            "../../envs/torch.yaml"
        resources:
            mem_mb=16000,
        params:
            code=library_hash("nb201_from_api.py"),
        script:
            "../scripts/nb201_from_api.py"


rule benchmark_lookup:
    """Every leaf × epoch derived genotype with its NB201 test accuracy."""
    input:
        logs=lambda wc: [
            search_log(wc.dataset, wc.method, wc.algo, wc.seed, leaf) for leaf in range(num_leaves(wc.method))
        ],
        table=BENCH_TABLE,
    output:
        f"{R}/benchmark/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}.parquet",
    log:
        f"{R}/logs/benchmark/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        bench_dataset=lambda wc: config["benchmark"]["dataset_map"][wc.dataset],
        split_seed=lambda wc: None if wc.method == "nosplit" else SPLIT_SEED,
        code=library_hash("benchmark_lookup.py"),
    script:
        "../scripts/benchmark_lookup.py"

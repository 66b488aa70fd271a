localrules:
    benchmark_lookup,
    benchmark_table,
    resolved_config,


rule resolved_config:
    """The run's resolved config (defaults, --configfile and --config merged) as YAML beside its results."""
    output:
        f"{R}/config.yaml",
    log:
        f"{R}/logs/config.log",
    params:
        config=config,
    run:
        write_yaml_atomic(params.config, output[0])
        Path(log[0]).write_text(f"wrote {output[0]}\n")


rule benchmark_table:
    """The NB201 table the rules read: benchmark.table copied into the results, so that no rule
    sees the checkout's path and finished results can move; reruns when the file's content changes."""
    output:
        SHIPPED_TABLE_COPY,
    log:
        f"{R}/logs/benchmark/nb201_table.log",
    params:
        digest=file_digest(SHIPPED_TABLE),
    run:
        copy_verified(SHIPPED_TABLE, output[0], params.digest)
        Path(log[0]).write_text(f"copied {SHIPPED_TABLE} (sha256 {params.digest}) to {output[0]}\n")


if API_FILE:

    rule nb201_from_api:
        """The lookup table from the official NAS-Bench-201 file (benchmark.api_file)."""
        input:
            api_file=API_FILE,
            shipped=SHIPPED_TABLE_COPY,
        output:
            f"{R}/benchmark/nb201_from_api.parquet",
        log:
            f"{R}/logs/benchmark/nb201_from_api.log",
        benchmark:
            f"{R}/benchmarks/benchmark/nb201_from_api.tsv"
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
    benchmark:
        f"{R}/benchmarks/benchmark/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        bench_dataset=lambda wc: config["benchmark"]["dataset_map"][wc.dataset],
        split_seed=lambda wc: None if wc.method == "nosplit" else SPLIT_SEED,
        code=library_hash("benchmark_lookup.py"),
    script:
        "../scripts/benchmark_lookup.py"

# Stage-2 selection (Picking up the pieces): every selector on every searched leaf, the
# S1 × S2 table, and the baseline supernets with the selectors' reliance on them.


localrules:
    two_stage_table,
    stage2_baselines_table,


rule stage2:
    """Every Stage-2 selector of report.stage2 on every searched leaf of one run."""
    input:
        data=lambda wc: prepared(wc.dataset),
        finals=lambda wc: [
            search_final(wc.dataset, wc.method, wc.algo, wc.seed, leaf) for leaf in range(num_leaves(wc.method))
        ],
        table=BENCH_TABLE,
    output:
        f"{R}/stage2/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}.parquet",
    log:
        f"{R}/logs/stage2/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/stage2/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}.tsv"
    wildcard_constraints:
        method=one_of(SEARCH_METHODS),
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=8 * 60,
        gpu=GPUS,
    params:
        bench_dataset=lambda wc: config["benchmark"]["dataset_map"][wc.dataset],
        stage2=STAGE2_PARAMS,
        network=config["network"],
        device=config["device"],
        code=library_hash("stage2.py"),
    script:
        "../scripts/stage2.py"


rule two_stage_table:
    """The S1 × S2 table of a dataset: split method × Stage-1 algorithm × Stage-2 selector."""
    input:
        runs=lambda wc: all_stage2(wc.dataset),
        cost=cost_table("{dataset}"),
    output:
        table=f"{R}/tables/{{dataset}}_two_stage.parquet",
        markdown=f"{R}/tables/{{dataset}}_two_stage.md",
        html=report(
            f"{R}/tables/{{dataset}}_two_stage.html",
            category=dataset_category,
            subcategory="Stage 2",
            caption="../report/table_two_stage.rst",
        ),
    log:
        f"{R}/logs/report/two_stage_{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/report/two_stage_{{dataset}}.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        code=library_hash("two_stage_table.py"),
    script:
        "../scripts/two_stage_table.py"


rule stage2_baseline_train:
    """An RSPS-trained baseline supernet on the whole space, with uniform or idealised sampling."""
    input:
        data=lambda wc: prepared(wc.dataset),
        table=BENCH_TABLE,
    output:
        log=f"{R}/stage2/{{dataset}}/baselines/rsps_{{sampler}}/seed{{seed}}/log.parquet",
        final=f"{R}/stage2/{{dataset}}/baselines/rsps_{{sampler}}/seed{{seed}}/final.pt",
    log:
        f"{R}/logs/stage2/{{dataset}}/baselines/rsps_{{sampler}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/stage2/{{dataset}}/baselines/rsps_{{sampler}}/seed{{seed}}.tsv"
    wildcard_constraints:
        sampler="uniform|biased",
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=lambda wc: search_runtime_minutes("rsps"),
        gpu=GPUS,
    params:
        bench_dataset=lambda wc: config["benchmark"]["dataset_map"][wc.dataset],
        network=config["network"],
        search=BASELINE_HPARAMS,
        device=config["device"],
        resume=f"{R}/_resume/stage2/{{dataset}}/baselines/rsps_{{sampler}}/seed{{seed}}.pt",
        code=library_hash("stage2_baseline_train.py"),
    script:
        "../scripts/stage2_baseline_train.py"


rule stage2_baseline:
    """The sampling selectors and perturb on one baseline supernet."""
    input:
        unpack(baseline_inputs),
    output:
        f"{R}/stage2/{{dataset}}/baselines/{{supernet}}/seed{{seed}}.parquet",
    log:
        f"{R}/logs/stage2/{{dataset}}/baselines/{{supernet}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/stage2/{{dataset}}/baselines/{{supernet}}/seed{{seed}}.tsv"
    wildcard_constraints:
        supernet="rsps_uniform|rsps_biased|init_uniform|init_biased",
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=8 * 60,
        gpu=GPUS,
    params:
        bench_dataset=lambda wc: config["benchmark"]["dataset_map"][wc.dataset],
        stage2=STAGE2_PARAMS,
        network=config["network"],
        device=config["device"],
        code=library_hash("stage2_baseline.py"),
    script:
        "../scripts/stage2_baseline.py"


rule stage2_baselines_table:
    """The baselines' table, reliance statistics and figure of a dataset."""
    input:
        runs=lambda wc: all_baselines(wc.dataset),
    output:
        table=f"{R}/tables/{{dataset}}_stage2_baselines.parquet",
        markdown=f"{R}/tables/{{dataset}}_stage2_baselines.md",
        html=report(
            f"{R}/tables/{{dataset}}_stage2_baselines.html",
            category=dataset_category,
            subcategory="Stage 2",
            caption="../report/table_stage2_baselines.rst",
        ),
        plot=report(
            f"{R}/plots/{{dataset}}/stage2_baselines.png",
            category=dataset_category,
            subcategory="Stage 2",
            caption="../report/stage2_baselines.rst",
        ),
        pdf=f"{R}/plots/{{dataset}}/stage2_baselines.pdf",
    log:
        f"{R}/logs/report/stage2_baselines_{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/report/stage2_baselines_{{dataset}}.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        code=library_hash("stage2_baselines_table.py"),
    script:
        "../scripts/stage2_baselines_table.py"

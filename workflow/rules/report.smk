localrules:
    cost_table,
    tables,
    selection,
    leaves_table,
    stage1_table,
    plot_distributions,
    plot_leaf_epochs,


rule cost_table:
    """Search cost of every run: wall seconds of its split levels and searches, from the jobs'
    benchmark files (fewshotnas.analysis.cost)."""
    input:
        split=lambda wc: sorted({p for r in cost_runs(wc.dataset) for p in r["split"]}),
        search=lambda wc: sorted({p for r in cost_runs(wc.dataset) for p in r["search"]}),
        supernet=lambda wc: supernet_benchmarks(wc.dataset),
        logs=lambda wc: [r["log"] for r in cost_runs(wc.dataset)],
    output:
        cost_table("{dataset}"),
    log:
        f"{R}/logs/report/cost_{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/report/cost_{{dataset}}.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        runs=lambda wc: cost_runs(wc.dataset),
        code=library_hash("cost_table.py"),
    script:
        "../scripts/cost_table.py"


rule tables:
    """Best-over-leaves NB201 accuracy per method × algorithm with its search cost (Parquet +
    Markdown), all lookups, and the accuracy-against-cost figure."""
    input:
        lookups=lambda wc: all_lookups(wc.dataset),
        cost=cost_table("{dataset}"),
    output:
        table=f"{R}/tables/{{dataset}}.parquet",
        markdown=f"{R}/tables/{{dataset}}.md",
        html=report(
            f"{R}/tables/{{dataset}}.html",
            category=dataset_category,
            subcategory="Results",
            caption="../report/table_results.rst",
        ),
        runs=f"{R}/tables/{{dataset}}_runs.parquet",
        plot=report(
            f"{R}/plots/{{dataset}}/cost.png",
            category=dataset_category,
            subcategory="Results",
            caption="../report/cost.rst",
        ),
        pdf=f"{R}/plots/{{dataset}}/cost.pdf",
    log:
        f"{R}/logs/report/tables_{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/report/tables_{{dataset}}.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        code=library_hash("tables.py"),
    script:
        "../scripts/tables.py"


rule selection:
    """Supernet selection (validation accuracy, validation loss, successive halving, oracle)
    per run, as GM-NAS Table 8, and the successive-halving figure."""
    input:
        runs=f"{R}/tables/{{dataset}}_runs.parquet",
        cost=cost_table("{dataset}"),
    output:
        table=f"{R}/tables/{{dataset}}_selection.parquet",
        markdown=f"{R}/tables/{{dataset}}_selection.md",
        html=report(
            f"{R}/tables/{{dataset}}_selection.html",
            category=dataset_category,
            subcategory="Search",
            caption="../report/table_selection.rst",
        ),
        plot=report(
            f"{R}/plots/{{dataset}}/halving.png",
            category=dataset_category,
            subcategory="Search",
            caption="../report/halving.rst",
        ),
        pdf=f"{R}/plots/{{dataset}}/halving.pdf",
    log:
        f"{R}/logs/report/selection_{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/report/selection_{{dataset}}.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        bench_dataset=lambda wc: config["benchmark"]["dataset_map"][wc.dataset],
        halving_epochs=config["report"]["halving_epochs"],
        code=library_hash("selection.py"),
    script:
        "../scripts/selection.py"


rule leaves_table:
    """What every leaf of every split seed's tree holds: size, top architectures, best one."""
    input:
        trees=lambda wc: [final_tree_of_seed(wc.dataset, m, s) for m in SPLIT_METHODS for s in config["split"]["seeds"]],
        split=lambda wc: [
            p for m in SPLIT_METHODS for s in config["split"]["seeds"] for p in split_benchmarks(wc.dataset, m, s)
        ],
        table=BENCH_TABLE,
    output:
        table=f"{R}/tables/{{dataset}}_leaves.parquet",
        markdown=f"{R}/tables/{{dataset}}_leaves.md",
        html=report(
            f"{R}/tables/{{dataset}}_leaves.html",
            category=dataset_category,
            subcategory="Splits",
            caption="../report/table_leaves.rst",
        ),
    log:
        f"{R}/logs/report/leaves_{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/report/leaves_{{dataset}}.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        trees=[(m, s) for m in SPLIT_METHODS for s in config["split"]["seeds"]],
        split=lambda wc: [split_benchmarks(wc.dataset, m, s) for m in SPLIT_METHODS for s in config["split"]["seeds"]],
        bench_dataset=lambda wc: config["benchmark"]["dataset_map"][wc.dataset],
        top_fraction=config["report"]["top_fraction"],
        code=library_hash("leaves_table.py"),
    script:
        "../scripts/leaves_table.py"


rule stage1:
    """Stage-1 statistics of every searched leaf of one run: sampling mass of the final alphas
    and the one-shot ranking of a seeded sample with inherited weights."""
    input:
        data=lambda wc: prepared(wc.dataset),
        finals=lambda wc: [
            search_final(wc.dataset, wc.method, wc.algo, wc.seed, leaf) for leaf in range(num_leaves(wc.method))
        ],
        table=BENCH_TABLE,
    output:
        f"{R}/stage1/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}.parquet",
    log:
        f"{R}/logs/stage1/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/stage1/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        gpu=GPUS,
        mem_mb=4000,
        runtime=4 * 60,
    params:
        bench_dataset=lambda wc: config["benchmark"]["dataset_map"][wc.dataset],
        stage1=config["report"]["stage1"],
        device=config["device"],
        code=library_hash("stage1.py"),
    script:
        "../scripts/stage1.py"


rule stage1_table:
    """All runs' stage-1 statistics of a dataset and their figure."""
    input:
        runs=lambda wc: all_stage1(wc.dataset),
    output:
        table=f"{R}/tables/{{dataset}}_stage1.parquet",
        plot=report(
            f"{R}/plots/{{dataset}}/stage1.png",
            category=dataset_category,
            subcategory="Stage 1",
            caption="../report/stage1.rst",
        ),
        pdf=f"{R}/plots/{{dataset}}/stage1.pdf",
        curves=report(
            f"{R}/plots/{{dataset}}/stage1_curves.png",
            category=dataset_category,
            subcategory="Stage 1",
            caption="../report/stage1_curves.rst",
        ),
        curves_pdf=f"{R}/plots/{{dataset}}/stage1_curves.pdf",
    log:
        f"{R}/logs/report/stage1_{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/report/stage1_{{dataset}}.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        bench_dataset=lambda wc: config["benchmark"]["dataset_map"][wc.dataset],
        code=library_hash("stage1_table.py"),
    script:
        "../scripts/stage1_table.py"


rule plot_distributions:
    """Benchmark accuracy of the architectures in each leaf: whole space and top fraction (cf. Fig. 3)."""
    input:
        trees=lambda wc: [final_tree(wc.dataset, m) for m in SPLIT_METHODS],
        table=BENCH_TABLE,
        runs=f"{R}/tables/{{dataset}}_runs.parquet",
    output:
        plot=report(
            f"{R}/plots/{{dataset}}/distributions.png",
            category=dataset_category,
            subcategory="Splits",
            caption="../report/distributions.rst",
        ),
        pdf=f"{R}/plots/{{dataset}}/distributions.pdf",
    log:
        f"{R}/logs/report/distributions_{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/report/distributions_{{dataset}}.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        bench_dataset=lambda wc: config["benchmark"]["dataset_map"][wc.dataset],
        methods=SPLIT_METHODS,
        top_fraction=config["report"]["top_fraction"],
        code=library_hash("plot_distributions.py"),
    script:
        "../scripts/plot_distributions.py"


rule plot_leaf_epochs:
    """Per-epoch benchmark accuracy of each leaf's derived architecture, best-val-acc leaf marked."""
    input:
        runs=f"{R}/tables/{{dataset}}_runs.parquet",
    output:
        plot=report(
            f"{R}/plots/{{dataset}}/leaf_epochs.png",
            category=dataset_category,
            subcategory="Search",
            caption="../report/leaf_epochs.rst",
        ),
        pdf=f"{R}/plots/{{dataset}}/leaf_epochs.pdf",
    log:
        f"{R}/logs/report/leaf_epochs_{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/report/leaf_epochs_{{dataset}}.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        bench_dataset=lambda wc: config["benchmark"]["dataset_map"][wc.dataset],
        code=library_hash("plot_leaf_epochs.py"),
    script:
        "../scripts/plot_leaf_epochs.py"

localrules:
    tables,
    plot_distributions,
    plot_leaf_epochs,


rule tables:
    """Best-over-leaves NB201 accuracy per method × algorithm (Parquet + Markdown) and all lookups."""
    input:
        lookups=lambda wc: all_lookups(wc.dataset),
    output:
        table=f"{R}/tables/{{dataset}}.parquet",
        markdown=f"{R}/tables/{{dataset}}.md",
        runs=f"{R}/tables/{{dataset}}_runs.parquet",
    log:
        f"{R}/logs/report/tables_{{dataset}}.log",
    params:
        code=library_hash("tables.py"),
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/tables.py"


rule plot_distributions:
    """Benchmark accuracy of the architectures in each leaf: whole space and top 1 % (cf. Fig. 3)."""
    input:
        trees=lambda wc: [final_tree(wc.dataset, m) for m in SPLIT_METHODS],
        table=BENCH_TABLE,
    output:
        report(
            f"{R}/plots/{{dataset}}/distributions.png",
            category="Splits",
            caption="../report/distributions.rst",
        ),
    log:
        f"{R}/logs/report/distributions_{{dataset}}.log",
    params:
        bench_dataset=lambda wc: config["benchmark"]["dataset_map"][wc.dataset],
        methods=SPLIT_METHODS,
        top_fraction=config["report"]["top_fraction"],
        code=library_hash("plot_distributions.py"),
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/plot_distributions.py"


rule plot_leaf_epochs:
    """Per-epoch benchmark accuracy of each leaf's derived architecture, best-val-acc leaf marked."""
    input:
        runs=f"{R}/tables/{{dataset}}_runs.parquet",
    output:
        report(
            f"{R}/plots/{{dataset}}/leaf_epochs.png",
            category="Search",
            caption="../report/leaf_epochs.rst",
        ),
    log:
        f"{R}/logs/report/leaf_epochs_{{dataset}}.log",
    params:
        bench_dataset=lambda wc: config["benchmark"]["dataset_map"][wc.dataset],
        code=library_hash("plot_leaf_epochs.py"),
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/plot_leaf_epochs.py"

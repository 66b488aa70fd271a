# The proxy check: scores per metric, then the table and figure (target `proxies` in the
# Snakefile; not part of `rule all`).
with open(Path(workflow.basedir) / "config" / "schema.yaml") as _f:
    _proxy_schema = yaml.safe_load(_f)["properties"]["report"]["properties"]["proxies"]
SCALAR_METRICS = _proxy_schema["properties"]["metrics"]["items"]["enum"]  # = the registry's (tested)
PROXY_CONFIG = config["report"]["proxies"]
PROXY_METRICS = PROXY_CONFIG["metrics"] or SCALAR_METRICS
PROXY_DATASET = config["datasets"][0]  # the metrics see batches of the first configured dataset
PROXY_PARAMS = {k: v for k, v in PROXY_CONFIG.items() if k != "metrics"}


localrules:
    proxies_table,


rule proxy_scores:
    """One scalar metric's scores of the seeded NB201 sample, as standalone networks at init."""
    input:
        data=prepared(PROXY_DATASET),
        table=BENCH_TABLE,
    output:
        f"{R}/proxies/{{metric}}.parquet",
    log:
        f"{R}/logs/proxies/{{metric}}.log",
    benchmark:
        f"{R}/benchmarks/proxies/{{metric}}.tsv"
    wildcard_constraints:
        metric=one_of(PROXY_METRICS),
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        gpu=GPUS,
        mem_mb=4000,
        runtime=4 * 60,
    params:
        proxies=PROXY_PARAMS,
        device=config["device"],
        code=library_hash("proxy_scores.py"),
    script:
        "../scripts/proxy_scores.py"


rule proxies_table:
    """Every metric's rank correlations with NB201 accuracy, bootstrap intervals, and the figure."""
    input:
        scores=expand(f"{R}/proxies/{{metric}}.parquet", metric=PROXY_METRICS),
    output:
        table=f"{R}/tables/proxies.parquet",
        markdown=f"{R}/tables/proxies.md",
        html=report(
            f"{R}/tables/proxies.html",
            category="Proxy check",
            caption="../report/proxies.rst",
        ),
        scores=f"{R}/tables/proxies_scores.parquet",
        plot=report(
            f"{R}/plots/proxies.png",
            category="Proxy check",
            caption="../report/proxies.rst",
        ),
        pdf=f"{R}/plots/proxies.pdf",
    log:
        f"{R}/logs/report/proxies.log",
    benchmark:
        f"{R}/benchmarks/report/proxies.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        proxies=PROXY_PARAMS,
        dataset=PROXY_DATASET,
        code=library_hash("proxies.py"),
    script:
        "../scripts/proxies.py"

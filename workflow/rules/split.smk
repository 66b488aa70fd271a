localrules:
    split_distance,


rule split_level:
    """Score every node of level {level}−1 on the level's edge and split it by min-cut."""
    input:
        unpack(split_inputs),
    output:
        scores=f"{R}/split/{{dataset}}/{{method}}/seed{{seed}}/level{{level}}/scores.parquet",
        tree=f"{R}/split/{{dataset}}/{{method}}/seed{{seed}}/level{{level}}/tree.parquet",
        warm=f"{R}/split/{{dataset}}/{{method}}/seed{{seed}}/level{{level}}/warm.pt",
    log:
        f"{R}/logs/split/{{dataset}}/{{method}}/seed{{seed}}/level{{level}}.log",
    benchmark:
        f"{R}/benchmarks/split/{{dataset}}/{{method}}/seed{{seed}}/level{{level}}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=lambda wc: 0 if wc.method == "random" else GPUS,  # random splits compute nothing (Slurm: no GPU)
    params:
        split=lambda wc: SPLIT_CONFIG.for_method(wc.method),  # weights resolved per method
        network=config["network"],
        warmup_train=config["supernet"]["train"],
        chance_margin=config["supernet"].get("chance_margin", 5),
        device=config["device"],
        code=library_hash("split_level.py"),
    script:
        "../scripts/split_level.py"


rule split_distance:
    """Internal and external split distance of every method's trees over the split seeds."""
    input:
        trees=lambda wc: [
            tree_path(wc.dataset, m, s, SPLIT_CONFIG.depth) for m in SPLIT_METHODS for s in config["split"]["seeds"]
        ],
    output:
        table=f"{R}/split/{{dataset}}/split_distance.parquet",
        plot=report(
            f"{R}/plots/{{dataset}}/split_distance.png",
            category=dataset_category,
            subcategory="Splits",
            caption="../report/split_distance.rst",
        ),
        pdf=f"{R}/plots/{{dataset}}/split_distance.pdf",
    log:
        f"{R}/logs/split/{{dataset}}/split_distance.log",
    benchmark:
        f"{R}/benchmarks/split/{{dataset}}/split_distance.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        trees=[(m, s) for m in SPLIT_METHODS for s in config["split"]["seeds"]],
        code=library_hash("split_distance.py"),
    script:
        "../scripts/split_distance.py"

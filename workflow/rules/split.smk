rule split_level:
    """Score every node of level {level}−1 on the level's edge and split it by min-cut."""
    input:
        unpack(split_inputs),
    output:
        scores=f"{R}/split/{{dataset}}/{{method}}/seed{{seed}}/level{{level}}/scores.parquet",
        tree=f"{R}/split/{{dataset}}/{{method}}/seed{{seed}}/level{{level}}/tree.parquet",
    log:
        f"{R}/logs/split/{{dataset}}/{{method}}/seed{{seed}}/level{{level}}.log",
    benchmark:
        f"{R}/benchmarks/split/{{dataset}}/{{method}}/seed{{seed}}/level{{level}}.tsv"
    params:
        split=SPLIT_PARAMS,
        device=config["device"],
        code=library_hash("space", "data", "metrics", "split", "train"),
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/split_level.py"

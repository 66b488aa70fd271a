rule train_supernet:
    """Train the root supernet (uniform mixture of all ops), App. A.2; resumes after a kill."""
    input:
        data=prepared("{dataset}"),
    output:
        checkpoint=protected(f"{R}/supernet/{{dataset}}/seed{{seed}}/supernet.pt"),
        train_log=f"{R}/supernet/{{dataset}}/seed{{seed}}/train_log.parquet",
    log:
        f"{R}/logs/supernet/{{dataset}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/supernet/{{dataset}}/seed{{seed}}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        gpu=GPUS,
        mem_mb=8000,
        runtime=24 * 60,
    params:
        network=config["network"],
        train=config["supernet"]["train"],
        device=config["device"],
        resume=f"{R}/_resume/supernet/{{dataset}}/seed{{seed}}.pt",
        code=library_hash("train_supernet.py"),
    script:
        "../scripts/train_supernet.py"

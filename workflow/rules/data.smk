rule prepare_data:
    """Load a dataset, keep a seeded subset, split it into weight/arch halves (one tensor file)."""
    output:
        prepared("{dataset}"),
    log:
        f"{R}/logs/data/{{dataset}}.log",
    benchmark:
        f"{R}/benchmarks/data/{{dataset}}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        data=lambda wc: data_params(wc.dataset),
        # the dataset's identity: a digest of its files' content (not their mtime), so that a
        # replaced or edited file reruns this rule and what follows
        files=lambda wc: dataset_digest(wc.dataset, config["data"]["roots"][wc.dataset], config["data"]["download"]),
        code=library_hash("prepare_data.py"),
    script:
        "../scripts/prepare_data.py"

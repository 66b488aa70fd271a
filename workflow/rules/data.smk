rule prepare_data:
    """Load a dataset, keep a seeded subset, split it into weight/arch halves (one tensor file)."""
    output:
        prepared("{dataset}"),
    log:
        f"{R}/logs/data/{{dataset}}.log",
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        data=lambda wc: data_params(wc.dataset),
        code=library_hash("prepare_data.py"),
    script:
        "../scripts/prepare_data.py"

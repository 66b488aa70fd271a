rule search_leaf:
    """Search one leaf from fresh weights with one algorithm and seed; resumes after a kill."""
    input:
        unpack(search_inputs),
    output:
        log=f"{R}/search/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}/leaf{{leaf}}/log.parquet",
        final=f"{R}/search/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}/leaf{{leaf}}/final.pt",
    log:
        f"{R}/logs/search/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}/leaf{{leaf}}.log",
    benchmark:
        f"{R}/benchmarks/search/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}/leaf{{leaf}}.tsv"
    params:
        network=config["network"],
        search=config["search"]["hparams"],
        device=config["device"],
        resume=f"{R}/_resume/search/{{dataset}}/{{method}}/{{algo}}/seed{{seed}}/leaf{{leaf}}.pt",
        code=library_hash("search_leaf.py"),
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=24 * 60,
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/search_leaf.py"

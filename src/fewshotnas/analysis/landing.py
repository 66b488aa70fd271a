"""The landing text of Snakemake's report: what ran, in display names, for the configured
datasets (standard library only: the Snakefile writes it while Snakemake plans)."""

from __future__ import annotations

from typing import Any

from fewshotnas.analysis.labels import algorithm_label, bench_label, dataset_label, method_label, method_order


def _join(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)


def _epochs(n: int) -> str:
    return f"{n} epoch{'s' if n != 1 else ''}"


def report_description(config: dict[str, Any]) -> str:
    """reStructuredText for ``report:``: the experiment, the supernet, the split methods and
    search algorithms by their display names, and the datasets with the NAS-Bench-201
    accuracies each is judged on (the Fashion-MNIST note only when Fashion-MNIST is searched)."""
    split, search, network = config["split"], config["search"], config["network"]
    datasets = list(config["datasets"])
    methods = [method_label(m) for m in method_order(list(split["methods"]))]
    algorithms = [algorithm_label(a) for a in search["algorithms"]]
    mapping = config["benchmark"]["dataset_map"]
    judged = _join([dataset_label(d) if mapping[d] == d else f"{dataset_label(d)} (judged on {bench_label(mapping[d])})"
                    for d in datasets])
    nosplit = ' (and the whole space as one leaf, "no splitting")' if search["nosplit"] else ""
    parts = [
        f"Metric-driven few-shot neural architecture search on the NAS-Bench-201 space (experiment "
        f"``{config['experiment']}``).",
        "",
        f"**What ran.** A base supernet (C = {network['channels']}, N = {network['cells_per_stage']}) was trained for "
        f"{_epochs(config['supernet']['train']['epochs'])} on each dataset. "
        + (f"Each split method ({_join(methods)}) then grew a splitting tree of depth {split['depth']} (branching "
           f"{split['branching']}): on a chosen edge every operation alone is scored with the metric, the pairwise "
           "similarity of the scores is cut by a min-cut, and the groups become child sub-supernets. "
           if methods else "No split method was configured. ")
        + f"Every leaf{nosplit} was searched from fresh weights with {_join(algorithms)} for "
        f"{_epochs(search['hparams']['epochs'])}, and the architecture each leaf derives was looked up in the "
        "NAS-Bench-201 test-accuracy table.",
        "",
        f"**Datasets.** Searched on {judged}."
        + (" NAS-Bench-201 has no Fashion-MNIST results, so a Fashion-MNIST search is judged on another dataset's "
           "accuracies." if "fashion_mnist" in datasets else ""),
        "",
        "**Analyses.** Best accuracy per split method and algorithm with its search cost (Tables 1–3 of "
        "*Metric-driven supernet splitting for few-shot NAS*); supernet selection by validation accuracy, validation "
        "loss and successive halving against the oracle (GM-NAS, *Generalizing few-shot NAS with gradient matching*, "
        "Table 8); the leaves' contents and accuracy distributions; split distance (*Understanding few-shot NAS with "
        "zero-cost proxies*); stage-1 statistics and Stage-1 × Stage-2 pairings (*Picking up the pieces: separately "
        "evaluating supernet training and architecture selection*).",
        "",
        "Each dataset is one category below, with its results, splits, search, Stage 1 and Stage 2.",
    ]
    return "\n".join(parts) + "\n"

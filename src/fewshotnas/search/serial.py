"""Many leaves searched one after another in one process (``search.fuse_mode: serial``).

A fused job (``search.fuse: tree | dataset``) holds the leaves of a tree, or of a dataset, in
one job. On a GPU it runs them as one fused program (:func:`~fewshotnas.search.engine.search_leaves`
with K leaves). On a CPU fusing is slower than searching the leaves in turn, but one job per
leaf pays Python's and torch's start-up and the data loading per leaf; here they are paid
once and each leaf is searched exactly as a ``search_leaf`` job searches it (same seeds, same
numbers, ``fused_leaves`` = 1).

A kill loses at most the leaf being searched: it resumes from its epoch file, and every
finished leaf's result is kept in the resume folder, keyed by its configuration and the
search code, until the whole job is done.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd

from fewshotnas.codehash import code_hash
from fewshotnas.data import PreparedData
from fewshotnas.files import CheckpointError, atomic_write, config_hash
from fewshotnas.io import ResultFileError, read_parquet_checked, write_parquet_atomic
from fewshotnas.search.engine import algorithm_class, leaf_config_hash, run_search
from fewshotnas.search.result import LeafResult
from fewshotnas.space import OpMask
from fewshotnas.train.device import resolve_device

log = logging.getLogger(__name__)

FUSE_MODES = ("auto", "fused", "serial")


def resolve_fuse_mode(mode: str, device: str) -> str:
    """``fused`` or ``serial`` for a fused job: ``auto`` → fused on a GPU, serial on a CPU."""
    if mode not in FUSE_MODES:
        raise ValueError(f"unknown search.fuse_mode {mode!r}; choose one of {', '.join(FUSE_MODES)}")
    if mode != "auto":
        return mode
    return "fused" if resolve_device(device).type == "cuda" else "serial"


def _copy_atomic(source: Path, target: Path) -> None:
    with open(source, "rb") as src:
        atomic_write(target, lambda dst: shutil.copyfileobj(src, dst))


def search_leaves_serially(algorithm: str, data: PreparedData, *, masks: list[OpMask], network: dict, search: dict,
                           seed: int, out_finals: list[str | Path], resume_dir: str | Path, device: str = "auto",
                           threads: int | None = None, quiet: bool = False,
                           labels: list[str] | None = None) -> list[pd.DataFrame]:
    """Search each leaf of ``masks`` alone (:func:`~fewshotnas.search.engine.run_search`), in
    order, writing ``out_finals[k]``; returns the per-epoch logs. Leaf k resumes from
    ``resume_dir``/leaf{k}.pt; a finished leaf is kept as ``resume_dir``/leaf{k}-<key>.{pt,parquet}
    and restored instead of searched again when the job reruns with the same configuration and
    code (an unreadable copy is searched again). ``resume_dir`` is removed when all are done."""
    if len(out_finals) != len(masks):
        raise ValueError(f"{len(masks)} leaves but {len(out_finals)} output paths")
    labels = labels or [f"leaf{k}" for k in range(len(masks))]
    name = algorithm_class(algorithm).name
    code = code_hash("fewshotnas.search")
    folder = Path(resume_dir)
    folder.mkdir(parents=True, exist_ok=True)
    logs = []
    for k, (mask, out_final, label) in enumerate(zip(masks, out_finals, labels)):
        key = config_hash({"leaf": leaf_config_hash(name, data, mask=mask, network=network, search=search,
                                                    seed=seed), "code": code})
        kept_final, kept_log = folder / f"leaf{k}-{key}.pt", folder / f"leaf{k}-{key}.parquet"
        if kept_final.exists() and kept_log.exists():
            try:
                LeafResult.load(kept_final)
                search_log = read_parquet_checked(kept_log)
            except (CheckpointError, ResultFileError, ValueError, OSError) as err:
                log.warning("%s: the kept result of an earlier run is unreadable (%s); searching it again", label, err)
            else:
                _copy_atomic(kept_final, Path(out_final))
                log.info("%s: finished in an earlier run of this job; kept result restored", label)
                logs.append(search_log)
                continue
        log.info("leaf %d of %d: %s", k + 1, len(masks), label)
        search_log = run_search(algorithm, data, mask=mask, network=network, search=search, seed=seed,
                                out_final=out_final, resume_path=folder / f"leaf{k}.pt", device=device,
                                threads=threads, quiet=quiet, label=label)
        _copy_atomic(Path(out_final), kept_final)
        write_parquet_atomic(search_log, kept_log)
        logs.append(search_log)
    shutil.rmtree(folder, ignore_errors=True)
    return logs

"""Atomic Parquet/text writes, provenance metadata, checked Parquet reads and logging set-up."""

from __future__ import annotations

import json
import logging
import platform
import subprocess
import sys
from functools import lru_cache
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fewshotnas import __version__
from fewshotnas.files import atomic_write, config_hash

JOB: dict[str, Any] = {}
"""What :func:`setup_logging` learnt about the running job (config hash, device); every
Parquet file the job writes records it."""


@lru_cache(maxsize=1)
def code_commit() -> str | None:
    """The git commit of the checkout the package runs from (``+dirty`` when tracked files
    differ), or None outside git."""
    src = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def provenance() -> dict[str, Any]:
    """Package version, git commit, torch and Python versions, and the job's config hash and
    device (when :func:`setup_logging` was given them)."""
    try:
        torch_version: str | None = importlib_metadata.version("torch")
    except importlib_metadata.PackageNotFoundError:
        torch_version = None
    return {"version": __version__, "commit": code_commit(), "torch": torch_version,
            "python": platform.python_version(), **JOB}


def write_parquet_atomic(df: pd.DataFrame, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
    """Write ``df`` to ``path`` via a temporary file; ``metadata`` goes into the schema
    (key ``fewshotnas``, JSON) together with :func:`provenance`."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"fewshotnas"] = json.dumps({**provenance(), **(metadata or {})}, default=str).encode()
    table = table.replace_schema_metadata(meta)
    atomic_write(path, lambda f: pq.write_table(table, f))


def read_parquet_metadata(path: str | Path) -> dict[str, Any]:
    """The ``fewshotnas`` provenance dict stored by :func:`write_parquet_atomic`."""
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(b"fewshotnas", b"{}"))


def write_text_atomic(text: str, path: str | Path) -> None:
    """Write a text file (UTF-8) via a temporary file."""
    atomic_write(path, lambda f: f.write(text.encode()))


class ResultFileError(RuntimeError):
    """A result file of the workflow cannot be read."""


def read_parquet_checked(path: str | Path) -> pd.DataFrame:
    """``pd.read_parquet`` with an error that names the file and the fix when it is missing,
    truncated or not Parquet at all."""
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as err:
        raise ResultFileError(f"{path} is not a readable Parquet file ({type(err).__name__}: "
                              f"{str(err).splitlines()[0][:160]}); delete it and rerun: Snakemake rebuilds it "
                              "from its inputs") from err


def setup_logging(log_path: str | Path | None = None, level: int = logging.INFO, *, device: str = "cpu",
                  threads: int | None = None, config: dict | None = None) -> logging.Logger:
    """Log to ``log_path`` (if given) and to stderr; returns the package logger.

    Sets torch's thread count (``threads``; default $OMP_NUM_THREADS or all cores), logs one
    line with the device (``device``: a config value such as ``auto``), compute dtype, torch
    version and threads, and routes an uncaught exception's traceback into the log too, so
    that a failed job's log says why it failed. The resolved device and the hash of ``config``
    (the workflow's whole config) go into every Parquet file's provenance."""
    from fewshotnas.train.device import configure_torch, describe_runtime, resolve_device

    logger = logging.getLogger("fewshotnas")
    logger.setLevel(level)
    logger.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path is not None:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    for handler in handlers:
        handler.setFormatter(fmt)
        logger.addHandler(handler)

    def log_uncaught(kind: type[BaseException], err: BaseException, tb) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, err, tb)
            return
        logger.critical("job failed: %s: %s", kind.__name__, err, exc_info=(kind, err, tb))

    sys.excepthook = log_uncaught
    configure_torch(threads)
    resolved = resolve_device(device)
    JOB.update(device=str(resolved))
    if config is not None:
        JOB.update(config_hash=config_hash(config))
    logger.info("fewshotnas %s; %s", __version__, describe_runtime(resolved))
    return logger

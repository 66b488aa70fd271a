"""Atomic Parquet/text writes, provenance metadata, checked Parquet reads and logging set-up."""

from __future__ import annotations

import hashlib
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


DIGEST_KEY = b"fewshotnas_footer_sha256"
"""Schema-metadata key of :func:`footer_digest` in every Parquet file this module writes."""


def footer_digest(schema: pa.Schema) -> str:
    """SHA-256 over what a Parquet footer says about the data: every column's name and type and
    every schema-metadata entry (provenance, pandas' dtypes) except the digest itself. Page
    checksums (CRC-32, written and verified by pyarrow) cover the data; this covers the rest."""
    digest = hashlib.sha256()
    for field in schema:
        digest.update(f"{field.name}\0{field.type}\0{field.nullable}\0".encode())
    for key, value in sorted((schema.metadata or {}).items()):
        if key != DIGEST_KEY:
            digest.update(b"%d:%s%d:%s" % (len(key), key, len(value), value))
    return digest.hexdigest()


def write_parquet_atomic(df: pd.DataFrame, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
    """Write ``df`` to ``path`` via a temporary file; ``metadata`` goes into the schema
    (key ``fewshotnas``, JSON) together with :func:`provenance`. Every data page carries a
    checksum and the footer a :func:`footer_digest`, which :func:`read_parquet_checked` verifies."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"fewshotnas"] = json.dumps({**provenance(), **(metadata or {})}, default=str).encode()
    table = table.replace_schema_metadata(meta)
    draft = pa.BufferOutputStream()  # the digest is of the schema as readers will see it (Parquet's list names …)
    pq.write_table(table.slice(0, 0), draft)
    meta[DIGEST_KEY] = footer_digest(pq.read_schema(pa.BufferReader(draft.getvalue()))).encode()
    table = table.replace_schema_metadata(meta)
    atomic_write(path, lambda f: pq.write_table(table, f, write_page_checksum=True))


def read_parquet_metadata(path: str | Path) -> dict[str, Any]:
    """The ``fewshotnas`` provenance dict stored by :func:`write_parquet_atomic` (checked
    against the footer digest, like :func:`read_parquet_checked`)."""
    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError, pa.ArrowException) as err:
        raise ResultFileError(_unreadable(path, err)) from err
    _check_footer(path, schema)
    try:
        return json.loads((schema.metadata or {}).get(b"fewshotnas", b"{}"))
    except ValueError as err:
        raise ResultFileError(_unreadable(path, err)) from err


def write_text_atomic(text: str, path: str | Path) -> None:
    """Write a text file (UTF-8) via a temporary file."""
    atomic_write(path, lambda f: f.write(text.encode()))


class ResultFileError(RuntimeError):
    """A result file of the workflow cannot be read, or its content does not match its checksums."""


FIX = "delete it and rerun: Snakemake rebuilds it from its inputs"


def _unreadable(path: str | Path, err: BaseException) -> str:
    return f"{path} is not a readable Parquet file ({type(err).__name__}: {str(err).splitlines()[0][:160]}); {FIX}"


def _check_footer(path: str | Path, schema: pa.Schema) -> None:
    stored = (schema.metadata or {}).get(DIGEST_KEY)
    if stored is None:  # a damaged footer can drop the whole metadata block, digest included
        raise ResultFileError(f"{path} carries no footer digest: it was not written by this version of "
                              f"fewshotnas, or its footer is damaged; {FIX}")
    if stored.decode(errors="replace") != footer_digest(schema):
        raise ResultFileError(f"{path} is corrupt: its columns or metadata do not match the digest stored with "
                              f"them; {FIX}")


def read_parquet_checked(path: str | Path) -> pd.DataFrame:
    """Read a Parquet file written by :func:`write_parquet_atomic`, verifying its page checksums
    and footer digest, with an error that names the file and the fix when it is missing,
    truncated, not Parquet at all, corrupt or without a digest (older or foreign files)."""
    try:
        table = pq.read_table(path, page_checksum_verification=True)
        _check_footer(path, table.schema)
        return table.to_pandas()
    except ResultFileError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError, pa.ArrowException) as err:
        if "checksum" in str(err).lower() or "CRC" in str(err):
            raise ResultFileError(f"{path} is corrupt: a data page does not match its checksum; {FIX}") from err
        raise ResultFileError(_unreadable(path, err)) from err


def setup_logging(log_path: str | Path | None = None, level: int = logging.INFO, *, device: str = "cpu",
                  threads: int | None = None, config: dict | None = None, params: Any = None) -> logging.Logger:
    """Log to ``log_path`` (if given) and to stderr; returns the package logger.

    Sets torch's thread count (``threads``; default $OMP_NUM_THREADS or all cores), logs one
    line with the device (``device``: a config value such as ``auto``), compute dtype, torch
    version and threads, and routes an uncaught exception's traceback into the log too, so
    that a failed job's log says why it failed. Each line starts with the date and time.
    ``params`` (a mapping, or anything with ``items()`` such as a Snakemake job's params: the
    hyperparameters it runs with) is logged as one JSON line. The resolved device, ``config``
    (the workflow's whole resolved config, as JSON, which YAML also reads) and its hash go into
    every Parquet file's provenance."""
    from fewshotnas.train.device import configure_torch, describe_runtime, resolve_device

    logger = logging.getLogger("fewshotnas")
    logger.setLevel(level)
    logger.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
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
        JOB.update(config_hash=config_hash(config), config=json.dumps(config, default=str))
    logger.info("fewshotnas %s; %s", __version__, describe_runtime(resolved))
    if params is not None:
        logger.info("parameters: %s", json.dumps(dict(params.items()), default=str, sort_keys=True))
    return logger

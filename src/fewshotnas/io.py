"""Atomic Parquet/text writes, provenance metadata and logging set-up."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fewshotnas import __version__
from fewshotnas.train.checkpoint import atomic_path, replace_atomic


def write_parquet_atomic(df: pd.DataFrame, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
    """Write ``df`` to ``path`` via a temporary file; ``metadata`` goes into the schema
    (key ``fewshotnas``, JSON) together with the package version."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"fewshotnas"] = json.dumps({"version": __version__, **(metadata or {})}, default=str).encode()
    table = table.replace_schema_metadata(meta)
    fd, tmp = atomic_path(path)
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        replace_atomic(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_parquet_metadata(path: str | Path) -> dict[str, Any]:
    """The ``fewshotnas`` provenance dict stored by :func:`write_parquet_atomic`."""
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(b"fewshotnas", b"{}"))


def write_text_atomic(text: str, path: str | Path) -> None:
    """Write a text file via a temporary file."""
    fd, tmp = atomic_path(path)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        replace_atomic(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def setup_logging(log_path: str | Path | None = None, level: int = logging.INFO) -> logging.Logger:
    """Log to ``log_path`` (if given) and to stderr; returns the package logger."""
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
    return logger

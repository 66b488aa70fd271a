"""Atomic writes and checked loads for checkpoints and resume files.

Every checkpoint is a dict with ``format`` (an int per kind of file) and, where
it comes from a configured stage, ``config_hash``. A file that cannot be read,
has another format, or came from another configuration is a clear error, never
a silent reuse.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch


class CheckpointError(RuntimeError):
    """A checkpoint is corrupt, of another format, or from another configuration."""


def config_hash(obj: Any) -> str:
    """Stable 16-hex-digit hash of a JSON-serialisable configuration."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def atomic_path(path: str | Path) -> tuple[int, str]:
    """Create a temporary file next to ``path``; returns (fd, tmp_path)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")


def replace_atomic(tmp: str, path: str | Path) -> None:
    """Rename ``tmp`` over ``path`` (atomic on POSIX)."""
    os.replace(tmp, path)


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename over ``path``."""
    fd, tmp = atomic_path(path)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        replace_atomic(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checked(
    path: str | Path, *, kind: str, format_version: int, expected_hash: str | None = None
) -> dict[str, Any]:
    """Load a checkpoint and check its format (and config hash when given)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{kind} file {path} does not exist; rerun the stage that writes it")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # pickle/zip errors of many kinds
        raise CheckpointError(
            f"{kind} file {path} is corrupt or not a torch file ({type(err).__name__}: {err}); "
            "delete it and rerun the stage that writes it"
        ) from err
    if not isinstance(obj, dict) or obj.get("format") != format_version:
        found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(
            f"{kind} file {path} has format {found!r}, expected {format_version}; delete it and rerun its stage"
        )
    if expected_hash is not None and obj.get("config_hash") != expected_hash:
        raise CheckpointError(
            f"{kind} file {path} was written for configuration {obj.get('config_hash')}, not {expected_hash}; "
            "delete it (or its _resume folder) and rerun"
        )
    return obj


def load_resume(path: str | Path, *, kind: str, format_version: int, expected_hash: str) -> dict[str, Any] | None:
    """The resume state at ``path`` if it exists and belongs to this configuration.

    A resume file from another configuration (the config changed after a kill) is
    stale: it is logged, left to be overwritten, and None is returned so that the
    stage starts afresh. A corrupt file is an error.
    """
    import logging

    path = Path(path)
    if not path.exists():
        return None
    try:
        return load_checked(path, kind=kind, format_version=format_version, expected_hash=expected_hash)
    except CheckpointError as err:
        if "corrupt" in str(err) or "does not exist" in str(err):
            raise
        logging.getLogger("fewshotnas").warning("ignoring stale %s (%s); starting afresh", kind, err)
        return None


def global_rng_state() -> dict[str, Any]:
    """torch's global CPU (and CUDA, when present) RNG states, for exact resume of
    anything that draws from the global generator (e.g. Gumbel noise, dropout)."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_global_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`global_rng_state`."""
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])

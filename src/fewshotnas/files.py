"""The ground floor for files: one atomic write, checked torch checkpoints and resume files.

* :func:`atomic_write` writes through a temporary file in the target's folder, keeps
  the user's umask, fsyncs the file and its folder, then renames: a reader sees the old
  file or the new one, also after a power loss, never half of one. A full disk is a
  :class:`DiskFullError` naming the file; temporary files a killed writer left behind are
  removed by the next write of the same file.
* :func:`save_checkpoint` / :func:`load_checkpoint` store a dict with ``format`` (an
  int per kind of file), optionally ``config_hash``, and ``content_sha256``, a digest of
  everything else, checked on load (torch does not check its zip CRCs). Loads use
  ``weights_only=True``: a file can hold tensors, numbers, strings and containers,
  never code.
* :class:`EpochResume` is the resume file of an epoch loop (base supernet, leaf search).

Every failure is a :class:`CheckpointError` subclass whose message names the file and
the fix.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import torch

log = logging.getLogger("fewshotnas")


class CheckpointError(RuntimeError):
    """A checkpoint or resume file cannot be used (subclasses say why)."""


class CheckpointMissing(CheckpointError):
    """The file does not exist."""


class CheckpointCorrupt(CheckpointError):
    """The file cannot be read, holds something other than tensors and plain data, or its
    content does not match its stored digest."""


class CheckpointFormatError(CheckpointError):
    """The file is of another kind or format version."""


class CheckpointConfigMismatch(CheckpointError):
    """The file was written for another configuration (or code, or data)."""


def config_hash(obj: Any) -> str:
    """Stable 16-hex-digit hash of a JSON-serialisable configuration."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class DiskFullError(OSError):
    """The disk (or quota) filled up while an output was written; the old file is kept."""


_STARTED = time.time()
"""When this process imported the module: temporary files older than this are leftovers."""


def _stale_temporaries(path: Path) -> list[Path]:
    """Temporary files of ``path`` (``.<name>.<8 random chars>.tmp``, see :func:`atomic_write`)
    last written before this process started: left behind by a killed writer. Safe with two
    runs in one folder: Snakemake's lock keeps them from writing the same output, and a
    writer's temporary file lives only while it writes bytes already serialised in memory."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[A-Za-z0-9_]{{8}}\.tmp")
    stale = []
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if pattern.fullmatch(candidate.name) and candidate.stat().st_mtime < _STARTED:
                stale.append(candidate)
        except OSError:  # removed meanwhile
            continue
    return stale


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on an in-memory binary file, then store its bytes at ``path`` atomically:
    a temporary file next to ``path``, permissions from the umask (as ``open`` would give), file
    and folder fsynced before and after the rename. On any error the temporary file is removed
    and ``path`` is left as it was; a full disk is a :class:`DiskFullError` naming the file.
    Temporary files of ``path`` left by a killed earlier writer are removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in _stale_temporaries(path):
        log.info("removing %s, left behind by a killed writer of %s", stale, path)
        stale.unlink(missing_ok=True)
    buffer = io.BytesIO()
    write(buffer)  # serialise first: the disk sees one plain write, whose errors say what they are
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(buffer.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as err:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(err.errno, f"disk full while writing {path} ({buffer.tell():,} bytes; "
                                f"{os.strerror(err.errno)}); free space in {path.parent} and rerun") from err
        raise


def content_digest(obj: Any) -> str:
    """SHA-256 over a nested structure of dicts, lists/tuples, tensors and plain values, in
    a fixed order (dict keys sorted by their text; tensors by dtype, shape and bytes)."""
    digest = hashlib.sha256()

    def visit(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            digest.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            digest.update(b"D%d" % len(value))
            for key in sorted(value, key=str):
                digest.update(repr(key).encode())
                visit(value[key])
        elif isinstance(value, (list, tuple)):
            digest.update(b"L%d" % len(value))
            for item in value:
                visit(item)
        else:
            digest.update(repr(value).encode())

    visit(obj)
    return digest.hexdigest()


def save_checkpoint(obj: dict[str, Any], path: str | Path) -> None:
    """``torch.save`` ``obj`` plus its ``content_sha256`` to ``path`` atomically."""
    payload = {**obj, "content_sha256": content_digest(obj)}
    atomic_write(path, lambda f: torch.save(payload, f))


def load_checkpoint(path: str | Path, *, kind: str, format_version: int,
                    expected_hash: str | None = None) -> dict[str, Any]:
    """Load a file written by :func:`save_checkpoint` (``weights_only``), check its digest,
    its format and, when given, its config hash. ``kind`` names the file in errors."""
    path = Path(path)
    fix = "delete it and rerun the stage that writes it (snakemake rebuilds it)"
    if not path.is_file():
        raise CheckpointMissing(f"{kind} file {path} does not exist; rerun the stage that writes it")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # zip, pickle and weights-only refusals of many kinds
        raise CheckpointCorrupt(f"{kind} file {path} is corrupt or holds more than tensors and plain data "
                                f"({type(err).__name__}: {str(err).splitlines()[0][:200]}); {fix}") from err
    if not isinstance(obj, dict) or "content_sha256" not in obj:
        raise CheckpointFormatError(f"{kind} file {path} is not a fewshotnas checkpoint (no content digest); {fix}")
    stored = obj.pop("content_sha256")
    if content_digest(obj) != stored:
        raise CheckpointCorrupt(f"{kind} file {path} is corrupt: its content does not match its stored SHA-256; "
                                f"{fix}")
    if obj.get("format") != format_version:
        raise CheckpointFormatError(f"{kind} file {path} has format {obj.get('format')!r}, expected "
                                    f"{format_version}; {fix}")
    if expected_hash is not None and obj.get("config_hash") != expected_hash:
        raise CheckpointConfigMismatch(f"{kind} file {path} was written for configuration "
                                       f"{obj.get('config_hash')}, not {expected_hash}; {fix}")
    return obj


def global_rng_state() -> dict[str, Any]:
    """torch's global CPU (and CUDA, when present) RNG states, for exact resume of
    anything that draws from the global generator (e.g. Gumbel noise)."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_global_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`global_rng_state`."""
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Stateful(Protocol):
    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class GeneratorState:
    """A ``torch.Generator`` seen as a :class:`Stateful`."""

    def __init__(self, generator: torch.Generator) -> None:
        self.generator = generator

    def state_dict(self) -> dict:
        return {"state": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["state"])


RESUME_FORMAT = 2


class EpochResume:
    """The resume file of an epoch loop (``stage`` names it in logs and errors): after every
    finished epoch it stores the state of ``parts`` (models, optimisers, schedules,
    data-order generators), torch's global RNG, the log rows so far and the epoch count,
    atomically.

    ``key`` identifies the run (configuration, seed, the library code's hash, the data's
    identity): a resume file under another key is stale, logged and ignored; a corrupt one
    is an error naming the file. Use::

        resume = EpochResume(path, "search", key, {"algorithm": algo, ...})
        for epoch in resume.epochs(total):   # starts after the last finished epoch
            ...; resume.rows.append(row)     # the state is saved when the body is done
        resume.finish()                      # outputs written: the resume file goes
    """

    def __init__(self, path: str | Path, stage: str, key: dict[str, Any], parts: dict[str, Stateful]) -> None:
        self.path, self.stage, self.kind, self.parts = Path(path), stage, f"{stage} resume file", parts
        self.key_hash = config_hash(key)
        self.rows: list[dict] = []
        self.start = 0

    def _restore(self) -> None:
        if not self.path.exists():
            return
        try:
            state = load_checkpoint(self.path, kind=self.kind, format_version=RESUME_FORMAT,
                                    expected_hash=self.key_hash)
        except (CheckpointConfigMismatch, CheckpointFormatError) as err:
            log.warning("ignoring stale %s (%s); starting afresh", self.kind, err)
            return
        for name, part in self.parts.items():
            part.load_state_dict(state["parts"][name])
        set_global_rng_state(state["rng"])
        self.rows, self.start = list(state["rows"]), int(state["epoch"])
        log.info("resuming %s at epoch %d from %s", self.stage, self.start, self.path)

    def epochs(self, total: int) -> Iterator[int]:
        """Epoch indices ``start .. total − 1`` (0-based); the state is saved after each."""
        self._restore()
        for epoch in range(self.start, total):
            yield epoch
            save_checkpoint(dict(format=RESUME_FORMAT, config_hash=self.key_hash,
                                 parts={name: part.state_dict() for name, part in self.parts.items()},
                                 rng=global_rng_state(), rows=self.rows, epoch=epoch + 1), self.path)

    def finish(self) -> None:
        """Remove the resume file (call once the stage's outputs are written)."""
        self.path.unlink(missing_ok=True)


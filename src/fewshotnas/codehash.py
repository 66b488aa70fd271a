"""Which library modules a piece of code runs, and a hash of their source (standard library
only, so the workflow can use it while it is parsed).

A rule reruns when the hash of its script and of the ``fewshotnas`` modules the script
imports (directly or through other library modules, at any depth and inside functions)
changes (:func:`script_hash`, a rule's ``params.code``): content, not modification times.
A resume file is only continued by the same code.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGE = "fewshotnas"
SRC = Path(__file__).resolve().parents[1]
"""The folder that holds the ``fewshotnas`` package."""


def module_file(module: str, src: Path = SRC) -> Path | None:
    """The source file of a dotted module name under ``src`` (package → its __init__.py)."""
    base = src.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _imports(path: Path, module: str | None) -> set[str]:
    """Library modules named by the import statements of one file (relative ones resolved)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and module is not None:
                package = module.split(".")
                if path.name != "__init__.py":
                    package = package[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(n for n in names if n == PACKAGE or n.startswith(PACKAGE + "."))
    return found


def imported_modules(entry: str | Path, src: Path = SRC) -> dict[str, Path]:
    """Every library module that running ``entry`` (a script path or a dotted module name)
    may import, with its file: the transitive closure of its import statements, each module's
    parent packages included (importing ``a.b`` runs ``a/__init__.py``)."""
    todo: list[tuple[Path, str | None]] = []
    if isinstance(entry, Path) or str(entry).endswith(".py"):
        todo.append((Path(entry), None))
    else:
        path = module_file(str(entry), src)
        if path is None:
            raise ValueError(f"no library module {entry!r} under {src}")
        todo.append((path, str(entry)))
    seen: dict[str, Path] = {}
    while todo:
        path, module = todo.pop()
        for name in _imports(path, module):
            for candidate in _with_parents(name):
                file = module_file(candidate, src)
                if file is not None and candidate not in seen:
                    seen[candidate] = file
                    todo.append((file, candidate))
    if isinstance(entry, str) and not entry.endswith(".py"):
        for candidate in _with_parents(entry):
            file = module_file(candidate, src)
            if file is not None:
                seen.setdefault(candidate, file)
    return dict(sorted(seen.items()))


def code_hash(entry: str | Path, src: Path = SRC) -> str:
    """16 hex digits of SHA-256 over the source of :func:`imported_modules` (names and bytes)."""
    digest = hashlib.sha256()
    for name, path in imported_modules(entry, src).items():
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def script_hash(script: str | Path, src: Path = SRC) -> str:
    """16 hex digits of SHA-256 over a workflow script's own bytes and :func:`code_hash` of
    what it imports: it changes when the script's or the library's content does, never when
    a file is only touched."""
    digest = hashlib.sha256(Path(script).read_bytes())
    digest.update(code_hash(script, src).encode())
    return digest.hexdigest()[:16]

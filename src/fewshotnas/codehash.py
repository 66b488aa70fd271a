"""Which library modules a piece of code runs, and a hash of what their code does (standard
library only, so the workflow can use it while it is parsed).

A rule reruns when the hash of its script and of the ``fewshotnas`` modules the script
imports (directly or through other library modules, at any depth and inside functions)
changes (:func:`script_hash`, a rule's ``params.code``): behaviour, not bytes and not
modification times. What is hashed is each file's syntax tree (:func:`behaviour_source`)
without docstrings, bare string statements, comments, blank lines or layout, so that
editing any of those reruns nothing, while any change to the code itself reruns exactly the
stages whose scripts import the module. A resume file is only continued by the same code.
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


def _is_bare_string(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _drop_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` without statements that are a bare string (docstrings and attribute
    docstrings, in any block): they do nothing when the code runs."""
    for node in ast.walk(tree):
        for block in ("body", "orelse", "finalbody"):
            stmts = getattr(node, block, None)
            if isinstance(stmts, list):
                setattr(node, block, [stmt for stmt in stmts if not _is_bare_string(stmt)])
    return tree


def behaviour_source(path: Path) -> str:
    """The code of a Python file as its syntax tree dumped without positions, docstrings,
    bare string statements and comments: equal for two files that differ only in those or in
    layout. A file that does not parse is returned as its text, so it still changes the hash."""
    text = path.read_text()
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError:
        return text
    return ast.dump(_drop_docstrings(tree), include_attributes=False)


def code_hash(entry: str | Path, src: Path = SRC) -> str:
    """16 hex digits of SHA-256 over :func:`imported_modules`: each module's name and its
    :func:`behaviour_source`."""
    digest = hashlib.sha256()
    for name, path in imported_modules(entry, src).items():
        digest.update(name.encode())
        digest.update(behaviour_source(path).encode())
    return digest.hexdigest()[:16]


def script_hash(script: str | Path, src: Path = SRC) -> str:
    """16 hex digits of SHA-256 over a workflow script's :func:`behaviour_source` and
    :func:`code_hash` of what it imports: it changes when the script's or the library's code
    does, never when a file is only touched or its docstrings and comments are edited."""
    digest = hashlib.sha256(behaviour_source(Path(script)).encode())
    digest.update(code_hash(script, src).encode())
    return digest.hexdigest()[:16]

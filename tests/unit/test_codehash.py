"""Each rule's code hash covers exactly the library modules its script runs."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fewshotnas.codehash import code_hash, imported_modules, script_hash

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "workflow" / "scripts").glob("*.py"))


# One process imports the third-party packages once, then forks a child per script that runs the
# script's import statements: each child starts with no fewshotnas module loaded.
FORK_PER_SCRIPT = """
import json, os, sys
import matplotlib, numpy, pandas, pyarrow, scipy, torch  # third-party only: no fewshotnas module
result = {}
for name, imports in json.loads(sys.stdin.read()).items():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        exec(imports, {})
        loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'fewshotnas')
        os.write(write, json.dumps(loaded).encode())
        os._exit(0)
    os.close(write)
    data = b''
    while chunk := os.read(read, 1 << 16):
        data += chunk
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert status == 0, (name, status)
    result[name] = json.loads(data)
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def loaded_by_imports() -> dict[str, set[str]]:
    """Per script, the ``fewshotnas`` modules Python loads when its import statements run."""
    imports = {}
    for script in SCRIPTS:
        tree = ast.parse(script.read_text())
        statements = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        imports[script.name] = "\n".join(ast.unparse(n) for n in statements)
    out = subprocess.run([sys.executable, "-c", FORK_PER_SCRIPT], input=json.dumps(imports), capture_output=True,
                         text=True, check=True, timeout=1200)
    return {name: set(loaded) for name, loaded in json.loads(out.stdout.strip().splitlines()[-1]).items()}


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_hash_covers_every_module_the_script_loads(script, loaded_by_imports):
    covered = set(imported_modules(script))
    missing = loaded_by_imports[script.name] - covered
    assert loaded_by_imports[script.name], f"{script.name} loads no fewshotnas module"
    assert not missing, f"{script.name}: the code hash misses {sorted(missing)}"


def test_only_the_stages_that_run_a_module_rerun():
    modules = {s.name: set(imported_modules(s)) for s in SCRIPTS}
    assert not any("fewshotnas.cli" in m for m in modules.values())  # editing the CLI reruns nothing
    assert "fewshotnas.split" in modules["search_leaf.py"]  # it reads the tree with fewshotnas.split
    assert "fewshotnas.metrics.linear_regions" in modules["split_level.py"]
    assert "fewshotnas.metrics.linear_regions" not in modules["train_supernet.py"]  # metrics edits keep the supernet
    assert "fewshotnas.search.darts" not in modules["tables.py"]


def test_relative_and_function_level_imports(tmp_path):
    pkg = tmp_path / "fewshotnas"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .a import f\n")
    (pkg / "sub" / "a.py").write_text("def f():\n    from . import b\n    from ..top import g\n")
    (pkg / "sub" / "b.py").write_text("")
    (pkg / "top.py").write_text("import os\n")
    (pkg / "unused.py").write_text("")
    script = tmp_path / "s.py"
    script.write_text("from fewshotnas.sub import f\n")
    found = set(imported_modules(script, tmp_path))
    assert found == {"fewshotnas", "fewshotnas.sub", "fewshotnas.sub.a", "fewshotnas.sub.b", "fewshotnas.top"}
    before = code_hash(script, tmp_path)
    (pkg / "unused.py").write_text("x = 1\n")
    assert code_hash(script, tmp_path) == before
    (pkg / "top.py").write_text("import sys\n")
    assert code_hash(script, tmp_path) != before


def test_docstrings_comments_and_layout_leave_the_hash_code_changes_move_it(tmp_path):
    pkg = tmp_path / "fewshotnas"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    lib = pkg / "lib.py"
    lib.write_text('"""A module."""\n\nX = 1\n"""What X is."""\n\n\ndef f(a):\n    """Add X."""\n    return a + X\n')
    other = pkg / "other.py"
    other.write_text("def g():\n    return 2\n")
    uses_lib, uses_other = tmp_path / "s.py", tmp_path / "t.py"
    uses_lib.write_text("from fewshotnas.lib import f\n")
    uses_other.write_text("from fewshotnas.other import g\n")
    before = {s: code_hash(s, tmp_path) for s in (uses_lib, uses_other)}
    script_before = script_hash(uses_lib, tmp_path)
    lib.write_text('"""A module, documented better."""\n# a comment\nX = 1  # one\n\n\ndef f(a):\n'
                   '    """Add X to ``a``."""\n    # the sum\n    return (a +\n            X)\n')
    assert {s: code_hash(s, tmp_path) for s in before} == before  # docstrings, comments, layout: no rerun
    uses_lib.write_text("# the script's comment\nfrom fewshotnas.lib import f  # f\n")
    assert script_hash(uses_lib, tmp_path) == script_before
    lib.write_text('"""A module."""\nX = 2\n\n\ndef f(a):\n    return a + X\n')
    assert code_hash(uses_lib, tmp_path) != before[uses_lib]  # a changed constant reruns what imports it
    assert code_hash(uses_other, tmp_path) == before[uses_other]  # and nothing else
    lib.write_text('"""A module."""\nX = 2\n\n\ndef f(a):\n    return "a + X"\n')
    assert code_hash(uses_lib, tmp_path) != before[uses_lib]  # a string that is a value, not a docstring


def test_script_hash_follows_the_script_code_not_its_comments(tmp_path):
    (tmp_path / "fewshotnas").mkdir()
    (tmp_path / "fewshotnas" / "__init__.py").write_text("")
    script = tmp_path / "s.py"
    script.write_text('"""Adapter."""\nimport fewshotnas\n\nprint(1)\n')
    before = script_hash(script, tmp_path)
    script.write_text('"""Adapter, reworded."""\n# comment\nimport fewshotnas\nprint(1)  # one\n')
    assert script_hash(script, tmp_path) == before
    script.write_text('"""Adapter."""\nimport fewshotnas\n\nprint(2)\n')
    assert script_hash(script, tmp_path) != before

"""config/README.md from config/schema.yaml: every key with its type, the embedded
default's value and the schema's description (``fewshotnas config-docs``; a test keeps the
committed file in step with the schema)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

HEADER = """# Configuration keys

Generated from `config/schema.yaml` by `fewshotnas config-docs` (do not edit by hand;
`tests/unit/test_config.py` checks that it is current). *default* is the value in
`config/config.yaml`, the embedded default; `config/paper.yaml` holds the papers' setting
and `.test/config/config.yaml` the tiny one the tests run. Unknown keys are errors.

| key | type | default | description |
|---|---|---|---|
"""


def _type(node: dict[str, Any]) -> str:
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    if "oneOf" in node:
        return " or ".join(_type(n) for n in node["oneOf"])
    if "$ref" in node:
        return node["$ref"].rsplit("/", 1)[-1]
    kind = node.get("type", "")
    kinds = kind if isinstance(kind, list) else [kind]
    text = " or ".join(str(k) for k in kinds if k)
    if "items" in node and "array" in kinds:
        text += f" of {_type(node['items'])}"
    return text


def _default(config: Any, path: list[str]) -> str:
    value = config
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return ""
        value = value[key]
    if isinstance(value, dict):
        return ""
    return "`" + json.dumps(value) + "`"


def _rows(node: dict[str, Any], path: list[str], config: Any, defs: dict[str, Any]) -> list[str]:
    if "$ref" in node and node["$ref"].startswith("#/$defs/") and "description" not in node:
        node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
    rows = []
    if path:
        description = " ".join(str(node.get("description", "")).split()).replace("|", "\\|")
        rows.append(f"| `{'.'.join(path)}` | {_type(node) or 'object'} | {_default(config, path)} | {description} |")
    for key, child in node.get("properties", {}).items():
        rows += _rows(child, [*path, key], config, defs)
    return rows


def config_docs(schema_path: str | Path, config_path: str | Path) -> str:
    """The Markdown page describing every key of the schema."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    config = yaml.safe_load(Path(config_path).read_text())
    return HEADER + "\n".join(_rows(schema, [], config, schema.get("$defs", {}))) + "\n"

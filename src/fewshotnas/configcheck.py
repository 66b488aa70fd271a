"""Checks of the workflow config that run while the workflow is parsed, before any job:
the JSON schema (one line per problem), integers that must be integers, batch sizes
against the image counts they draw from, and values that run but make no sense (an
experiment name outside ``results/``, ``lr_min > lr``, a tree too big to plan); and,
before them, strings from ``--config`` read as YAML where the schema wants no string. Standard
library plus ``jsonschema`` and ``yaml`` (which Snakemake itself depends on); no torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

TRAIN_IMAGES = {"fashion_mnist": 60000, "cifar10": 50000, "cifar100": 50000, "imagenet16_120": 151700}
"""Training images of each dataset (ImageNet16-120: the 120 kept classes)."""


def _where(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def schema_errors(config: dict, schema: dict, limit: int = 5) -> list[str]:
    """At most ``limit`` one-line messages ``config <key path>: <what is wrong>``, the most
    relevant error of each offending key first (``jsonschema``'s best match)."""
    import jsonschema
    from jsonschema.exceptions import best_match

    validator = jsonschema.validators.validator_for(schema)(schema)
    by_key: dict[str, list] = {}
    for err in validator.iter_errors(config):
        by_key.setdefault(_where(err.absolute_path), []).append(err)
    lines = []
    for where, errs in sorted(by_key.items()):
        err = best_match(errs)
        message = err.message if len(err.message) <= 160 else err.message[:157] + "..."
        if err.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            message = f"{err.instance!r} is out of range: allowed {_range(err.schema)}"
        elif err.validator == "multipleOf":
            step = err.validator_value
            below = err.instance // step * step
            message = f"{err.instance!r} is not a multiple of {step}: use {below or step} or {below + step}"
        lines.append(f"config {where}: {message}")
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])


def _range(schema: dict) -> str:
    """``2..5``, ``> 0``, ``≥ 1 and < 1`` … from a schema's bounds."""
    lo = (f"≥ {schema['minimum']}" if "minimum" in schema else
          f"> {schema['exclusiveMinimum']}" if "exclusiveMinimum" in schema else "")
    hi = (f"≤ {schema['maximum']}" if "maximum" in schema else
          f"< {schema['exclusiveMaximum']}" if "exclusiveMaximum" in schema else "")
    if "minimum" in schema and "maximum" in schema:
        return f"{schema['minimum']}..{schema['maximum']}"
    return " and ".join(b for b in (lo, hi) if b)


def _resolve(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref")
    if ref and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        return _resolve(target, root)
    return schema


def _types(schema: dict) -> set[str]:
    kind = schema.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string", type(None): "null"}.get(type(value), "other")


def _float_integers(value: Any, schema: dict, root: dict, path: tuple) -> Iterator[str]:
    schema = _resolve(schema, root)
    for key in ("oneOf", "anyOf"):
        for option in schema.get(key, []):
            option = _resolve(option, root)
            kinds = _types(option)
            if not kinds or _json_type(value) in kinds or (_json_type(value) == "number" and "integer" in kinds):
                yield from _float_integers(value, option, root, path)
    kinds = _types(schema)
    if isinstance(value, float) and "integer" in kinds and "number" not in kinds:
        shown = f"write {int(value)}" if value.is_integer() else "it has a fraction"
        yield f"config {_where(path)}: {value!r} must be an integer ({shown})"
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in schema.get("properties", {}):
                yield from _float_integers(item, schema["properties"][key], root, (*path, key))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            yield from _float_integers(item, schema["items"], root, (*path, i))


def _options(schema: dict, root: dict) -> list[dict]:
    return [_resolve(o, root) for key in ("oneOf", "anyOf") for o in schema.get(key, [])]


def _admits_string(schema: dict, root: dict) -> bool:
    """True when the schema (or one of its options) takes a string, or says nothing of types."""
    options = _options(schema, root)
    if not _types(schema) and not options:
        return True
    return "string" in _types(schema) or any(_admits_string(o, root) for o in options)


def _coerce(value: Any, schema: dict, root: dict, path: tuple, changed: list[str]) -> Any:
    schema = _resolve(schema, root)
    if isinstance(value, str):
        if _admits_string(schema, root):
            return value
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value  # left for the schema's own message
        if isinstance(parsed, str):
            return value
        changed.append(_where(path))
        return _coerce(parsed, schema, root, path, changed)
    subschemas = [schema] + [o for o in _options(schema, root) if _json_type(value) in _types(o)]
    if isinstance(value, dict):
        for key in list(value):
            for sub in subschemas:
                item_schema = sub.get("properties", {}).get(key, sub.get("additionalProperties"))
                if isinstance(item_schema, dict):
                    value[key] = _coerce(value[key], item_schema, root, (*path, key), changed)
                    break
    elif isinstance(value, list):
        for sub in subschemas:
            if isinstance(sub.get("items"), dict):
                value[:] = [_coerce(item, sub["items"], root, (*path, i), changed) for i, item in enumerate(value)]
                break
    return value


def coerce_command_line_strings(config: dict, schema: dict) -> list[str]:
    """Snakemake passes scalars nested in a ``--config`` mapping as strings
    (``--config data='{download: true}'`` gives ``'true'``). Where the schema admits no string,
    a string value is read as YAML and kept when that gives a number, boolean, null, list or
    mapping; ``config`` changes in place. Returns the keys changed (``data.download``)."""
    changed: list[str] = []
    _coerce(config, schema, schema, (), changed)
    return changed


def float_integer_errors(config: dict, schema: dict) -> list[str]:
    """Keys the schema types as integers that hold a float (JSON Schema accepts ``2.0`` as an
    integer; the code does not)."""
    return sorted(set(_float_integers(config, schema, schema, ())))


def image_counts(data: dict, dataset: str) -> tuple[int, int]:
    """(weight half, architecture half) image counts that ``prepare_data`` will keep."""
    total = TRAIN_IMAGES[dataset]
    n = total
    if data.get("fraction") is not None:
        n = max(2, int(round(total * data["fraction"])))
    if data.get("subset") is not None:
        n = min(n, data["subset"])
    n_arch = int(round(n * data["arch_fraction"]))
    return n - n_arch, n_arch


def size_errors(config: dict) -> list[str]:
    """Batch sizes larger than the images they draw from (an epoch would run no step; with
    a metric, fewer batches than asked)."""
    errors = []
    split, search = config["split"], config["search"]["hparams"]
    uses_metrics = any(m != "random" for m in split["methods"])
    for dataset in config["datasets"]:
        weight, arch = image_counts(config["data"], dataset)
        where = f"{dataset}: data keeps {weight} weight-half and {arch} architecture-half training images"
        supernet_batch = config["supernet"]["train"]["batch_size"]
        checks = [("supernet.train.batch_size", supernet_batch, weight + arch, "both halves"),
                  ("search.hparams.batch_size", search["batch_size"], min(weight, arch), "each half")]
        if uses_metrics:
            need = split["batch_size"] * split["metric_batches"]
            checks.append(("split.batch_size × split.metric_batches", need, weight, "the weight half"))
        if uses_metrics and split.get("warmup_epochs", 0) > 0:
            checks.append(("supernet.train.batch_size (split warm-up)", supernet_batch, weight, "the weight half"))
        for key, size, available, what in checks:
            if size > available:
                errors.append(f"config {key} = {size} exceeds the {available} images of {what} ({where}); lower it "
                              "or raise data.subset / data.fraction")
    return errors


def stage1_errors(config: dict) -> list[str]:
    """``report.stage1``'s BatchNorm calibration asks for more training images than the weight
    half holds (the stage would use fewer batches than configured)."""
    errors = []
    stage1 = config["report"]["stage1"]
    need = stage1["bn_batches"] * stage1["batch_size"]
    for dataset in config["datasets"]:
        weight, _ = image_counts(config["data"], dataset)
        if need > weight:
            errors.append(f"config report.stage1.bn_batches × report.stage1.batch_size = {stage1['bn_batches']} × "
                          f"{stage1['batch_size']} = {need} exceeds the {weight} weight-half images of {dataset}; "
                          "lower them or raise data.subset / data.fraction")
    return errors


DEFAULT_MAX_LEAVES = 1000
"""``split.max_leaves`` when the config does not set it (config/schema.yaml's default)."""


def plan_errors(config: dict) -> list[str]:
    """Values that would run but make no sense: an experiment name that leaves ``results/``,
    a learning rate annealed upwards, a tree too big to plan (over ``split.max_leaves``)."""
    from fewshotnas.treeshape import TreeShape

    errors = []
    name = config["experiment"]
    if name in (".", ".."):  # the schema's pattern refuses separators
        errors.append(f"config experiment: {name!r} is not one plain folder name, so results/{name}/ is not a folder "
                      "of results/; use letters, digits, '_', '-' or '.', e.g. 'default'")
    hparams = config["search"]["hparams"]
    if hparams["lr_min"] > hparams["lr"]:
        errors.append(f"config search.hparams.lr_min = {hparams['lr_min']} exceeds search.hparams.lr = "
                      f"{hparams['lr']}: the cosine schedule would raise the learning rate; set lr_min ≤ lr")
    split = config["split"]
    keys = ("depth", "branching", "edges", "balanced", "policy", "edge_choice")
    try:
        leaves = TreeShape(**{k: split[k] for k in keys if k in split}).num_leaves()
    except (ValueError, TypeError):  # reported by the float-integer check or when the workflow builds it
        return errors
    limit = split.get("max_leaves", DEFAULT_MAX_LEAVES)
    if split["methods"] and leaves > limit:
        errors.append(f"config split: a tree of {leaves} leaves (policy {split.get('policy', 'constant')}, depth "
                      f"{split['depth']}) exceeds split.max_leaves = {limit}; every leaf is a search and planning "
                      "them takes minutes. Lower split.depth or the branching, or raise split.max_leaves to plan it")
    return errors


def per_algorithm_errors(config: dict, schema: dict) -> list[str]:
    """``search.per_algorithm``: each algorithm's entries may only override keys that
    ``search.hparams`` sets, and the merged hyperparameters must pass the ``search.hparams``
    schema (so a per-algorithm value has the same type and range rules)."""
    search = config.get("search") or {}
    overrides = search.get("per_algorithm") or {}
    hparams_schema = schema["properties"]["search"]["properties"]["hparams"]
    errors = []
    for name, override in overrides.items():
        unknown = sorted(set(override) - set(search.get("hparams") or {}))
        if unknown:
            errors.append(f"config search.per_algorithm.{name}: {', '.join(unknown)} not in search.hparams; only "
                          "hyperparameters that search.hparams sets can be overridden per algorithm")
            continue
        merged = {**search["hparams"], **override}
        errors += [line.replace("config ", f"config search.per_algorithm.{name}.", 1).replace(".(top level)", "")
                   for line in schema_errors(merged, hparams_schema)]
    return errors


def check_config(config: dict, schema: dict) -> list[str]:
    """Every problem above, one line each (empty: the config is usable)."""
    problems = schema_errors(config, schema) or per_algorithm_errors(config, schema)
    if problems:
        return problems
    return float_integer_errors(config, schema) + size_errors(config) + stage1_errors(config) + plan_errors(config)

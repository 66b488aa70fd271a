"""The lookup table built from the official NAS-Bench-201 benchmark file with its own API
(the ``nas-bench-201`` package, ``nas_201_api``), for users who have that file.

The table keeps the shipped table's columns (``index``, ``arch_str``, ``unique_str``, and test
accuracy per dataset under the dataset's name), so :class:`NB201Table` reads either, and adds
the validation accuracy (``<dataset>_valid``) and the number of seeds averaged
(``<dataset>_seeds``, 0 exactly where the test accuracy is missing, NaN). The file is read with
``torch.load(weights_only=True)`` (no code runs from it), and the built table is checked by
:func:`fewshotnas.bench.nb201.validate_table`. Accuracies are the 200-epoch results, means
over the benchmark's seeds, in %, with NAS-Bench-201's splits: CIFAR-10 validation from
``cifar10-valid``/``x-valid`` and test from ``cifar10``/``ori-test``; CIFAR-100 and
ImageNet16-120 from ``x-valid`` and ``x-test``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fewshotnas.bench.nb201 import validate_table
from fewshotnas.space import NUM_ARCHS, genotype_from_str, genotype_to_str

API_SOURCES = {  # our name: (validation (api dataset, set), test (api dataset, set))
    "cifar10": (("cifar10-valid", "x-valid"), ("cifar10", "ori-test")),
    "cifar100": (("cifar100", "x-valid"), ("cifar100", "x-test")),
    "imagenet16_120": (("ImageNet16-120", "x-valid"), ("ImageNet16-120", "x-test")),
}
API_KEYS = ("meta_archs", "arch2infos", "evaluated_indexes")
"""What the official file's dict holds (what ``NASBench201API`` reads)."""
HP = "200"
"""The benchmark's 200-epoch training schedule (``hp='200'``)."""


def _accuracy(results: Any, dataset: str, setname: str) -> float:
    """Mean accuracy over the seeds, or NaN when the benchmark lacks that dataset or set."""
    try:
        value = results.get_metrics(dataset, setname, is_random=False)["accuracy"]
    except (KeyError, ValueError, AssertionError):
        return math.nan
    return math.nan if value is None else float(value)


def table_from_api(api: Any) -> pd.DataFrame:
    """The lookup table (one row per architecture, benchmark index order) of a
    ``nas_201_api.NASBench201API``. Architectures the benchmark did not evaluate get NaN and 0
    seeds. Raises if it does not hold the 15,625 NAS-Bench-201 architectures."""
    archs = list(api.meta_archs)
    if len(archs) != NUM_ARCHS:
        raise ValueError(f"the benchmark lists {len(archs)} architectures, NAS-Bench-201 has {NUM_ARCHS}")
    columns: dict[str, list] = {"index": list(range(NUM_ARCHS)), "arch_str": [], "unique_str": []}
    for name in API_SOURCES:
        columns.update({name: [], f"{name}_valid": [], f"{name}_seeds": []})
    for index, arch_str in enumerate(archs):
        if genotype_to_str(genotype_from_str(arch_str)) != arch_str:
            raise ValueError(f"benchmark architecture {index} {arch_str!r} is not a NAS-Bench-201 string")
        columns["arch_str"].append(arch_str)
        columns["unique_str"].append(None)  # the API does not give the isomorphism-canonical form
        results = api.query_meta_info_by_index(index, hp=HP) if index in api.arch2infos_dict else None
        for name, ((v_data, v_set), (t_data, t_set)) in API_SOURCES.items():
            if results is None:
                columns[name].append(math.nan)
                columns[f"{name}_valid"].append(math.nan)
                columns[f"{name}_seeds"].append(0)
                continue
            test_acc = _accuracy(results, t_data, t_set)
            columns[name].append(test_acc)
            columns[f"{name}_valid"].append(_accuracy(results, v_data, v_set))
            # seeds behind the test accuracy: 0 exactly where it is missing (NaN), as NB201Table checks
            columns[f"{name}_seeds"].append(0 if math.isnan(test_acc) else len(results.dataset_seed.get(t_data, [])))
    frame = pd.DataFrame(columns)
    types = {"index": "int64", "arch_str": "string", "unique_str": "string"}
    for name in API_SOURCES:
        types.update({name: "float64", f"{name}_valid": "float64", f"{name}_seeds": "int64"})
    frame = frame.astype(types)
    validate_table(frame, "built from the benchmark file")
    return frame


class BenchmarkFileError(ValueError):
    """``benchmark.api_file`` is not a NAS-Bench-201 benchmark file (unreadable, or it names a
    class or function outside the few plain types the official file holds)."""


def _numpy_safe_globals() -> list:
    """What a pickled numpy scalar needs, beyond torch's own ``weights_only`` set: the scalar
    constructor (under its numpy 1 and numpy 2 module names), ``numpy.dtype`` and the numeric
    dtype classes (no object dtype). The official file stores some numbers (e.g. parameter
    counts and FLOPs) as numpy scalars."""
    scalar = np.dtype("f8").type(0).__reduce__()[0]  # numpy.(_)core.multiarray.scalar
    numeric = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
               np.float16, np.float32, np.float64]
    return [(scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar"), np.dtype,
            *{type(np.dtype(t)) for t in numeric}]


def read_benchmark_file(path: str | Path) -> Any:
    """The object a NAS-Bench-201 ``.pth`` holds, read with ``torch.load(weights_only=True)``
    plus numpy scalars (:func:`_numpy_safe_globals`): containers, strings, numbers and tensors
    only, so a crafted file cannot run code. Anything else is a :class:`BenchmarkFileError`
    that names the file and what it tried to load."""
    import pickle

    import torch

    path = Path(path)
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL (\S+)", str(err))
        what = f"refused to load {found.group(1)}" if found else "refused to unpickle it"
        raise BenchmarkFileError(
            f"benchmark.api_file {path}: {what}; the NAS-Bench-201 benchmark file holds only containers, numbers and "
            "tensors. Use the official file from the benchmark's authors, or remove benchmark.api_file to use the "
            "shipped table") from None
    except Exception as err:  # truncated, not a torch file: whatever torch or zipfile raise
        detail = (str(err).splitlines() or [""])[0][:120]
        raise BenchmarkFileError(
            f"benchmark.api_file {path} is unreadable ({type(err).__name__}{': ' + detail if detail else ''}); "
            "download the official NAS-Bench-201 .pth again, or remove benchmark.api_file to use the shipped table"
        ) from None


def load_api(path: str | Path) -> Any:
    """The official benchmark file (e.g. ``NAS-Bench-201-v1_1-096897.pth``) through its API.

    The file is read by :func:`read_benchmark_file` (``weights_only``: no code runs from it);
    the API is then built from the dict it holds."""
    try:
        from nas_201_api import NASBench201API
    except ImportError as err:
        raise ImportError("benchmark.api_file needs the `nas-bench-201` package: pip install nas-bench-201") from err
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"benchmark.api_file {path} not found; set it to the official NAS-Bench-201 .pth "
                                "file, or remove it to use the shipped table")
    data = read_benchmark_file(path)
    if not isinstance(data, dict):
        raise BenchmarkFileError(f"{path} is not a NAS-Bench-201 benchmark file (expected a dict)")
    missing = [key for key in API_KEYS if key not in data]
    if missing:
        raise BenchmarkFileError(f"{path} is not a NAS-Bench-201 benchmark file (keys {missing} missing); use the "
                                 "official file from the benchmark's authors")
    return NASBench201API(data, verbose=False)


def check_against(table: pd.DataFrame, reference: pd.DataFrame) -> dict[str, float]:
    """Largest |Δ| of each test-accuracy column against another table (e.g. the shipped one)
    over the architectures both have; for the provenance of a built table."""
    out = {}
    for name in API_SOURCES:
        both = table[name].notna() & reference[name].notna()
        out[name] = float(np.max(np.abs(table.loc[both, name] - reference.loc[both, name]))) if both.any() else math.nan
    return out

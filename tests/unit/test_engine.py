"""The search engine: K = 1 equals the per-leaf classes it replaced (tests/reference), the
registry equals the catalog, and every algorithm keeps to its leaf."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reference import common as ref_common
from reference.darts import Darts1st as RefDarts1st
from reference.darts import Darts2nd as RefDarts2nd
from reference.dsnas import Dsnas as RefDsnas
from reference.snas import Snas as RefSnas

from fewshotnas.catalog import ALGORITHM_NAMES, CATALOG, algorithm_hparams, algorithm_info
from fewshotnas.data import prepare_data
from fewshotnas.search import ALGORITHMS, LeafResult, get_algorithm, run_search
from fewshotnas.space import OpMask, genotype_from_str

NETWORK = {"channels": 2, "cells_per_stage": 1}
SEARCH = {"epochs": 3, "batch_size": 16, "lr": 0.05, "lr_min": 0.001, "arch_lr": 0.01, "eval_batch_size": 64,
          "grad_clip": 0.5}
LEAF = OpMask.full().restrict(0, [2, 3]).restrict(1, [0, 4])
REFERENCES = {"darts1": RefDarts1st, "darts2": RefDarts2nd, "snas": RefSnas, "dsnas": RefDsnas}


@pytest.fixture(scope="module")
def data(fmnist_root):
    return prepare_data("fashion_mnist", fmnist_root, subset=128, test_subset=10, image_size=8)


@pytest.fixture
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("validation", ["sampled", "expected"])
@pytest.mark.parametrize("algorithm", list(REFERENCES))
def test_engine_with_one_leaf_equals_the_per_leaf_classes(data, tmp_path, algorithm, validation, float64):
    """Same seed, same data: the new engine (K = 1, fused network of one leaf) and the old
    per-leaf class with its loop give the same log and result, in float64 to 1e-7."""
    search = {**SEARCH, "validation": validation}
    new = run_search(algorithm, data, mask=LEAF, network=NETWORK, search=search, seed=0, out_final=tmp_path / "n.pt",
                     resume_path=tmp_path / "n.resume", quiet=True)
    old = ref_common.run_search(REFERENCES[algorithm], data, mask=LEAF, network=NETWORK, search=search, seed=0,
                                out_final=tmp_path / "o.pt", resume_path=tmp_path / "o.resume", quiet=True)
    assert list(new.columns) == list(old.columns)
    assert list(new["genotype"]) == list(old["genotype"])
    for col in ("lr", "train_loss", "train_acc", "val_loss", "val_acc"):
        np.testing.assert_allclose(new[col], old[col], atol=1e-7, rtol=1e-7, err_msg=col)
    for col in ("alphas", "arch_probs"):
        np.testing.assert_allclose(np.stack(new[col]), np.stack(old[col]), atol=1e-7, rtol=1e-7, err_msg=col)
    result = LeafResult.load(tmp_path / "n.pt")
    reference = torch.load(tmp_path / "o.pt", weights_only=True)
    assert result.genotype == tuple(genotype_from_str(reference["genotype"]))
    torch.testing.assert_close(result.alphas, reference["alphas"], atol=1e-7, rtol=1e-7)
    assert result.state_dict.keys() == reference["state_dict"].keys()
    for name, tensor in reference["state_dict"].items():
        if not name.endswith("num_batches_tracked"):
            torch.testing.assert_close(result.state_dict[name], tensor, atol=1e-7, rtol=1e-7, msg=name)


def test_registry_equals_catalog():
    assert list(ALGORITHMS) == list(ALGORITHM_NAMES) == sorted(CATALOG, key=lambda n: CATALOG[n].order)
    for name, cls in ALGORITHMS.items():
        info = algorithm_info(name)
        assert cls.name == name and cls.has_alphas == info.has_alphas
        assert cls.samples_architectures == (info.sampling in ("relaxed", "path", "uniform"))
    assert [CATALOG[n].label for n in ("rsps", "gdas", "drnas", "darts_minus")] == ["RSPS", "GDAS", "DrNAS", "DARTS-"]
    with pytest.raises(ValueError, match="unknown search algorithm 'enas'; known: darts1, darts2"):
        get_algorithm("enas")


def test_per_algorithm_hyperparameters():
    shared = {"epochs": 30, "lr": 0.025}
    assert algorithm_hparams(shared, {"rsps": {"epochs": 50}}, "rsps") == {"epochs": 50, "lr": 0.025}
    assert algorithm_hparams(shared, {"rsps": {"epochs": 50}}, "darts1") == shared
    assert algorithm_hparams(shared, None, "gdas") == shared
    with pytest.raises(ValueError, match="per_algorithm.rsps: epoch not in search.hparams"):
        algorithm_hparams(shared, {"rsps": {"epoch": 50}}, "rsps")
    # what a job reads: its own keys, none of another algorithm's, sorted whatever the config's order
    full = {"temperature": [1.0, 0.1], "epochs": 4, "gdas_temperature": [10.0, 0.1], "validation": "sampled",
            "aux_skip": [1.0, 0.0], "rsps_samples": 100, "fix_threshold": 0.8, "lr": 0.025}
    assert list(algorithm_hparams(full, None, "darts1")) == ["epochs", "lr"]
    assert list(algorithm_hparams(full, None, "gdas")) == ["epochs", "gdas_temperature", "lr", "validation"]
    assert algorithm_hparams(dict(reversed(full.items())), None, "snas") == algorithm_hparams(full, None, "snas")
    assert list(algorithm_hparams(dict(reversed(full.items())), None, "snas")) == list(
        algorithm_hparams(full, None, "snas"))


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_every_algorithm_keeps_to_its_leaf(data, tmp_path, algorithm):
    """Derived genotypes lie in the leaf every epoch, the distribution is 0 outside it and sums
    to 1 per edge, and the result file holds what the catalog says the algorithm has."""
    leaf = OpMask.full().restrict(0, [1, 3]).restrict(2, [2, 4]).restrict(5, [0, 3])
    log = run_search(algorithm, data, mask=leaf, network=NETWORK, search={**SEARCH, "rsps_samples": 5}, seed=1,
                     out_final=tmp_path / "f.pt", resume_path=tmp_path / "r.pt", quiet=True)
    assert all(leaf.contains(tuple(genotype_from_str(g))) for g in log["genotype"])
    assert np.isfinite(log["val_acc"]).all() and np.isfinite(log["train_loss"]).all()
    result = LeafResult.load(tmp_path / "f.pt")
    assert result.algorithm == algorithm and leaf.contains(result.genotype)
    assert result.genotype == tuple(genotype_from_str(log["genotype"].iloc[-1]))
    allowed = leaf.to_tensor()
    assert torch.all(result.probs[~allowed] == 0)
    torch.testing.assert_close(result.probs.sum(-1), torch.ones(6))
    assert (result.alphas is not None) == CATALOG[algorithm].has_alphas
    if not CATALOG[algorithm].has_alphas:
        assert np.isnan(np.stack(log["alphas"])).all()  # no architecture weights: recorded as such

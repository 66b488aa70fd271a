"""Fused leaves: one program of K leaves equals K runs of one (network, flat weights, search,
resume), for every algorithm."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import run_killed

import fewshotnas.search.engine as engine_module
from fewshotnas.data import prepare_data
from fewshotnas.search import ALGORITHMS, LeafResult, run_search, search_leaves
from fewshotnas.search.flat import FlatParameters
from fewshotnas.space import OpMask
from fewshotnas.space.fused import FusedNetwork, path_reach, path_useful, reachable_edges, union_mask
from fewshotnas.space.supernet import build_network

NETWORK = {"channels": 2, "cells_per_stage": 1}  # cell BN without affine, the default
SEARCH = {"epochs": 2, "batch_size": 16, "lr": 0.05, "lr_min": 0.001, "arch_lr": 0.01, "eval_batch_size": 64,
          "grad_clip": 0.5}
FULL = OpMask.full()
LEAVES = [
    FULL.restrict(0, [2, 3]).restrict(1, [0, 4]),  # convs on edge 0, none/pool on edge 1
    FULL.restrict(0, [0, 1]),                       # a wide leaf
    FULL.restrict(0, [0]).restrict(1, [3]),         # node 1 unreachable: its edges never run
    FULL.restrict(0, [0]).restrict(1, [0]).restrict(3, [0]),  # disconnected: nothing to search
]


@pytest.fixture(scope="module")
def data(fmnist_root):
    return prepare_data("fashion_mnist", fmnist_root, subset=128, test_subset=10, image_size=8)


@pytest.fixture
def float64():
    """Run in float64: rounding of the kernels' different summation orders vanishes, so only a
    wrong computation can make fused and separate runs differ."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def leaf_networks(masks, seed=1):
    nets = []
    for mask in masks:
        torch.manual_seed(seed)
        nets.append(build_network(mask, channels=3, cells_per_stage=1, num_classes=10, in_channels=1)
                    .to(memory_format=torch.channels_last))
    return nets


def test_path_reach_and_usefulness():
    # leaf 0: e0 none → node 1 unreached, so e2 and e4 (from node 1) are not computed; e5 (3←2)
    # is none → node 2 leads nowhere, so e1 and e2 (into node 2) get no gradient;
    # leaf 1: e0 conv feeds node 1, but e2 and e4 are none → node 1 leads nowhere
    ops = torch.tensor([[0, 3, 3, 1, 3, 0], [3, 1, 0, 4, 0, 1]])
    assert path_reach(ops).tolist() == [[1, 1, 0, 1, 0, 1], [1, 1, 1, 1, 1, 1]]
    assert path_useful(ops).tolist() == [[True, False, False, True, True, True],
                                         [False, True, True, True, True, True]]
    assert path_useful(torch.tensor([[3, 3, 3, 0, 0, 0]])).tolist() == [[False, False, False, True, True, True]]


def test_union_and_reachability():
    assert union_mask(LEAVES[:2]).ops_on(0) == (0, 1, 2, 3) and union_mask(LEAVES[:2]).ops_on(1) == (0, 1, 2, 3, 4)
    # node 1 unreachable: edges 2 (2←1) and 4 (3←1) do not run in the separate network
    assert reachable_edges(LEAVES[2]) == (True, True, False, True, False, True)
    assert all(reachable_edges(FULL))


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_fused_forward_equals_separate_networks(mode):
    nets = leaf_networks(LEAVES)
    fused = FusedNetwork.from_leaves(nets)
    x = torch.randn(6, 1, 8, 8).contiguous(memory_format=torch.channels_last)
    masks = torch.stack([m.to_tensor() for m in LEAVES])
    weights = torch.softmax(torch.randn(len(LEAVES), 6, 5).masked_fill(~masks, float("-inf")), -1)
    for net in [fused, *nets]:
        getattr(net, mode)()
    out = fused(x, weights)
    assert out.shape == (len(LEAVES), 6, 10)
    for k, (net, mask) in enumerate(zip(nets, LEAVES)):
        torch.testing.assert_close(out[k], net(x, weights[k], mask), atol=1e-5, rtol=1e-5)


def test_leaf_state_dict_round_trip():
    nets = leaf_networks(LEAVES)
    fused = FusedNetwork.from_leaves(nets)
    for k, net in enumerate(nets):
        back = fused.leaf_state_dict(k)
        ref = net.state_dict()
        assert back.keys() == ref.keys()
        for name in ref:
            assert torch.equal(back[name], ref[name]), name
    with pytest.raises(ValueError, match="share channels"):
        FusedNetwork.from_leaves([nets[0], build_network(LEAVES[0], channels=4, cells_per_stage=1)])


def test_flat_parameters_alias_and_per_leaf_clipping():
    nets = leaf_networks(LEAVES[:2])
    fused = FusedNetwork.from_leaves(nets)
    params = list(fused.parameters())
    flat = FlatParameters(params, 2)
    with torch.no_grad():
        flat.flat.mul_(2.0)  # an update of the flat tensor is an update of every parameter
    for k, net in enumerate(nets):
        for name, tensor in fused.leaf_state_dict(k).items():
            if name in dict(net.named_parameters()):
                torch.testing.assert_close(tensor, 2.0 * net.state_dict()[name])
    grads = [torch.randn_like(p) for p in params]
    flat.set_grads(grads)
    per_leaf = [torch.cat([g.reshape(2, -1)[k] if g.shape[0] % 2 == 0 else g[k].reshape(-1) for g in grads])
                for k in range(2)]
    expected_norms = torch.stack([v.norm() for v in per_leaf])
    norms = flat.clip_grad_norm_(1.0)
    torch.testing.assert_close(norms, expected_norms)
    clipped = flat.leaf_sums(flat.flat.grad.square()).sqrt()
    torch.testing.assert_close(clipped, torch.ones(2), atol=1e-5, rtol=1e-5)  # each leaf clipped to 1 alone


def run_both(data, tmp_path, algorithm, masks=LEAVES, epochs=2, **hparams):
    search = {**SEARCH, "epochs": epochs, **hparams}
    separate = [run_search(algorithm, data, mask=m, network=NETWORK, search=search, seed=0,
                           out_final=tmp_path / f"sep{k}.pt", resume_path=tmp_path / f"sep{k}.resume", quiet=True)
                for k, m in enumerate(masks)]
    fused = search_leaves(algorithm, data, masks=masks, network=NETWORK, search=search, seed=0,
                             out_finals=[tmp_path / f"fused{k}.pt" for k in range(len(masks))],
                             resume_path=tmp_path / "fused.resume", quiet=True)
    return separate, fused


def assert_logs_match(separate, fused, tol, acc_tol=None):
    """``acc_tol``: percentage points allowed on accuracies (default ``tol``)."""
    for a, b in zip(separate, fused):
        assert list(a.columns) == list(b.columns)
        assert list(a["genotype"]) == list(b["genotype"]) and list(a["disconnected"]) == list(b["disconnected"])
        for col in ("lr", "train_loss", "train_acc", "val_loss", "val_acc"):
            atol = acc_tol if acc_tol is not None and col.endswith("_acc") else tol
            np.testing.assert_allclose(b[col], a[col], atol=atol, rtol=tol, err_msg=col)
        for col in ("alphas", "arch_probs"):
            np.testing.assert_allclose(np.stack(b[col]), np.stack(a[col]), atol=tol, rtol=tol, err_msg=col)


def assert_finals_match(tmp_path, count, tol):
    for k in range(count):
        a = LeafResult.load(tmp_path / f"sep{k}.pt")
        b = LeafResult.load(tmp_path / f"fused{k}.pt")
        assert a.config_hash == b.config_hash and a.disconnected == b.disconnected
        if a.disconnected:
            continue
        assert a.genotype == b.genotype and a.fused_leaves == 1 and b.fused_leaves > 1
        if a.alphas is None:
            assert b.alphas is None
        else:
            torch.testing.assert_close(b.alphas, a.alphas, atol=tol, rtol=tol)
        torch.testing.assert_close(b.probs, a.probs, atol=tol, rtol=tol)
        assert b.state_dict.keys() == a.state_dict.keys()
        reach = reachable_edges(a.mask)
        for name in a.state_dict:  # unused: step counters (shared when fused), ops of unreached edges
            parts = name.split(".")
            if name.endswith("num_batches_tracked") or (len(parts) > 3 and parts[2] == "edges"
                                                         and not reach[int(parts[3])]):
                continue
            torch.testing.assert_close(b.state_dict[name], a.state_dict[name], atol=tol, rtol=tol)


@pytest.mark.parametrize("algorithm", [a for a in ALGORITHMS if a != "darts2"])
def test_fused_search_equals_separate_runs(data, tmp_path, algorithm):
    """In float32 the kernels of K leaves and of one sum in different orders. Adam turns the
    rounding of near-zero alpha gradients into steps of ±arch_lr, which this tiny network
    amplifies, so the float32 check takes a small arch_lr (exactness: the float64 test)."""
    separate, fused = run_both(data, tmp_path, algorithm, arch_lr=1e-5)
    assert_logs_match(separate, fused, tol=1e-3, acc_tol=100 / 48 + 0.01)  # one of 48 images
    assert_finals_match(tmp_path, len(LEAVES), tol=1e-2)
    assert not (tmp_path / "fused.resume").exists()


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_fused_search_equals_separate_runs_float64(data, tmp_path, algorithm, float64):
    """DARTS-2nd's finite-difference hypergradient amplifies float32 rounding (different kernels,
    different summation order) and Adam's normalisation turns it into different steps on
    near-zero gradients; in float64 fused and separate runs agree to 1e-7."""
    separate, fused = run_both(data, tmp_path, algorithm)
    assert_logs_match(separate, fused, tol=1e-7)
    assert_finals_match(tmp_path, len(LEAVES), tol=1e-7)


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_killed_fused_search_resumes(data, tmp_path, monkeypatch, algorithm):
    masks = LEAVES[:3]
    kwargs = dict(masks=masks, network=NETWORK, search={**SEARCH, "epochs": 3}, seed=0, quiet=True)
    full = search_leaves(algorithm, data, out_finals=[tmp_path / f"a{k}.pt" for k in range(3)],
                            resume_path=tmp_path / "a.resume", **kwargs)
    outs = [tmp_path / f"b{k}.pt" for k in range(3)]
    run_killed(monkeypatch, engine_module, "evaluate_leaves", 2,  # in epoch 2
               lambda: search_leaves(algorithm, data, out_finals=outs, resume_path=tmp_path / "b.resume", **kwargs))
    assert (tmp_path / "b.resume").exists() and not any(p.exists() for p in outs)
    torch.manual_seed(12345)  # a fresh process would not share the killed run's RNG state
    resumed = search_leaves(algorithm, data, out_finals=outs, resume_path=tmp_path / "b.resume", **kwargs)
    for a, b in zip(full, resumed):
        pd.testing.assert_frame_equal(a.drop(columns="epoch_seconds"), b.drop(columns="epoch_seconds"))
    for k in range(3):
        a, b = (LeafResult.load(tmp_path / f"{n}{k}.pt") for n in "ab")
        assert a.genotype == b.genotype
        torch.testing.assert_close(a.probs, b.probs)
        for name in a.state_dict:
            torch.testing.assert_close(a.state_dict[name], b.state_dict[name])


def test_unknown_algorithm_is_a_clear_error(data, tmp_path):
    with pytest.raises(ValueError, match="unknown search algorithm 'enas'; known: darts1"):
        search_leaves("enas", data, masks=LEAVES[:1], network=NETWORK, search=SEARCH, seed=0,
                         out_finals=[tmp_path / "x.pt"], resume_path=tmp_path / "x.resume")

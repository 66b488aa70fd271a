"""Stage-1 statistics: sampling mass, rank correlations, BN recalibration, one leaf end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fewshotnas.analysis.stage1 import (
    CURVE_FRACTIONS,
    Stage1Config,
    distribution_mass,
    leaf_stage1,
    masked_softmax,
    mass_rows,
    rank_correlations,
    recalibrate_bn,
    sample_architectures,
    sampling_mass,
)
from fewshotnas.space import OpMask, build_network
from fewshotnas.space.supernet import uniform_weights


def test_alphas_with_all_mass_on_one_architecture(nb201):
    genotype = (3, 2, 1, 4, 3, 1)
    alphas = torch.full((6, 5), -1e4)
    alphas[torch.arange(6), torch.tensor(genotype)] = 10.0
    mask = OpMask.full()
    ops = nb201.op_matrix()
    mass = sampling_mass(alphas, mask, ops)
    assert mass.sum() == pytest.approx(1.0)
    target = nb201.index_of(genotype)
    assert mass[target] == pytest.approx(1.0) and np.delete(mass, target).max() < 1e-12
    acc = nb201.frame["cifar10"].to_numpy()
    rows = mass_rows(mass, acc, {0.5: float(acc[target]) - 1e-9, 0.01: float(acc[target]) + 1e-6})
    assert rows[0]["value"] == pytest.approx(1.0) and rows[1]["value"] == pytest.approx(0.0)
    assert rows[0]["baseline"] == pytest.approx(np.mean(acc >= acc[target] - 1e-9))


def test_uniform_alphas_give_uniform_mass_over_the_leaf(nb201):
    mask = OpMask.full().restrict(0, [1, 3]).restrict(4, [0, 2, 4])
    member = nb201.in_mask(mask)
    mass = sampling_mass(torch.zeros(6, 5), mask, nb201.op_matrix()[member])
    assert len(mass) == mask.num_archs == 2 * 3 * 5 ** 4
    assert np.allclose(mass, 1 / mask.num_archs) and mass.sum() == pytest.approx(1.0)
    probs = masked_softmax(torch.zeros(6, 5), mask)
    assert probs[0].tolist() == [0, 0.5, 0, 0.5, 0] and probs[4, 1] == 0


def test_float32_distributions_give_masses_that_sum_to_one(nb201):
    """A float32 row of 0.2 sums to 1 + 1.5e-8; over six edges the space's mass would reach
    1 + 9e-8 without the float64 renormalisation (CI saw a cumulative mass above 1)."""
    mask = OpMask.full()
    probs = torch.full((6, 5), 0.2, dtype=torch.float32)
    assert float(probs[0].double().sum()) > 1.0  # the float32 rounding this test is about
    mass = distribution_mass(probs, nb201.op_matrix()[nb201.in_mask(mask)])
    assert abs(mass.sum() - 1.0) < 1e-12
    assert np.allclose(mass, 1 / mask.num_archs, rtol=1e-12)
    rows = mass_rows(mass, np.linspace(0, 100, len(mass)), {1.0: -1.0})
    assert rows[0]["value"] <= 1.0 + 1e-12


def test_rank_correlations_known_kendall():
    # one discordant pair of 6 -> tau = (5 - 1) / 6; spearman 1 - 6·Σd²/(n(n²-1)) = 1 - 12/60
    predicted = np.array([1.0, 2.0, 3.0, 4.0])
    truth = np.array([1.0, 2.0, 4.0, 3.0])
    rows = {(r["statistic"], r["subset"]): r for r in rank_correlations(predicted, truth, [0.5])}
    assert rows["kendall", 1.0]["value"] == pytest.approx(4 / 6)
    assert rows["spearman", 1.0]["value"] == pytest.approx(0.8)
    assert rows["kendall", 0.5]["n"] == 2 and math.isnan(rows["kendall", 0.5]["value"])  # < 3 ranked: NaN
    # top half of 10 by truth = indices 5..9, reversed prediction there: tau = -1
    truth = np.arange(10.0)
    predicted = np.concatenate([np.arange(5.0), -np.arange(5.0)])
    rows = {(r["statistic"], r["subset"]): r for r in rank_correlations(predicted, truth, [0.5])}
    assert rows["kendall", 0.5]["value"] == pytest.approx(-1.0) and rows["kendall", 0.5]["n"] == 5
    constant = rank_correlations(np.ones(5), np.arange(5.0), [])
    assert all(math.isnan(r["value"]) for r in constant)


def test_sample_is_seeded_and_complete_when_small():
    leaf = np.arange(100, 200)
    assert np.array_equal(sample_architectures(leaf, 500, 0, 1), leaf)
    a, b = sample_architectures(leaf, 10, 0, 1), sample_architectures(leaf, 10, 0, 1)
    assert np.array_equal(a, b) and len(set(a)) == 10 and set(a) <= set(leaf)
    assert not np.array_equal(a, sample_architectures(leaf, 10, 0, 2))


def test_recalibrate_bn_estimates_the_batches_statistics():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.BatchNorm2d(3))
    batches = [torch.randn(8, 3, 4, 4) * 2 + 5 for _ in range(3)]
    recalibrate_bn(net, net, batches)
    joined = torch.cat(batches)
    assert torch.allclose(net[0].running_mean, joined.mean(dim=(0, 2, 3)), atol=1e-5)
    assert not net.training and net[0].momentum == 0.1


def test_leaf_stage1_rows(nb201):
    torch.manual_seed(0)
    mask = OpMask.full().restrict(0, [0, 1]).restrict(1, [2, 3]).restrict(2, [3]).restrict(3, [1, 3])
    net = build_network(mask, channels=2, cells_per_stage=1, num_classes=3, in_channels=1).eval()
    calib = [torch.randn(4, 1, 8, 8)]
    evaluation = [(torch.randn(6, 1, 8, 8), torch.randint(0, 3, (6,)))]
    cfg = Stage1Config(sample=7, mass_fractions=(0.01, 0.5), top_fractions=(0.5,))
    rows = leaf_stage1(net, uniform_weights(mask), mask, nb201, "cifar10", leaf=2, cfg=cfg, calib=calib,
                       evaluation=evaluation)
    kinds = {(r["statistic"], r["subset"]) for r in rows if r["statistic"] not in ("recall", "cum_mass")}
    assert {(r["statistic"], r["subset"]) for r in rows if r["statistic"] in ("recall", "cum_mass")} == {
        (s, f) for s in ("recall", "cum_mass") for f in CURVE_FRACTIONS}
    recall = [r for r in rows if r["statistic"] == "recall"]
    assert recall[-1]["value"] == 1.0 and recall[-1]["n"] == 7  # at the worst accuracy: every ranked one
    cum = [r for r in rows if r["statistic"] == "cum_mass"]
    assert cum[-1]["value"] == pytest.approx(1.0) and all(r["value"] == pytest.approx(r["baseline"]) for r in cum)
    assert kinds == {("mass", 0.01), ("mass", 0.5), ("spearman", 1.0), ("kendall", 1.0), ("spearman", 0.5),
                     ("kendall", 0.5)}
    ranked = [r for r in rows if r["statistic"] == "kendall"]
    assert [r["n"] for r in ranked] == [7, 3] and all(r["leaf"] == 2 for r in rows)
    mass = [r for r in rows if r["statistic"] == "mass"]
    # uniform alphas: the mass above a threshold equals the uniform share of the leaf there
    assert all(r["value"] == pytest.approx(r["baseline"]) for r in mass)
    assert rows[0]["leaf_archs"] == mask.num_archs == 2 * 2 * 1 * 2 * 25

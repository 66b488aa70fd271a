"""Stage-2 selectors, the idealised sampler, the recall curve and RSPS on a given
architecture distribution: known answers on tiny networks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fewshotnas.analysis.stage1 import recall_rows
from fewshotnas.analysis.stage2 import (
    ArchitectureDistribution,
    SelectionInputs,
    Stage2Config,
    best_of,
    edge_distribution_draw,
    idealised_probabilities,
    perturb_select,
    select_all,
    unique_genotypes,
)
from fewshotnas.metrics.proxy import ProxySetup
from fewshotnas.space import OpMask, build_network
from fewshotnas.space.supernet import uniform_weights

CONV3 = 3  # nor_conv_3x3
DIRECT = 3  # edge (3, 0): the cell's input straight to its output


def test_idealised_sampler_is_proportional_to_n_minus_rank():
    acc = np.array([50.0, 90.0, 70.0, np.nan, 60.0])
    p = idealised_probabilities(acc)
    # 4 known: ranks 90→0, 70→1, 60→2, 50→3; weights N − rank = 4, 3, 2, 1; NaN → 0
    np.testing.assert_allclose(p, np.array([1, 4, 3, 0, 2]) / 10)
    assert idealised_probabilities(np.arange(100.0))[::-1].tolist() == sorted(idealised_probabilities(np.arange(100.0)),
                                                                                reverse=True)
    with pytest.raises(ValueError, match="at least one"):
        idealised_probabilities(np.array([np.nan]))


def test_architecture_distribution_draws_and_marginals():
    ops = np.array([[0] * 6, [3] * 6])
    dist = ArchitectureDistribution(ops, np.array([0.25, 0.75]))
    draws = dist.draw(4000, np.random.default_rng(0))
    assert abs((draws[:, 0] == 3).mean() - 0.75) < 0.03
    m = dist.edge_marginals()
    np.testing.assert_allclose(m[:, 0], 0.25)
    np.testing.assert_allclose(m[:, 3], 0.75)


def test_edge_draws_follow_the_distribution_and_stay_in_the_mask():
    probs = np.zeros((6, 5))
    probs[:, 1] = 0.2
    probs[:, 3] = 0.8
    draws = edge_distribution_draw(probs, 5000, np.random.default_rng(1))
    assert set(np.unique(draws)) == {1, 3}
    assert abs((draws == 3).mean() - 0.8) < 0.02
    assert unique_genotypes(np.array([[1] * 6, [3] * 6, [1] * 6])) == [(1,) * 6, (3,) * 6]
    assert best_of([math.nan, 2.0, 5.0, 5.0]) == 2
    assert best_of([math.nan]) == -1


def test_recall_curve_on_a_hand_made_ranking():
    truth = np.array([99.0, 98.0, 97.0, 96.0])  # accuracy; architecture 0 is the best
    thresholds = {0.25: 99.0, 0.5: 98.0, 0.75: 97.0, 1.0: 96.0}
    perfect = recall_rows(truth.copy(), truth, thresholds)
    assert [r["value"] for r in perfect] == [1.0, 1.0, 1.0, 1.0]
    reversed_ = recall_rows(-truth, truth, thresholds)
    np.testing.assert_allclose([r["value"] for r in reversed_], [0.0, 0.0, 2 / 3, 1.0])
    assert [r["baseline"] for r in reversed_] == [0.25, 0.5, 0.75, 1.0]
    assert [r["n"] for r in reversed_] == [1, 2, 3, 4]
    np.testing.assert_allclose([r["error_threshold"] for r in reversed_], [1.0, 2.0, 3.0, 4.0])
    assert math.isnan(recall_rows(truth, truth, {0.1: 100.0})[0]["value"])  # none at or below the threshold


def _bar_images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 1, 8, 8) images whose class (0/1) is the sign of their brightness."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=gen)
    x = 0.3 * torch.randn(n, 1, 8, 8, generator=gen) + (2.0 * y - 1.0).view(-1, 1, 1, 1)
    return x, y


@pytest.fixture(scope="module")
def direct_conv_supernet():
    """A supernet whose only input-to-output path is edge (3, 0) with {none, conv 3×3}, the
    conv trained on the mixture: without the conv the cell outputs zeros (chance accuracy)."""
    rows = [[o == 0 for o in range(5)] for _ in range(6)]
    rows[DIRECT] = [o in (0, CONV3) for o in range(5)]
    mask = OpMask(tuple(tuple(r) for r in rows))
    torch.manual_seed(0)
    net = build_network(mask, channels=4, cells_per_stage=1, num_classes=2, in_channels=1)
    weights = uniform_weights(mask)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    net.train()
    for step in range(60):
        x, y = _bar_images(32, step)
        loss = F.cross_entropy(net(x, weights, mask), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    calib = [_bar_images(64, 100)[0]]
    evaluation = [_bar_images(256, 101)]
    return net, mask, weights, calib, evaluation


def test_perturb_keeps_the_op_whose_removal_destroys_accuracy(direct_conv_supernet):
    net, mask, weights, calib, evaluation = direct_conv_supernet
    genotype, final_acc = perturb_select(net, weights, mask, calib, evaluation, seed=0)
    assert genotype == (0, 0, 0, CONV3, 0, 0)
    assert final_acc < 70  # without the conv: about chance (50 %)


def test_valid_returns_the_sample_with_the_best_one_shot_accuracy(direct_conv_supernet):
    net, mask, weights, calib, evaluation = direct_conv_supernet
    bad, good = (0,) * 6, (0, 0, 0, CONV3, 0, 0)
    draws = np.array([bad, bad, good, bad])
    setup = ProxySetup(channels=4, cells_per_stage=1, num_classes=2, in_channels=1, image_size=8)
    inputs = SelectionInputs(calib, evaluation, [_bar_images(16, 5)], setup)
    cfg = Stage2Config(selectors=("prune", "valid", "synflow", "jacobcov", "perturb"), samples=4, tune_epochs=0)
    rows = {r["selector"]: r for r in select_all(net, mask=mask, weights=weights, draws=draws, prune=None, cfg=cfg,
                                                 inputs=inputs, seed=0, device=torch.device("cpu"))}
    assert rows["valid"]["genotype"] == "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"
    assert rows["valid"]["score"] > 80 and rows["valid"]["candidates"] == 2
    assert not rows["prune"]["defined"] and rows["prune"]["genotype"] is None
    assert rows["perturb"]["genotype"] == rows["valid"]["genotype"]
    for metric in ("synflow", "jacobcov"):  # a disconnected cell has no finite score: the connected one wins
        assert rows[metric]["defined"] and rows[metric]["genotype"] == rows["valid"]["genotype"]
    # perturb restored the supernet it changed
    again = select_all(net, mask=mask, weights=weights, draws=draws, prune=(0,) * 6, cfg=cfg, inputs=inputs, seed=0,
                       device=torch.device("cpu"), selectors=["valid", "prune"])
    assert again[0]["score"] == rows["valid"]["score"]
    assert again[1]["genotype"] == "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def test_unknown_selector_is_refused():
    with pytest.raises(ValueError, match="unknown Stage-2 selector"):
        Stage2Config(selectors=("prune", "oracle"))

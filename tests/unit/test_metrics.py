"""Each metric against an independent computation on a tiny network."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad

from fewshotnas.metrics import MetricContext, distance, get_metric, metric_names
from fewshotnas.space import OpMask, build_network, count_parameters
from fewshotnas.space.supernet import Cell
from fewshotnas.split import SplitConfig, leaf_masks, root_node, split_level, tree_to_frame


@pytest.fixture
def net():
    return build_network(None, channels=3, cells_per_stage=1, num_classes=4, in_channels=2).train()


@pytest.fixture
def ctx():
    g = torch.Generator().manual_seed(1)
    batches = [(torch.randn(6, 2, 8, 8, generator=g), torch.randint(0, 4, (6,), generator=g)) for _ in range(2)]
    return MetricContext(batches, edge=0, device=torch.device("cpu"), options={})


MASK = OpMask.full().restrict(0, [3]).restrict(4, [1, 2])


def test_registry_lists_metrics():
    assert {"gradientmatching", "gradnorm", "synflow", "params"} <= set(metric_names())
    with pytest.raises(ValueError, match="unknown metric 'nope'; known: "):
        get_metric("nope")


def test_gradnorm_matches_backward(net, ctx):
    got = get_metric("gradnorm").fn(net, MASK, ctx)
    net.zero_grad()
    x, y = ctx.batches[0]
    F.cross_entropy(net(x, mask=MASK), y).backward()
    expected = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in net.parameters() if p.grad is not None))
    assert got == pytest.approx(float(expected), rel=1e-6)


def test_gradientmatching_matches_functional_grad(net, ctx):
    got = get_metric("gradientmatching").fn(net, MASK, ctx)
    cells = {f"layers.{i}." for i, layer in enumerate(net.layers) if isinstance(layer, Cell)}
    shared = {n: p for n, p in net.named_parameters()
              if any(n.startswith(c) for c in cells) and ".edges.0." not in n}
    others = {n: p.detach() for n, p in net.named_parameters() if n not in shared}
    def loss_fn(params, buffers, x, y):
        out = functional_call(net, {**params, **others, **buffers}, (x,), {"mask": MASK})
        return F.cross_entropy(out, y)

    total = None
    for x, y in ctx.batches:
        buffers = {n: b.clone() for n, b in net.named_buffers()}  # BN statistics update in train mode
        g = grad(loss_fn)({n: p.detach() for n, p in shared.items()}, buffers, x, y)
        flat = torch.cat([g[n].flatten() for n in shared])
        total = flat if total is None else total + flat
    expected = (total / len(ctx.batches)).double()
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-8)


def test_synflow_matches_bn_free_twin(net, ctx):
    got = get_metric("synflow").fn(net, MASK, ctx)
    twin = copy.deepcopy(net).double()

    def strip_bn(module):
        for name, child in module.named_children():
            if isinstance(child, nn.BatchNorm2d):
                setattr(module, name, nn.Identity())
            else:
                strip_bn(child)

    strip_bn(twin)
    layers = [m for m in twin.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        for m in layers:
            m.weight.abs_()
            if m.bias is not None:
                m.bias.abs_()
    twin(torch.ones(1, 2, 8, 8, dtype=torch.float64), mask=MASK).sum().backward()
    expected = sum(float((m.weight.detach() * m.weight.grad).abs().sum()) for m in layers if m.weight.grad is not None)
    assert got == pytest.approx(expected, rel=1e-9)
    assert got > 0


def test_params_counts_only_enabled_ops(net, ctx):
    got = get_metric("params").fn(net, MASK, ctx)
    standalone = build_network(MASK, channels=3, cells_per_stage=1, num_classes=4, in_channels=2)
    assert got == count_parameters(standalone)
    assert get_metric("params").fn(net, OpMask.full(), ctx) == count_parameters(net)


def test_distances():
    assert distance("scalar", 3.0, 5.5) == 2.5
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0])
    assert distance("vector", a, b) == pytest.approx(1 - 2**-0.5)
    assert distance("vector", a, a) == pytest.approx(0.0)
    assert distance("vector", a, -a) == pytest.approx(2.0)


@pytest.mark.parametrize("name", ["gradientmatching", "gradnorm", "synflow", "params"])
def test_metric_runs_on_leaf_of_depth3_tree(net, ctx, name):
    tree = tree_to_frame([root_node()])
    cfg = SplitConfig(depth=3, branching=2, edges=[0, 1, 2])
    for level in (1, 2, 3):
        tree, _ = split_level(tree, level, "random", cfg, seed=0)
    leaf = leaf_masks(tree)[5]
    spec = get_metric(name)
    for op in leaf.ops_on(3):
        value = spec.fn(net, leaf.restrict(3, [op]), MetricContext(ctx.batches, 3, ctx.device, {}))
        assert torch.all(torch.isfinite(torch.as_tensor(value)))

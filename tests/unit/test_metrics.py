"""Each metric against an independent computation on a tiny network."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad

from fewshotnas.metrics import MetricContext, get_metric, metric_names, similarity_matrix
from fewshotnas.metrics.linear_regions import ThinCellNet, count_patterns, random_crops
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
    assert set(metric_names()) == {"gradientmatching", "gradnorm", "grasp", "jacobcov", "lr", "ntk", "params", "snip",
                                   "synflow"}
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
    """Against a twin whose BatchNorms stay but compute the identity: eval mode, mean 0,
    var + eps = 1, weight 1, bias 0."""
    got = get_metric("synflow").fn(net, MASK, ctx)
    twin = copy.deepcopy(net).double().eval()
    with torch.no_grad():
        for m in twin.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.zero_()
                m.running_var.fill_(1.0 - m.eps)
                m.weight.fill_(1.0)
                m.bias.zero_()
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


def test_similarities():
    snip, gm = get_metric("snip"), get_metric("gradientmatching")
    assert snip.similarity(3.0, 5.5, {}) == -2.5
    assert snip.similarity(3.0, 3.0, {}) == 0.0
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0])
    assert gm.similarity(a, b, {}) == pytest.approx(2**-0.5)
    assert gm.similarity(a, a, {}) == pytest.approx(1.0)
    assert gm.similarity(a, -a, {}) == pytest.approx(-1.0)
    assert gm.similarity(a, torch.zeros(2), {}) == 0.0


@pytest.mark.parametrize("name", metric_names())
def test_metric_runs_on_leaf_of_depth3_tree(net, ctx, name):
    tree = tree_to_frame([root_node()])
    cfg = SplitConfig(depth=3, branching=2, edges=[0, 1, 2])
    for level in (1, 2, 3):
        tree = split_level(tree, level, "random", cfg, seed=0).tree
    leaf = leaf_masks(tree)[5]
    spec = get_metric(name)
    for op in leaf.ops_on(3):
        value = spec.fn(net, leaf.restrict(3, [op]), MetricContext(ctx.batches, 3, ctx.device, {}))
        assert torch.all(torch.isfinite(torch.as_tensor(value)))


def active_convs(net, mask):
    """Conv/linear modules whose weight the mask uses, found by a plain backward pass."""
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and m.weight.grad is not None]


def test_snip_matches_backward(net, ctx):
    got = get_metric("snip").fn(net, MASK, ctx)
    net.zero_grad(set_to_none=True)
    x, y = ctx.batches[0]
    F.cross_entropy(net(x, mask=MASK), y).backward()
    expected = sum(float((m.weight.grad.double() * m.weight.detach().double()).abs().sum())
                   for m in active_convs(net, MASK))
    assert got == pytest.approx(expected, rel=1e-6)
    assert got > 0


def test_grasp_matches_finite_difference_hvp(net, ctx):
    """−Σ θ·Hg with Hg from central differences of gradients, in float64."""
    got = get_metric("grasp").fn(net, MASK, ctx)
    twin = copy.deepcopy(net).double()
    x, y = ctx.batches[0]
    x = x.double()
    twin.zero_grad(set_to_none=True)
    F.cross_entropy(twin(x, mask=MASK), y).backward()
    layers = active_convs(twin, MASK)
    theta = [m.weight.detach().clone() for m in layers]
    g = [m.weight.grad.detach().clone() for m in layers]

    def grads_at(step):
        with torch.no_grad():
            for m, t, v in zip(layers, theta, g):
                m.weight.copy_(t + step * v)
        twin.zero_grad(set_to_none=True)
        F.cross_entropy(twin(x, mask=MASK), y).backward()
        return [m.weight.grad.detach().clone() for m in layers]

    eps = 1e-7  # small: a larger step crosses ReLU kinks, where the gradient jumps
    plus, minus = grads_at(eps), grads_at(-eps)
    expected = -sum(float((t * (p - q) / (2 * eps)).sum()) for t, p, q in zip(theta, plus, minus))
    assert got == pytest.approx(expected, rel=1e-4)


def test_jacobcov_matches_numpy(net, ctx):
    got = get_metric("jacobcov").fn(net, MASK, ctx)
    x = ctx.batches[0][0]
    jac = torch.autograd.functional.jacobian(lambda inp: net(inp, mask=MASK).sum(0), x)  # (K, B, C, H, W)
    rows = jac.sum(0).reshape(len(x), -1).double().numpy()
    eig = np.linalg.eigvals(np.corrcoef(rows)).real
    expected = -np.sum(np.log(eig + 1e-5) + 1 / (eig + 1e-5))
    assert got == pytest.approx(expected, rel=1e-4)


def test_ntk_batch_statistics_matches_per_sample_backward_loop(net, ctx):
    """Option ``statistics: batch`` (TE-NAS's code): one backward per sample through the batch's
    training-mode forward, as a plain loop does it."""
    got = get_metric("ntk").fn(net, MASK, dataclasses.replace(ctx, options={"statistics": "batch"}))
    x = ctx.batches[0][0]
    rows = []
    for i in range(len(x)):
        net.zero_grad(set_to_none=True)
        net(x, mask=MASK)[i].sum().backward()
        rows.append(torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None]).double())
    gram = torch.stack(rows).numpy()
    expected = np.linalg.cond(gram @ gram.T)
    assert got == pytest.approx(expected, rel=1e-5)


def test_ntk_fixed_statistics_matches_a_loop_with_the_batch_statistics_frozen(net, ctx):
    """The default (``statistics: fixed``, vmap of grad) equals the condition number from a plain
    loop over a copy of the network in eval mode whose running statistics are the batch's, one
    sample at a time; it is another kernel than ``batch``'s; the network's buffers and mode are
    left unchanged."""
    x = ctx.batches[0][0]
    before = {k: v.clone() for k, v in net.state_dict().items()}
    fixed = get_metric("ntk").fn(net, MASK, ctx)
    assert fixed == get_metric("ntk").fn(net, MASK, dataclasses.replace(ctx, options={"statistics": "fixed"}))
    assert net.training and all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
    frozen = copy.deepcopy(net)
    bns = {name: m for name, m in frozen.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    seen = {}
    hooks = [m.register_forward_hook(lambda _m, inp, _out, name=name: seen.__setitem__(name, inp[0]))
             for name, m in bns.items()]
    with torch.no_grad():
        frozen(x, mask=MASK)
    for hook in hooks:
        hook.remove()
    for name, feat in seen.items():
        bns[name].running_mean = feat.mean((0, 2, 3))
        bns[name].running_var = feat.var((0, 2, 3), unbiased=False)
    frozen.eval()
    rows = []
    for i in range(len(x)):
        frozen.zero_grad(set_to_none=True)
        frozen(x[i:i + 1], mask=MASK).sum().backward()
        rows.append(torch.cat([p.grad.flatten() for p in frozen.parameters() if p.grad is not None]).double())
    gram = torch.stack(rows).numpy()
    assert fixed == pytest.approx(np.linalg.cond(gram @ gram.T), rel=1e-4)
    batch = get_metric("ntk").fn(net, MASK, dataclasses.replace(ctx, options={"statistics": "batch"}))
    assert fixed != pytest.approx(batch, rel=1e-2)
    with pytest.raises(ValueError, match="statistics: 'nope' is not one of fixed, batch"):
        get_metric("ntk").fn(net, MASK, dataclasses.replace(ctx, options={"statistics": "nope"}))


def tenas_count(net, mask, inputs):
    """TE-NAS's count, written its way: a global ReLU hook, sign codes, and
    Σ_i 1 / #{j : code_j = code_i} from codes · (1 − codes)ᵀ."""
    codes = []

    def hook(module, _inp, out):
        if isinstance(module, nn.ReLU):
            codes.append(torch.sign(out.detach()).reshape(len(out), -1).double())

    rows = []
    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    try:
        with torch.no_grad():
            for x in inputs:
                codes.clear()
                net(x, mask)
                rows.append(torch.cat(codes, dim=1))
    finally:
        handle.remove()
    c = torch.cat(rows)
    differ = c @ (1 - c).T + (1 - c) @ c.T  # units where two samples disagree
    return float((1.0 / (differ == 0).sum(1).double()).sum())


def test_lr_follows_tenas(ctx):
    """The metric = mean over seeded thin networks of TE-NAS's count on seeded 3×3 crops;
    duplicated samples add no region; different candidates count differently."""
    opts = {"samples": 300, "repeat": 2}
    lr_ctx = MetricContext(ctx.batches, 0, ctx.device, opts, seed=4)
    got = get_metric("lr").fn(None, MASK, lr_ctx)
    crops = random_crops(torch.cat([x for x, _ in ctx.batches]), 300, 3, torch.Generator().manual_seed(4))
    expected = []
    for r in range(2):
        torch.manual_seed(4 * 101 + r)
        thin = ThinCellNet(1).train()
        expected.append(tenas_count(thin, MASK, [crops]))
    assert got == pytest.approx(np.mean(expected))
    assert 1 <= got < 300  # samples share regions: the count measures something
    assert count_patterns(thin, MASK, [crops]) == tenas_count(thin, MASK, [crops])
    assert count_patterns(thin, MASK, [crops[:50].repeat(3, 1, 1, 1)]) == count_patterns(thin, MASK, [crops[:50]])
    assert get_metric("lr").fn(None, MASK, lr_ctx) == got  # seeded
    edge0 = [get_metric("lr").fn(None, OpMask.full().restrict(0, [o]), lr_ctx) for o in range(5)]
    assert len(set(edge0)) > 1  # the candidates are told apart (all five on the default data: docs/metrics.md)


def test_lr_crops_are_windows_of_the_images():
    g = torch.Generator().manual_seed(0)
    images = torch.randn(4, 3, 6, 5, generator=g)
    crops = random_crops(images, 40, 3, torch.Generator().manual_seed(1))
    assert crops.shape == (40, 1, 3, 3)
    windows = images.unfold(2, 3, 1).unfold(3, 3, 1).reshape(-1, 3, 3)  # every (image, channel, y, x)
    for crop in crops[:, 0]:
        assert (windows - crop).abs().flatten(1).max(1).values.min() == 0
    with pytest.raises(ValueError, match="larger than"):
        random_crops(images, 2, 7, g)
    with pytest.raises(ValueError, match="must be ≥ 1"):
        get_metric("lr").fn(None, MASK, MetricContext([(images, None)], 0, torch.device("cpu"), {"samples": 0}))


def test_gradientmatching_per_filter_similarity(net, ctx):
    spec = get_metric("gradientmatching")
    opts = {"per_filter": True}
    a = spec.fn(net, OpMask.full().restrict(0, [2]), MetricContext(ctx.batches, 0, ctx.device, opts))
    b = spec.fn(net, OpMask.full().restrict(0, [3]), MetricContext(ctx.batches, 0, ctx.device, opts))
    assert isinstance(a, list) and all(t.dim() == 2 for t in a)
    flat_a = spec.fn(net, OpMask.full().restrict(0, [2]), MetricContext(ctx.batches, 0, ctx.device, {}))
    torch.testing.assert_close(torch.cat([t.flatten() for t in a]), flat_a)
    per_row = []
    for ta, tb in zip(a, b):
        for ra, rb in zip(ta.numpy(), tb.numpy()):
            na, nb = np.linalg.norm(ra), np.linalg.norm(rb)
            per_row.append(ra @ rb / (na * nb) if na > 0 and nb > 0 else 0.0)
    assert spec.similarity(a, b, opts) == pytest.approx(float(np.mean(per_row)), rel=1e-9)
    nonzero = [float(np.linalg.norm(r) > 0) for t in a for r in t.numpy()]  # a zero filter has cosine 0
    assert spec.similarity(a, a, opts) == pytest.approx(float(np.mean(nonzero)), abs=1e-9)
    with pytest.raises(ValueError, match="has no option"):
        spec.check_options({"per_layer": True})


NO_PATH = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|none~2|"


def test_no_path_cell_is_degenerate():
    """A cell without a path from input to output (341 of the 15,625) gives non-finite jacobcov
    and ntk; the split rule groups such candidates together, apart from the rest."""
    from fewshotnas.metrics.registry import is_finite
    from fewshotnas.space import genotype_from_str

    arch = genotype_from_str(NO_PATH)
    net = build_network(arch, channels=3, cells_per_stage=1, num_classes=4, in_channels=2).train()
    g = torch.Generator().manual_seed(0)
    ctx = MetricContext([(torch.randn(6, 2, 8, 8, generator=g), torch.randint(0, 4, (6,), generator=g))], -1,
                        torch.device("cpu"), {})
    mask = OpMask.from_genotype(arch)
    assert not is_finite(get_metric("jacobcov").fn(net, mask, ctx))
    assert not is_finite(get_metric("ntk").fn(net, mask, ctx))
    sim = similarity_matrix(get_metric("snip"), [1.0, float("nan"), 3.0, float("inf")], {})
    # one finite pair (−2): spread 1, far = 4² · 1, degenerate pairs at −2 + 16, mixed pairs at −2 − 16
    np.testing.assert_allclose(sim, [[0, -18, -2, -18], [-18, 0, -18, 14], [-2, -18, 0, -18], [-18, 14, -18, 0]])
    from fewshotnas.split import min_cut

    assert min_cut(sim, 2).groups == ((0, 2), (1, 3))
    sim = similarity_matrix(get_metric("snip"), [1.0, float("nan"), 3.0, 2.5], {})
    assert sim[0, 1] < min(sim[0, 2], sim[0, 3], sim[2, 3])  # degenerate: less alike than any finite pair
    assert min_cut(sim, 2).groups == ((0, 2, 3), (1,))
    all_bad = similarity_matrix(get_metric("snip"), [float("nan")] * 3, {})
    assert (all_bad[~np.eye(3, dtype=bool)] == 9).all()


def test_large_finite_scores_are_not_degenerate():
    """Synflow is float64 and exceeds float32's 3.4e38 at the papers' size: such scores are
    finite, compared by value, and never sent to the degenerate group."""
    from fewshotnas.metrics.registry import is_finite

    assert is_finite(1e48) and is_finite(-1e300) and is_finite(torch.tensor(1e48, dtype=torch.float64))
    assert not is_finite(float("inf")) and not is_finite(float("nan")) and not is_finite(torch.tensor(float("inf")))
    sim = similarity_matrix(get_metric("synflow"), [1e40, 1e48, 1.1e48, 2e40], {})
    assert (np.isfinite(sim)).all() and sim[0, 3] == pytest.approx(-1e40)
    from fewshotnas.split import min_cut

    assert min_cut(sim, 2).groups == ((0, 3), (1, 2))


def test_synflow_of_a_paper_size_network_is_finite(nb201):
    """NB201's CIFAR-10 optimum (index 6111) at C=16, N=5 scores above float32's range, and the
    proxy record keeps the number."""
    from fewshotnas.metrics.proxy import ProxySetup, score_architectures, synthetic_batches

    setup = ProxySetup(channels=16, cells_per_stage=5, num_classes=10)
    (record,) = score_architectures("synflow", [nb201.arch_str(6111)], synthetic_batches(setup, 1, 2, 0), setup)
    assert record["finite"] and record["score"] > 3.4e38

"""The one-shot algorithms' own math, on the engine with K = 1 and K = 2 leaves: DARTS's
unrolled hypergradient against an exact computation, SNAS's temperature and samples, DSNAS's
estimator and edge fixing, GDAS's single-path straight-through step, DrNAS's Dirichlet
draws, DARTS-'s auxiliary skip and RSPS's uniform paths."""

from __future__ import annotations

import math
from contextlib import contextmanager

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call
from torch.utils._python_dispatch import TorchDispatchMode

from fewshotnas.search.common import SearchConfig, masked_logits
from fewshotnas.search.darts import Darts2nd
from fewshotnas.search.darts_minus import DartsMinus
from fewshotnas.search.drnas import Drnas, dirichlet_sample
from fewshotnas.search.dsnas import Dsnas
from fewshotnas.search.gdas import Gdas
from fewshotnas.search.noise import cosine_schedule, linear_schedule
from fewshotnas.search.paths import sample_ops
from fewshotnas.search.rsps import Rsps
from fewshotnas.search.snas import Snas
from fewshotnas.space import OpMask, build_network

MASK = OpMask.full().restrict(0, [2, 3]).restrict(3, [0, 1, 4])
CFG = SearchConfig(epochs=4, lr=0.1, weight_decay=3e-4, arch_lr=0.01)
CPU = torch.device("cpu")


@contextmanager
def default_dtype(dtype):
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def tiny(dtype=torch.float32, mask=MASK):
    torch.manual_seed(0)
    return build_network(mask, channels=2, cells_per_stage=1, num_classes=3, in_channels=1).to(dtype).train()


def searcher(cls, dtype=torch.float32, masks=(MASK,), cfg=CFG, seed=0, channels=2):
    """``cls`` on ``masks`` (K = len(masks)) as the engine builds it; returns (searcher, leaf nets)."""
    nets, inits = [], []
    for mask in masks:  # float32 initialisation, then cast: the same weights in every dtype
        torch.manual_seed(seed)
        nets.append(build_network(mask, channels=channels, cells_per_stage=1, num_classes=3, in_channels=1)
                    .to(dtype).train())
        inits.append({k: v.to(dtype) if torch.is_tensor(v) else v for k, v in cls.init_leaf(CPU).items()})
    with default_dtype(dtype):
        algo = cls(nets, list(masks), cfg, CPU, inits)
    algo.net.train()
    return algo, nets


def batches(dtype=torch.float32, n=2):
    g = torch.Generator().manual_seed(5)
    return [(torch.randn(6, 1, 8, 8, generator=g).to(dtype), torch.randint(0, 3, (6,), generator=g)) for _ in range(n)]


class ConvCounter(TorchDispatchMode):
    """Counts the forward convolutions dispatched inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.convolutions = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket.__name__ == "convolution":  # forward convolutions only
            self.convolutions += 1
        return func(*args, **(kwargs or {}))


def test_darts2_hypergradient_matches_exact_unrolled_gradient():
    """∇_α L_val(w − ξ(∇_w L_train(w, α) + λw), α) by autograd through the virtual step."""
    algo, (net,) = searcher(Darts2nd, torch.float64)
    with torch.no_grad():
        algo.alphas.copy_(torch.randn(1, 6, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    algo.fd_scale = 1e-6  # float64 throughout: a small step stays clear of ReLU kinks
    (x_w, y_w), (x_a, y_a) = batches(torch.float64)
    before = {k: v.clone() for k, v in algo.net.state_dict().items()}
    got = algo.hypergradient(x_a, y_a, x_w, y_w)[0]
    for k, v in algo.net.state_dict().items():  # weights and BN statistics come back unchanged
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)

    xi, decay = CFG.lr, CFG.weight_decay
    buffers = {n: b.clone() for n, b in net.named_buffers()}
    weights = {n: p.detach().clone().requires_grad_(True) for n, p in net.named_parameters()}
    alphas = algo.alphas[0].detach().clone().requires_grad_(True)
    mask_t = MASK.to_tensor()

    def loss(params, x, y):
        probs = torch.softmax(masked_logits(alphas, mask_t), -1)
        return F.cross_entropy(functional_call(net, {**params, **buffers}, (x, probs, MASK)), y)

    grads = torch.autograd.grad(loss(weights, x_w, y_w), list(weights.values()), create_graph=True, allow_unused=True)
    unrolled = {n: w if g is None else w - xi * (g + decay * w) for (n, w), g in zip(weights.items(), grads)}
    (exact,) = torch.autograd.grad(loss(unrolled, x_a, y_a), [alphas])
    torch.testing.assert_close(got, exact, rtol=1e-5, atol=1e-9)
    assert torch.all(got[~mask_t] == 0)
    (first,) = torch.autograd.grad(loss(weights, x_a, y_a), [alphas])
    assert not torch.allclose(first, exact, rtol=1e-3)  # the second-order term matters here


def hvp_setup(dtype):
    algo, _ = searcher(Darts2nd, dtype, channels=8)
    with torch.no_grad():
        algo.alphas.copy_(torch.randn(1, 6, 5, generator=torch.Generator().manual_seed(1)).to(dtype))
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(16, 1, 8, 8, generator=g).to(dtype), torch.randint(0, 3, (16,), generator=g)
    at = algo.flat.flat.detach().clone()
    v = torch.randn(at.shape, generator=g).to(dtype)
    return algo, x, y, at, v


def test_darts2_hessian_vector_product_stays_float32_under_bf16_autocast(monkeypatch):
    """The finite-difference ∇²_{α,w} L · v (ε = 0.01/‖v‖) runs in float32 when the step runs
    under bf16 autocast (forced here on CPU) and then equals the same difference taken in
    float64; taken in bf16 it would be mostly rounding error (what this test guards)."""
    from fewshotnas.search import engine

    reference = hvp_setup(torch.float64)
    expected = reference[0].mixed_hvp(*reference[1:])
    bf16 = lambda device: torch.autocast("cpu", dtype=torch.bfloat16)  # noqa: E731
    monkeypatch.setattr(engine, "autocast", bf16)
    algo, x, y, at, v = hvp_setup(torch.float32)
    with bf16(None):
        got = algo.mixed_hvp(x, y, at, v)
    assert torch.equal(algo.flat.flat.detach(), at)  # the weights come back
    rel = float((got.double() - expected).norm() / expected.norm())
    assert rel < 1e-3, rel

    eps = algo.fd_scale / float(v.double().norm())
    halves = []
    for sign in (1, -1):
        with torch.no_grad():
            algo.flat.flat.copy_(at + sign * eps * v)
        halves.append(algo.alpha_grad(x, y))  # the step's own precision: bf16 autocast
    rel_bf16 = float(((halves[0] - halves[1]) / (2 * eps)).double().sub(expected).norm() / expected.norm())
    assert rel_bf16 > 0.1, rel_bf16


def test_schedules():
    assert cosine_schedule(0, 50, 1.0, 0.1) == 1.0
    assert cosine_schedule(49, 50, 1.0, 0.1) == pytest.approx(0.1)
    assert cosine_schedule(0, 1, 1.0, 0.1) == 1.0
    values = [cosine_schedule(e, 50, 1.0, 0.1) for e in range(50)]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert values[0] - values[1] < values[24] - values[25]  # cosine: slow start, fast middle
    assert cosine_schedule(2, 5, 1.0, 0.1) == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi / 2)))
    assert [linear_schedule(e, 5, 10.0, 0.1) for e in (0, 2, 4)] == pytest.approx([10.0, 5.05, 0.1])
    assert linear_schedule(0, 1, 1.0, 0.0) == 1.0
    for cls, attr, schedule, ends in ((Snas, "tau", cosine_schedule, CFG.temperature),
                                      (Gdas, "tau", linear_schedule, CFG.gdas_temperature),
                                      (DartsMinus, "beta", linear_schedule, CFG.aux_skip)):
        algo, _ = searcher(cls)
        for epoch in range(CFG.epochs):
            algo.begin_epoch(epoch, CFG.epochs)
            assert float(getattr(algo, attr)) == pytest.approx(schedule(epoch, CFG.epochs, *ends)), cls.name


def test_snas_samples_are_relaxed_one_hots_inside_the_mask():
    algo, _ = searcher(Snas)
    mask_t = MASK.to_tensor()
    z = algo.training_weights()[0]
    assert torch.all(z[~mask_t] == 0) and torch.allclose(z.sum(-1), torch.ones(6))
    algo.begin_epoch(3, 4)  # τ = 0.1: nearly one-hot
    peaks = torch.stack([algo.training_weights()[0].max(-1).values for _ in range(20)])
    assert peaks.mean() > 0.9
    a, _ = searcher(Snas, seed=7)
    b, _ = searcher(Snas, seed=7)
    draws = torch.stack([a.training_weights() for _ in range(300)])  # past one noise chunk (256 draws)
    torch.testing.assert_close(draws, torch.stack([b.training_weights() for _ in range(300)]))  # follows the seed
    assert not torch.allclose(draws[0], draws[1])
    c, _ = searcher(Snas, seed=8)
    assert not torch.allclose(draws[0], c.training_weights())


def test_dsnas_estimator_and_edge_fixing():
    algo, (net,) = searcher(Dsnas)
    (x_w, y_w), (x_a, y_a) = batches()
    g = algo.noise.next()
    algo.noise.used -= 1  # the step draws the same noise again, so it samples this path
    ops = sample_ops(algo.alphas.detach(), algo.allowed(), g)[0]
    assert MASK.contains(tuple(ops.tolist()))
    path = OpMask.from_genotype(tuple(ops.tolist()))
    # the estimator: (∂L/∂z_s) (onehot − p), with ∂L/∂z_s from a finite difference of the path's multiplier
    start = algo.alphas.detach().clone()[0]
    probs = algo.probabilities().detach()[0]
    state = algo.net.leaf_state_dict(0)
    algo.a_opt = torch.optim.SGD([algo.alphas], lr=1.0)  # the update is then exactly −grad
    algo.step(x_w, y_w, x_a, y_a)
    grad = start - algo.alphas.detach()[0]
    onehot = F.one_hot(ops, 5).float()
    z = onehot.clone().double()
    twin = tiny(torch.float64)
    twin.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in state.items()})
    for e in range(6):
        h = 1e-6
        zp, zm = z.clone(), z.clone()
        zp[e, ops[e]] += h
        zm[e, ops[e]] -= h
        lp = F.cross_entropy(twin(x_a.double(), zp, path), y_a)
        lm = F.cross_entropy(twin(x_a.double(), zm, path), y_a)
        credit = float((lp - lm).detach() / (2 * h))
        torch.testing.assert_close(grad[e], (credit * (onehot[e] - probs[e])).float(), rtol=1e-3, atol=1e-6)
    # progressive early stopping, checked once per epoch as DSNAS does: a dominant op on edge 3
    # stays free through the epoch's steps and is fixed at the epoch's end, the others not
    algo.a_opt = torch.optim.Adam([algo.alphas], lr=1e-3)
    with torch.no_grad():
        algo.alphas.zero_()
        algo.alphas[0, 3, 4] = 5.0  # p ≈ 0.99 among {none, skip, pool}
    algo.step(x_w, y_w, x_a, y_a)
    algo.step(x_w, y_w, x_a, y_a)
    assert not algo.fixed.any()
    algo.end_epoch()
    assert algo.fixed[0].tolist() == [False, False, False, True, False, False]
    assert int(algo.fixed_op[0, 3]) == 4
    assert algo.derive_masks()[0].ops_on(3) == (4,)
    with torch.no_grad():
        algo.alphas[0, 3, 4] = -5.0  # later alphas cannot move a fixed edge
    assert all(int(sample_ops(algo.alphas.detach(), algo.allowed(), algo.noise.next())[0, 3]) == 4 for _ in range(10))
    assert int(algo.best_ops()[0, 3]) == 4


@pytest.mark.parametrize("cls", [Gdas, Rsps, Dsnas])
def test_single_path_steps_compute_one_op_per_edge(cls, monkeypatch):
    """Every forward pass of a step computes exactly its path: the convolutions it dispatches are
    the fixed ones (stem, reduction blocks) plus one per edge and cell whose sampled op is a
    convolution (and whose source the path reaches); never the other ops of the leaf."""
    import fewshotnas.search.paths as paths
    from fewshotnas.space.fused import path_reach

    algo, _ = searcher(cls, masks=(OpMask.full(),))
    (x_w, y_w), (x_a, y_a) = batches()
    with ConvCounter() as none_only:
        algo.net(x_w, torch.zeros(1, 6, 5), OpMask.from_genotype((0,) * 6))
    fixed = none_only.convolutions
    algo.net(x_w, torch.full((1, 6, 5), 0.2))  # fills the pooling's per-shape cache (one conv per shape, once)
    with ConvCounter() as everything:
        algo.net(x_w, torch.full((1, 6, 5), 0.2))
    # nor_conv_1x1, nor_conv_3x3 and avg_pool_3x3 (a depthwise convolution on CPU) per edge, 3 cells
    assert everything.convolutions == fixed + 3 * 6 * 3
    paths_run = []
    original = paths.ops_union
    monkeypatch.setattr(cls.__module__ and __import__(cls.__module__, fromlist=["x"]), "ops_union",
                        lambda ops: paths_run.append(ops.clone()) or original(ops))
    for _ in range(5):
        paths_run.clear()
        with ConvCounter() as c:
            algo.step(x_w, y_w, x_a, y_a)
        assert len(paths_run) == (1 if cls in (Rsps, Dsnas) else 2)
        expected = 0
        for ops in paths_run:
            conv = (ops >= 2).float() * path_reach(ops)
            expected += (fixed + 3 * int(conv.sum())) * (2 if cls is Dsnas else 1)  # DSNAS: one path, two batches
        assert c.convolutions == expected


def test_gdas_straight_through_gradient_reaches_only_sampled_ops():
    algo, _ = searcher(Gdas)
    g = algo.noise.next()
    algo.noise.used -= 1
    ops, weights = algo.sample()
    assert torch.equal(ops, sample_ops(algo.alphas.detach(), algo.mask_tensor, g))
    assert set(weights[0][weights[0] != 0].tolist()) <= {1.0}  # value: the path's one-hot weights
    (x, y), _ = batches()
    from fewshotnas.search.engine import leaf_losses
    from fewshotnas.search.paths import ops_union

    loss = leaf_losses(algo.net(x, weights, ops_union(ops)), y).sum()
    (grad,) = torch.autograd.grad(loss, [algo.alphas])
    probs = torch.softmax((masked_logits(algo.alphas.detach(), algo.mask_tensor) + g) / algo.tau, -1)[0]
    # ∂L/∂α_e = (∂L/∂h_s) ∂p_s/∂α_e: proportional to p_s (onehot_s − p) / τ on each edge
    for e in range(6):
        s = int(ops[0, e])
        direction = probs[e, s] * (F.one_hot(torch.tensor(s), 5).float() - probs[e]) / float(algo.tau)
        if direction.abs().max() > 1e-8 and grad[0, e].abs().max() > 0:
            cos = F.cosine_similarity(grad[0, e], direction, dim=0)
            assert abs(float(cos)) == pytest.approx(1.0, abs=1e-4), e
    assert torch.all(grad[0][~MASK.to_tensor()] == 0)


def test_drnas_dirichlet_draws():
    torch.manual_seed(0)
    beta = torch.rand(2, 6, 5) * 3 + 0.5
    allowed = torch.stack([MASK.to_tensor(), OpMask.full().to_tensor()])
    gens = [torch.Generator().manual_seed(s) for s in (1, 2)]
    draws = torch.stack([dirichlet_sample(beta, allowed, gens) for _ in range(4000)])
    assert torch.all(draws[:, ~allowed] == 0)
    torch.testing.assert_close(draws.sum(-1), torch.ones(4000, 2, 6))
    mean = (beta * allowed) / (beta * allowed).sum(-1, keepdim=True)
    torch.testing.assert_close(draws.mean(0), mean, atol=0.02, rtol=0)  # the Dirichlet mean
    # pathwise gradient: d E[w_0] / d β_0 by autograd through the draws ≈ the analytic derivative
    b = beta[1:, :1].clone().requires_grad_(True)  # leaf 1 (full mask), edge 0
    total = torch.zeros(())
    gen = [torch.Generator().manual_seed(3)]
    for _ in range(4000):
        total = total + dirichlet_sample(b, allowed[1:, :1], gen)[0, 0, 0]
    (grad,) = torch.autograd.grad(total / 4000, [b])
    s = float(beta[1, 0].sum())
    analytic = torch.tensor([(s - float(beta[1, 0, 0])) / s**2] + [-float(beta[1, 0, 0]) / s**2] * 4)
    torch.testing.assert_close(grad[0, 0], analytic, atol=0.01, rtol=0.1)
    algo, _ = searcher(Drnas)
    probs = algo.distribution()[0]
    assert torch.all(probs[~MASK.to_tensor()] == 0) and torch.allclose(probs.sum(-1), torch.ones(6))
    w1, w2 = algo.training_weights(), algo.training_weights()
    assert not torch.allclose(w1, w2)  # a fresh draw per forward pass


def test_darts_minus_adds_the_auxiliary_skip_outside_the_softmax():
    leaf = OpMask.full().restrict(0, [0, 2]).restrict(1, [2, 3])  # no skip among the leaf's ops there
    algo, (net,) = searcher(DartsMinus, masks=(leaf,))
    (x, _), _ = batches()
    weights = algo.arch_weights()
    algo.net.eval()
    net.eval()
    algo.beta.fill_(0.0)
    torch.testing.assert_close(algo.forward(x, weights)[0], net(x, weights[0], leaf), atol=1e-5, rtol=1e-5)
    algo.beta.fill_(0.7)
    with_skip = algo.forward(x, weights)[0]
    assert not torch.allclose(with_skip, net(x, weights[0], leaf), atol=1e-3)
    full = OpMask.full()
    twin = build_network(full, channels=2, cells_per_stage=1, num_classes=3, in_channels=1).eval()
    twin.load_state_dict(net.state_dict(), strict=False)
    boosted = weights[0].clone()
    boosted[:, 1] += 0.7  # skip_connect is op 1: β on the identity's weight
    torch.testing.assert_close(with_skip, twin(x, boosted, full), atol=1e-5, rtol=1e-5)
    assert all(leaf.contains(g) for g in algo.derive(None, 0, 0))  # the aux skip is never chosen


def test_rsps_samples_uniformly_and_picks_by_one_shot_accuracy():
    algo, _ = searcher(Rsps, masks=(MASK, OpMask.full()))
    assert algo.alphas is None and algo.a_opt is None
    draws = torch.stack([algo.uniform_ops(algo.noise.next()) for _ in range(3000)])  # (n, K, 6)
    for k, mask in enumerate((MASK, OpMask.full())):
        for e in range(6):
            counts = torch.bincount(draws[:, k, e], minlength=5).float() / 3000
            allowed = mask.to_tensor()[e].float()
            torch.testing.assert_close(counts, allowed / allowed.sum(), atol=0.04, rtol=0)
    probs = algo.distribution()
    torch.testing.assert_close(probs.sum(-1), torch.ones(2, 6))


def test_rsps_draws_whole_architectures_from_a_given_distribution():
    """The Stage-2 baselines' idealised sampler: each step's architecture comes from the given
    distribution over whole architectures (here 3 of them, 0.1/0.3/0.6), and the leaf's
    reported distribution is its per-edge marginals; mass outside a leaf's mask is refused."""
    algo, _ = searcher(Rsps, masks=(OpMask.full(),))
    ops = torch.tensor([[0] * 6, [1] * 6, [3, 3, 3, 2, 2, 2]])
    algo.use_architectures(ops, torch.tensor([0.1, 0.3, 0.6]))
    draws = torch.stack([algo.training_ops(algo.noise.next())[0] for _ in range(4000)])
    share = torch.stack([(draws == row).all(1).float().mean() for row in ops])
    torch.testing.assert_close(share, torch.tensor([0.1, 0.3, 0.6]), atol=0.03, rtol=0)
    marginals = algo.distribution()[0]
    torch.testing.assert_close(marginals[0], torch.tensor([0.1, 0.3, 0.0, 0.6, 0.0]))
    torch.testing.assert_close(marginals[5], torch.tensor([0.1, 0.3, 0.6, 0.0, 0.0]))
    narrow, _ = searcher(Rsps)
    with pytest.raises(ValueError, match="outside the leaf's mask"):
        narrow.use_architectures(torch.tensor([[4] * 6]), torch.tensor([1.0]))

"""The one-shot algorithms' own pieces: DARTS's unrolled hypergradient against an exact
computation, SNAS's temperature and samples, DSNAS's estimator and edge fixing."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from fewshotnas.search.common import SearchConfig, masked_logits
from fewshotnas.search.darts import Darts2nd
from fewshotnas.search.dsnas import Dsnas
from fewshotnas.search.snas import Snas, cosine_temperature
from fewshotnas.space import OpMask, build_network

MASK = OpMask.full().restrict(0, [2, 3]).restrict(3, [0, 1, 4])
CFG = SearchConfig(epochs=4, lr=0.1, weight_decay=3e-4, arch_lr=0.01)


def tiny(dtype=torch.float32):
    torch.manual_seed(0)
    return build_network(MASK, channels=2, cells_per_stage=1, num_classes=3, in_channels=1).to(dtype).train()


def batches(dtype=torch.float32, n=2):
    g = torch.Generator().manual_seed(5)
    return [(torch.randn(6, 1, 8, 8, generator=g).to(dtype), torch.randint(0, 3, (6,), generator=g)) for _ in range(n)]


def test_darts2_hypergradient_matches_exact_unrolled_gradient():
    """∇_α L_val(w − ξ(∇_w L_train(w, α) + λw), α) by autograd through the virtual step."""
    net = tiny(torch.float64)
    algo = Darts2nd(net, MASK, CFG, torch.device("cpu"))
    algo.alphas.data = torch.randn(6, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    algo.fd_scale = 1e-6  # float64 throughout: a small step stays clear of ReLU kinks
    (x_w, y_w), (x_a, y_a) = batches(torch.float64)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    got = algo.hypergradient(x_a, y_a, x_w, y_w)
    for k, v in net.state_dict().items():  # weights and BN statistics come back unchanged
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)

    xi, decay = CFG.lr, CFG.weight_decay
    buffers = {n: b.clone() for n, b in net.named_buffers()}
    weights = {n: p.detach().clone().requires_grad_(True) for n, p in net.named_parameters()}
    alphas = algo.alphas.detach().clone().requires_grad_(True)
    mask_t = MASK.to_tensor()

    def loss(params, x, y):
        probs = torch.softmax(masked_logits(alphas, mask_t), -1)
        return F.cross_entropy(functional_call(net, {**params, **buffers}, (x, probs, MASK)), y)

    grads = torch.autograd.grad(loss(weights, x_w, y_w), list(weights.values()), create_graph=True, allow_unused=True)
    unrolled = {n: w if g is None else w - xi * (g + decay * w) for (n, w), g in zip(weights.items(), grads)}
    (exact,) = torch.autograd.grad(loss(unrolled, x_a, y_a), [alphas])
    torch.testing.assert_close(got, exact, rtol=1e-5, atol=1e-9)
    assert torch.all(got[~mask_t] == 0)
    # first order is a different quantity: the second-order term matters here
    (first,) = torch.autograd.grad(loss(weights, x_a, y_a), [alphas])
    assert not torch.allclose(first, exact, rtol=1e-3)


def hvp_setup(dtype):
    torch.manual_seed(0)
    net = build_network(MASK, channels=8, cells_per_stage=1, num_classes=3, in_channels=1).to(dtype).train()
    algo = Darts2nd(net, MASK, CFG, torch.device("cpu"))
    algo.alphas.data = torch.randn(6, 5, generator=torch.Generator().manual_seed(1)).to(dtype)
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(16, 1, 8, 8, generator=g).to(dtype), torch.randint(0, 3, (16,), generator=g)
    params = [p for p in net.parameters() if p.requires_grad]
    v = [torch.randn(p.shape, generator=g).to(dtype) for p in params]
    return algo, x, y, params, [p.detach().clone() for p in params], v


def test_darts2_hessian_vector_product_stays_float32_under_bf16_autocast(monkeypatch):
    """The finite-difference ∇²_{α,w} L · v (ε = 0.01/‖v‖) runs in float32 when the step runs
    under bf16 autocast (forced here on CPU) and then equals the same difference taken in
    float64; taken in bf16 it would be mostly rounding error (what this test guards)."""
    from fewshotnas.search import darts

    reference = hvp_setup(torch.float64)
    expected = reference[0].mixed_hvp(*reference[1:])
    bf16 = lambda device: torch.autocast("cpu", dtype=torch.bfloat16)  # noqa: E731
    monkeypatch.setattr(darts, "autocast", bf16)
    algo, x, y, params, at, v = hvp_setup(torch.float32)
    with bf16(None):
        got = algo.mixed_hvp(x, y, params, at, v)
    assert all(torch.equal(p, w) for p, w in zip(params, at))  # the weights come back
    rel = float((got.double() - expected).norm() / expected.norm())
    assert rel < 1e-3, rel

    eps = algo.fd_scale / float(torch.sqrt(sum((t.double() ** 2).sum() for t in v)))
    halves = []
    for sign in (1, -1):
        with torch.no_grad():
            for p, w, d in zip(params, at, v):
                p.copy_(w + sign * eps * d)
        halves.append(algo.alpha_grad(x, y))  # the step's own precision: bf16 autocast
    rel_bf16 = float(((halves[0] - halves[1]) / (2 * eps)).double().sub(expected).norm() / expected.norm())
    assert rel_bf16 > 0.1, rel_bf16


def test_snas_temperature_schedule():
    assert cosine_temperature(0, 50) == 1.0
    assert cosine_temperature(49, 50) == pytest.approx(0.1)
    assert cosine_temperature(0, 1) == 1.0
    values = [cosine_temperature(e, 50) for e in range(50)]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert values[0] - values[1] < values[24] - values[25]  # cosine: slow start, fast middle
    assert cosine_temperature(2, 5) == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi / 2)))
    algo = Snas(tiny(), MASK, CFG, torch.device("cpu"))
    for epoch in range(CFG.epochs):
        algo.begin_epoch(epoch, CFG.epochs)
        assert float(algo.tau) == pytest.approx(cosine_temperature(epoch, CFG.epochs))


def test_snas_samples_are_relaxed_one_hots_inside_the_mask():
    algo = Snas(tiny(), MASK, CFG, torch.device("cpu"))
    mask_t = MASK.to_tensor()
    torch.manual_seed(0)
    z = algo.sample()
    assert torch.all(z[~mask_t] == 0) and torch.allclose(z.sum(-1), torch.ones(6))
    algo.begin_epoch(3, 4)  # τ = 0.1: nearly one-hot
    peaks = torch.stack([algo.sample().max(-1).values for _ in range(20)])
    assert peaks.mean() > 0.9
    nets = [tiny() for _ in range(3)]  # tiny() seeds torch itself
    torch.manual_seed(7)
    a = Snas(nets[0], MASK, CFG, torch.device("cpu"))
    torch.manual_seed(7)
    b = Snas(nets[1], MASK, CFG, torch.device("cpu"))
    draws = torch.stack([a.sample() for _ in range(300)])  # past one noise chunk (256 draws)
    torch.testing.assert_close(draws, torch.stack([b.sample() for _ in range(300)]))  # the noise follows the seed
    assert not torch.allclose(draws[0], draws[1])
    torch.manual_seed(8)
    c = Snas(nets[2], MASK, CFG, torch.device("cpu"))
    assert not torch.allclose(draws[0], c.sample())


def test_dsnas_estimator_and_edge_fixing():
    net = tiny()
    algo = Dsnas(net, MASK, CFG, torch.device("cpu"))
    (x_w, y_w), (x_a, y_a) = batches()
    ops, path = algo.sample()
    assert MASK.contains(tuple(ops.tolist())) and path == OpMask.from_genotype(tuple(ops.tolist()))
    algo.noise.used -= 1  # the step draws the same noise again, so it samples this path
    # the estimator: (∂L/∂z_s) (onehot − p), with ∂L/∂z_s from a finite difference of the path's multiplier
    start = algo.alphas.detach().clone()
    probs = algo.probabilities().detach()
    algo.a_opt = torch.optim.SGD([algo.alphas], lr=1.0)  # the update is then exactly −grad
    algo.step(x_w, y_w, x_a, y_a)
    grad = start - algo.alphas.detach()
    onehot = F.one_hot(ops, 5).float()
    z = onehot.clone().double()
    twin = tiny(torch.float64)
    twin.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in start_state(net).items()})
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
        algo.alphas[3, 4] = 5.0  # p ≈ 0.99 among {none, skip, pool}
    algo.step(x_w, y_w, x_a, y_a)
    algo.step(x_w, y_w, x_a, y_a)
    assert not algo.fixed.any()
    algo.end_epoch()
    assert algo.fixed.tolist() == [False, False, False, True, False, False]
    assert int(algo.fixed_op[3]) == 4
    assert algo.derive_mask().ops_on(3) == (4,)
    with torch.no_grad():
        algo.alphas[3, 4] = -5.0  # later alphas cannot move a fixed edge
    assert all(int(algo.sample()[0][3]) == 4 for _ in range(10))
    assert algo.eval_mask().ops_on(3) == (4,)


_STATES: dict = {}


def start_state(net):
    return _STATES[id(net)]


@pytest.fixture(autouse=True)
def _record_initial_states(monkeypatch):
    """Dsnas.step trains the weights after the arch step; keep each network's weights
    from before the step so the finite difference sees the same network."""
    original = Dsnas.step

    def step(self, *args):
        _STATES[id(self.net)] = {k: v.clone() for k, v in self.net.state_dict().items()}
        return original(self, *args)

    monkeypatch.setattr(Dsnas, "step", step)
    yield

"""Condition number of the neural tangent kernel (TE-NAS, Chen et al. 2021; App. B.6)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from fewshotnas.metrics.registry import MetricContext, register_metric
from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network, active_parameters

STATISTICS = ("fixed", "batch")
"""Option ``statistics``: ``fixed`` (the default: BatchNorm normalises with the batch's statistics,
held fixed, so each row is a true per-sample gradient) or ``batch`` (TE-NAS's code: the gradients
also flow through the batch's statistics, coupling the samples)."""


def per_sample_gradients(net: Network, mask: OpMask, x: torch.Tensor) -> torch.Tensor:
    """(B, P) float64: row i = ∂(Σ_k f(x)_ik)/∂θ over the parameters the mask enables,
    from one forward pass and one backward per sample through the retained graph
    (faster on CPU than a vmapped ``is_grads_batched`` backward: 1.8 vs 3.1 s at B=64)."""
    params = [p for p in active_parameters(net, mask) if p.requires_grad]
    summed = net(x, mask=mask).float().sum(dim=1)
    rows = []
    for i in range(len(x)):
        grads = torch.autograd.grad(summed[i], params, retain_graph=i + 1 < len(x), allow_unused=True)
        rows.append(torch.cat([g.reshape(-1) for g in grads if g is not None]))
    return torch.stack(rows).double()


def fixed_statistics_gradients(net: Network, mask: OpMask, x: torch.Tensor) -> torch.Tensor:
    """(B, P) float64: row i = ∂(Σ_k f(x_i)_k)/∂θ over the parameters the mask enables (in
    :func:`per_sample_gradients`' order, zeros where no path uses one), every BatchNorm
    normalising by the statistics of the whole batch ``x``, held fixed: the forward pass equals
    the training-mode one, but no gradient flows through the statistics, so the samples are
    independent and one vectorised per-sample backward (``torch.func.vmap`` of ``grad``) gives
    every row. ``net``'s buffers and mode are left as they were."""
    bns = {name: m for name, m in net.named_modules() if isinstance(m, nn.BatchNorm2d)}
    if any(m.running_mean is None for m in bns.values()):
        raise ValueError("ntk with statistics: fixed needs BatchNorm layers that keep running statistics")
    stats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def record(name: str) -> Callable:
        def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
            stats[name] = (inputs[0].mean((0, 2, 3)), inputs[0].var((0, 2, 3), unbiased=False))
        return hook

    saved = {name: b.clone() for name, b in net.named_buffers()}  # the recording pass updates them
    hooks = [m.register_forward_hook(record(name)) for name, m in bns.items()]
    try:
        with torch.no_grad():
            net(x, mask=mask)
    finally:
        for h in hooks:
            h.remove()
        with torch.no_grad():
            for name, b in net.named_buffers():
                b.copy_(saved[name])
    buffers = dict(net.named_buffers())
    for name, (mean, var) in stats.items():
        buffers[f"{name}.running_mean"], buffers[f"{name}.running_var"] = mean, var
    name_of = {id(p): name for name, p in net.named_parameters()}
    order = [name_of[id(p)] for p in active_parameters(net, mask) if p.requires_grad]
    params = {name: net.get_parameter(name).detach() for name in order}

    def summed_logits(p: dict[str, torch.Tensor], sample: torch.Tensor) -> torch.Tensor:
        return functional_call(net, (p, buffers), (sample.unsqueeze(0),), {"mask": mask}).float().sum()

    was_training = net.training
    net.eval()  # BatchNorm reads the (replaced) running statistics and updates nothing
    try:
        rows = vmap(grad(summed_logits), in_dims=(None, 0))(params, x)
    finally:
        net.train(was_training)
    return torch.cat([rows[name].reshape(len(x), -1) for name in order], dim=1).double()


@register_metric("ntk", options=("statistics",))
def ntk(net: Network, mask: OpMask, ctx: MetricContext) -> float:
    """λ_max/λ_min of the empirical NTK Θ = G Gᵀ (B×B), G the per-sample gradients of the
    summed logits on the first batch; eigenvalues by the symmetric solver, by magnitude.
    Option ``statistics`` (:data:`STATISTICS`): ``fixed`` (default: G by
    :func:`fixed_statistics_gradients`, one vectorised backward) or ``batch`` (TE-NAS's code: G by
    :func:`per_sample_gradients`, one backward per sample, about 10× slower on a CPU, another kernel).

    +inf when Θ is numerically singular (λ_min ≤ λ_max · B · ε of float64, NumPy's rank rule)."""
    statistics = ctx.options.get("statistics", STATISTICS[0])
    if statistics not in STATISTICS:
        raise ValueError(f"ntk option statistics: {statistics!r} is not one of {', '.join(STATISTICS)}")
    gradients = per_sample_gradients if statistics == "batch" else fixed_statistics_gradients
    gram = gradients(net, mask, ctx.batches[0][0])
    eig = torch.linalg.eigvalsh(gram @ gram.T).abs()
    low, high = float(eig.min()), float(eig.max())
    if low <= high * len(eig) * torch.finfo(torch.float64).eps:
        return math.inf
    return high / low

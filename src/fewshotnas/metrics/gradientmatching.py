"""Gradient matching (GM-NAS, Hu et al. 2022)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fewshotnas.metrics.registry import MetricContext, Score, cosine_similarity, register_metric
from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network, cell_parameters


def gradient_similarity(a: Score, b: Score, options: dict) -> float:
    """Cosine similarity of two gradients (GM-NAS eq. 2), in [−1, 1]: of the whole vectors, or
    for per-filter gradients the mean over all filters (rows) of their cosines (a zero filter
    has cosine 0).

    GM-NAS sums over filters; the mean differs by a constant factor (the number of shared
    filters, the same for every candidate and every partition), so the min-cut picks the same
    partition."""
    if not isinstance(a, list):
        return cosine_similarity(a, b, options)
    cos = torch.cat([F.cosine_similarity(x, y, dim=1, eps=1e-30) for x, y in zip(a, b)])
    return float(cos.mean())


@register_metric("gradientmatching", kind="vector", similarity_fn=gradient_similarity, options=("per_filter",))
def gradientmatching(net: Network, mask: OpMask, ctx: MetricContext) -> Score:
    """Mean cross-entropy gradient of the shared weights (all cell ops except those on the split
    edge) over the context's batches: one float64 vector, or with option ``per_filter`` one
    (filters, fan-in) float64 matrix per shared weight tensor (compared filter by filter)."""
    shared = [p for p in cell_parameters(net, exclude_edge=ctx.edge) if p.requires_grad]
    total = [torch.zeros_like(p) for p in shared]
    for x, y in ctx.batches:
        loss = F.cross_entropy(net(x, mask=mask).float(), y)
        grads = torch.autograd.grad(loss, shared, allow_unused=True)
        for acc, g in zip(total, grads):
            if g is not None:
                acc += g
    mean = [g.double() / len(ctx.batches) for g in total]
    if ctx.options.get("per_filter", False):
        return [g.reshape(g.shape[0], -1) for g in mean]
    return torch.cat([g.flatten() for g in mean])

"""Gradient matching (GM-NAS, Hu et al. 2022)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fewshotnas.metrics.registry import MetricContext, register_metric
from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network, cell_parameters


@register_metric("gradientmatching", kind="vector")
def gradientmatching(net: Network, mask: OpMask, ctx: MetricContext) -> torch.Tensor:
    """Mean cross-entropy gradient of the shared weights (all cell ops except those on
    the split edge) over the context's batches, flattened to one float64 vector."""
    shared = [p for p in cell_parameters(net, exclude_edge=ctx.edge) if p.requires_grad]
    total = [torch.zeros_like(p) for p in shared]
    for x, y in ctx.batches:
        loss = F.cross_entropy(net(x, mask=mask), y)
        grads = torch.autograd.grad(loss, shared, allow_unused=True)
        for acc, g in zip(total, grads):
            if g is not None:
                acc += g
    return torch.cat([g.flatten() for g in total]).double() / len(ctx.batches)

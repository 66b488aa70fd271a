"""Gradient norm (Abdelfattah et al. 2021, App. B.1 of the metric-splitting paper)."""

from __future__ import annotations

import torch

from fewshotnas.metrics.common import first_batch_loss
from fewshotnas.metrics.registry import MetricContext, register_metric
from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network, active_parameters


@register_metric("gradnorm")
def gradnorm(net: Network, mask: OpMask, ctx: MetricContext) -> float:
    """‖∇_w L‖_F: Frobenius norm of the concatenated cross-entropy gradient on the first batch."""
    params = active_parameters(net, mask)
    grads = torch.autograd.grad(first_batch_loss(net, mask, ctx), params, allow_unused=True)
    squares = [g.double().pow(2).sum() for g in grads if g is not None]
    return float(torch.stack(squares).sum().sqrt()) if squares else 0.0

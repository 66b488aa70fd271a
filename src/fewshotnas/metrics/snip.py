"""SNIP (Lee et al. 2019) as a zero-cost proxy (Abdelfattah et al. 2021; App. B.3)."""

from __future__ import annotations

import torch

from fewshotnas.metrics.common import active_layer_weights, first_batch_loss
from fewshotnas.metrics.registry import MetricContext, register_metric
from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network


@register_metric("snip")
def snip(net: Network, mask: OpMask, ctx: MetricContext) -> float:
    """Σ|∂L/∂θ ⊙ θ| over the enabled conv/linear weights, cross-entropy on the first batch."""
    weights = active_layer_weights(net, mask)
    grads = torch.autograd.grad(first_batch_loss(net, mask, ctx), weights, allow_unused=True)
    terms = [(g.double() * w.detach().double()).abs().sum() for g, w in zip(grads, weights) if g is not None]
    return float(torch.stack(terms).sum()) if terms else 0.0

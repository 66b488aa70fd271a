"""GraSP (Wang et al. 2020) as a zero-cost proxy (Abdelfattah et al. 2021; App. B.4)."""

from __future__ import annotations

import torch

from fewshotnas.metrics.common import active_layer_weights, fill_unused, first_batch_loss
from fewshotnas.metrics.registry import MetricContext, register_metric
from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network


@register_metric("grasp")
def grasp(net: Network, mask: OpMask, ctx: MetricContext) -> float:
    """−Σ θ ⊙ (H g) over the enabled conv/linear weights: g = ∂L/∂θ, H the Hessian of the
    first batch's cross-entropy, Hg by double backpropagation (an exact Hessian-vector product)."""
    weights = active_layer_weights(net, mask)
    grads = fill_unused(torch.autograd.grad(first_batch_loss(net, mask, ctx), weights, create_graph=True,
                                            allow_unused=True), weights)
    # g·g with one factor detached: its gradient is H g
    z = sum((g * g.detach()).sum() for g in grads if g.requires_grad)
    if not torch.is_tensor(z):
        return 0.0
    hg = torch.autograd.grad(z, weights, allow_unused=True)
    terms = [-(w.detach().double() * h.double()).sum() for w, h in zip(weights, hg) if h is not None]
    return float(torch.stack(terms).sum()) if terms else 0.0

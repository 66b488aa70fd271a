"""SynFlow (Tanaka et al. 2020) as a zero-cost proxy (Abdelfattah et al. 2021)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from fewshotnas.metrics.common import layer_weights
from fewshotnas.metrics.registry import MetricContext, register_metric
from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network


def neutralised_copy(net: Network) -> Network:
    """A float64 copy with |weights| and every BatchNorm turned into the identity (eval mode)."""
    twin = copy.deepcopy(net).double().eval()
    with torch.no_grad():
        for module in twin.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.zero_()
                module.running_var.fill_(1.0)
                module.weight.fill_(1.0)
                module.bias.zero_()
                module.eps = 0.0
            elif isinstance(module, (nn.Conv2d, nn.Linear)):
                module.weight.abs_()
                if module.bias is not None:
                    module.bias.abs_()
    return twin


@register_metric("synflow", needs_data=False)
def synflow(net: Network, mask: OpMask, ctx: MetricContext) -> float:
    """Σ|θ ⊙ ∂R/∂θ| over conv/linear weights, R = Σ f(1) with |θ|, float64, BN neutralised."""
    twin = neutralised_copy(net)
    x = ctx.batches[0][0]
    ones = torch.ones((1, *x.shape[1:]), dtype=torch.float64, device=x.device)
    weights = layer_weights(twin)
    grads = torch.autograd.grad(twin(ones, mask=mask).sum(), weights, allow_unused=True)
    terms = [(w.detach() * g).abs().sum() for w, g in zip(weights, grads) if g is not None]
    return float(torch.stack(terms).sum()) if terms else 0.0

"""SynFlow (Tanaka et al. 2020) as a zero-cost proxy (Abdelfattah et al. 2021)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from fewshotnas.metrics.common import layer_weights
from fewshotnas.metrics.registry import MetricContext, register_metric
from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network


def replace_batchnorm(module: nn.Module) -> None:
    """Swap every BatchNorm2d below ``module`` for an identity, in place (cuDNN refuses the
    eps = 0 that would make an eval-mode BN exactly the identity)."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, nn.Identity())
        else:
            replace_batchnorm(child)


def neutralised_copy(net: Network) -> Network:
    """A float64 copy with |weights| and every BatchNorm replaced by the identity (eval mode)."""
    twin = copy.deepcopy(net).double().eval()
    replace_batchnorm(twin)
    with torch.no_grad():
        for module in twin.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
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

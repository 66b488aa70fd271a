"""Jacobian covariance (NASWOT, Mellor et al. 2021; App. B.2)."""

from __future__ import annotations

import math

import torch

from fewshotnas.metrics.registry import MetricContext, register_metric
from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network

K = 1e-5


@register_metric("jacobcov")
def jacobcov(net: Network, mask: OpMask, ctx: MetricContext) -> float:
    """−Σ_i (log(λ_i + k) + 1/(λ_i + k)), k = 1e-5, λ the eigenvalues (symmetric solver) of the
    correlation matrix (B×B) of the per-sample input gradients of the summed logits, first batch.

    NaN when a sample's gradient is constant (e.g. no path from input to output)."""
    x = ctx.batches[0][0].detach().clone().requires_grad_(True)
    (jac,) = torch.autograd.grad(net(x, mask=mask).sum(), x, allow_unused=True)
    if jac is None:  # the output does not depend on the input
        return math.nan
    rows = jac.reshape(len(x), -1).double()
    if bool((rows.std(dim=1) == 0).any()):
        return math.nan
    eig = torch.linalg.eigvalsh(torch.corrcoef(rows))
    return float(-(torch.log(eig + K) + 1.0 / (eig + K)).sum())

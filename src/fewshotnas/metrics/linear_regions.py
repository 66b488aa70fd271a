"""Number of linear regions (#lr; TE-NAS, Chen et al. 2021; App. B.7)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fewshotnas.metrics.registry import MetricContext, register_metric
from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network


def activation_patterns(net: Network, mask: OpMask, batches: list[torch.Tensor]) -> torch.Tensor:
    """(N, U) bool: for each of the N samples, the sign (> 0) of every ReLU unit that the
    candidate runs (U units, the same for every sample), in forward order."""
    codes: list[torch.Tensor] = []
    handles = [m.register_forward_hook(lambda _m, _i, out: codes.append(out.detach().flatten(1) > 0))
               for m in net.modules() if isinstance(m, nn.ReLU)]
    rows = []
    try:
        with torch.no_grad():
            for x in batches:
                codes.clear()
                net(x, mask=mask)
                rows.append(torch.cat(codes, dim=1))
    finally:
        for h in handles:
            h.remove()
    return torch.cat(rows, dim=0)


@register_metric("lr", options=("image_size",))
def linear_regions(net: Network, mask: OpMask, ctx: MetricContext) -> float:
    """Number of distinct ReLU sign patterns among the samples of all context batches (the
    linear regions these samples fall in). Option ``image_size``: shrink the inputs to this
    size first (≥ 4; TE-NAS counts on tiny inputs, where regions are shared; default: as given)."""
    size = ctx.options.get("image_size")
    if size is not None and size < 4:
        raise ValueError(f"lr option image_size must be ≥ 4 (two stride-2 reductions), got {size}")
    inputs = [x if size is None else F.interpolate(x, size=(size, size), mode="area") for x, _ in ctx.batches]
    patterns = activation_patterns(net, mask, inputs)
    return float(torch.unique(patterns, dim=0).shape[0])

"""Parameter count (#params)."""

from __future__ import annotations

from fewshotnas.metrics.registry import MetricContext, register_metric
from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network, active_parameters


@register_metric("params", needs_data=False)
def params(net: Network, mask: OpMask, ctx: MetricContext) -> float:
    """Number of scalar parameters used by the sub-supernet (ops enabled by the mask only)."""
    return float(sum(p.numel() for p in active_parameters(net, mask)))

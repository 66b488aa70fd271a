"""Pieces the metrics share: the weights they score and the first batch's loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fewshotnas.metrics.registry import MetricContext
from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network, active_parameters


def layer_weights(net: nn.Module) -> list[nn.Parameter]:
    """Weights of every Conv2d and Linear layer (the layers the zero-cost proxies score)."""
    return [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def active_layer_weights(net: Network, mask: OpMask) -> list[nn.Parameter]:
    """Conv2d/Linear weights of the ops the mask enables (plus stem, reductions, classifier)."""
    active = {id(p) for p in active_parameters(net, mask)}
    return [w for w in layer_weights(net) if id(w) in active and w.requires_grad]


def first_batch_loss(net: Network, mask: OpMask, ctx: MetricContext) -> torch.Tensor:
    """Cross-entropy of the candidate on the context's first batch (train mode, float32)."""
    x, y = ctx.batches[0]
    return F.cross_entropy(net(x, mask=mask).float(), y)


def fill_unused(grads: tuple[torch.Tensor | None, ...], params: list[nn.Parameter]) -> list[torch.Tensor]:
    """``autograd.grad(..., allow_unused=True)`` results with None replaced by zeros."""
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params)]

"""All weights of a fused network in one flat tensor, with per-leaf reductions.

The fused search updates K leaves' weights with a handful of operations on one
tensor instead of a few per parameter: every parameter of the module becomes a
view (same shape and strides, e.g. channels-last) into ``flat``, a chunk per
parameter. Inside a chunk, leaf k's elements are the k-th contiguous block
(the first dimension of every fused tensor is leaf-major), so ``segment``
(one leaf index per element) turns per-leaf sums into one ``index_add_``.
"""

from __future__ import annotations

import torch
from torch import nn


class FlatParameters:
    """``params`` (parameters of a fused module, K leaves stacked on dim 0) aliased into one flat
    :class:`nn.Parameter`; ``flat.grad`` holds the gradients after :meth:`set_grads`.

    After construction, in-place updates of ``flat`` (an optimiser over ``[flat]``) are updates
    of the module's parameters. Move the module to its device before building this.
    """

    def __init__(self, params: list[nn.Parameter], leaves: int) -> None:
        if not params:
            raise ValueError("no parameters to flatten")
        self.params, self.leaves = params, leaves
        first = params[0]
        sizes = [p.numel() for p in params]
        flat = torch.empty(sum(sizes), dtype=first.dtype, device=first.device)
        grad = torch.zeros_like(flat)
        self.grad_views: list[torch.Tensor] = []
        segments = []
        for p, chunk, grad_chunk in zip(params, flat.split(sizes), grad.split(sizes)):
            if not (p.is_contiguous() or p.is_contiguous(memory_format=torch.channels_last)):
                raise ValueError(f"parameter of shape {tuple(p.shape)} is not dense; cannot alias it")
            if p.dim() == 0 or p.shape[0] % leaves:
                raise ValueError(f"parameter of shape {tuple(p.shape)} does not split into {leaves} leaves")
            view = chunk.as_strided(p.shape, p.stride())
            view.copy_(p.detach())
            p.data = view
            self.grad_views.append(grad_chunk.as_strided(p.shape, p.stride()))
            segments.append(torch.arange(leaves, device=flat.device).repeat_interleave(p.numel() // leaves))
        self.flat = nn.Parameter(flat)
        self.flat.grad = grad
        self.segment = torch.cat(segments)
        """(N,) int64: the leaf of every element of ``flat``."""

    def set_grads(self, grads: tuple[torch.Tensor | None, ...] | list[torch.Tensor | None]) -> torch.Tensor:
        """Copy per-parameter gradients (None: zero) into ``flat.grad`` and return it."""
        if any(g is None for g in grads):
            grads = [torch.zeros_like(p) if g is None else g for p, g in zip(self.params, grads)]
        torch._foreach_copy_(self.grad_views, list(grads))
        return self.flat.grad

    def leaf_sums(self, values: torch.Tensor) -> torch.Tensor:
        """(K,) per-leaf sums of a flat (N,) tensor."""
        return torch.zeros(self.leaves, dtype=values.dtype, device=values.device).index_add_(0, self.segment, values)

    def per_element(self, per_leaf: torch.Tensor) -> torch.Tensor:
        """(N,) tensor: each element gets its leaf's entry of the (K,) ``per_leaf``."""
        return per_leaf[self.segment]

    def clip_grad_norm_(self, max_norm: float) -> torch.Tensor:
        """Per-leaf ``clip_grad_norm_``: scale leaf k's gradient by min(1, max_norm / (‖g_k‖ + 1e-6)),
        as ``torch.nn.utils.clip_grad_norm_`` does to one network. Returns the (K,) norms."""
        grad = self.flat.grad
        norms = self.leaf_sums(grad.square()).sqrt()
        coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
        grad.mul_(self.per_element(coef.to(grad.dtype)))
        return norms

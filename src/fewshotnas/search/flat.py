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


def alias_into_flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    """One flat tensor holding ``tensors`` (same dtype and device, each dense), which become
    views into it with their shapes and strides: in-place updates of either are shared."""
    sizes = [t.numel() for t in tensors]
    flat = torch.empty(sum(sizes), dtype=tensors[0].dtype, device=tensors[0].device)
    for t, chunk in zip(tensors, flat.split(sizes)):
        if not (t.is_contiguous() or t.is_contiguous(memory_format=torch.channels_last)):
            raise ValueError(f"tensor of shape {tuple(t.shape)} is not dense; cannot alias it")
        view = chunk.as_strided(t.shape, t.stride())
        view.copy_(t.detach())
        t.data = view
    return flat


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
        for p in params:
            if p.dim() == 0 or p.shape[0] % leaves:
                raise ValueError(f"parameter of shape {tuple(p.shape)} does not split into {leaves} leaves")
        flat = alias_into_flat(params)
        grad = torch.zeros_like(flat)
        sizes = [p.numel() for p in params]
        self.grad_views = [chunk.as_strided(p.shape, p.stride()) for p, chunk in zip(params, grad.split(sizes))]
        self.segment = torch.cat([torch.arange(leaves, device=flat.device).repeat_interleave(p.numel() // leaves)
                                  for p in params])
        """(N,) int64: the leaf of every element of ``flat``."""
        self.flat = nn.Parameter(flat)
        self.flat.grad = grad

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

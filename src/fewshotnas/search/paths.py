"""Single-path training of K leaves (DSNAS, GDAS, RSPS): each leaf trains one op per edge.

What runs is the union of the leaves' paths (one host sync per forward: which ops to run;
unavoidable for single-path training); each leaf weights its own path's ops one-hot, so its
output is its path's. A leaf alone updates only the ops its path computes, so after a step
:class:`PathGuard` puts back, per leaf, the weights and momentum of every op that got no
gradient in that leaf (off its path, or on it but leading nowhere) and the BatchNorm
statistics of every op it did not compute: K leaves together stay equal to K runs alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from fewshotnas.search.common import masked_logits
from fewshotnas.search.engine import Forward, Searcher
from fewshotnas.search.flat import alias_into_flat
from fewshotnas.space import NUM_EDGES, NUM_OPS, OpMask
from fewshotnas.space.fused import OWNER_ALWAYS, op_owner, path_reach, path_useful


def ops_union(ops: torch.Tensor) -> OpMask:
    """The run mask of K single-op paths ((K, 6) op indices): per edge, every op some leaf's
    path uses (reads ``ops`` back to the host)."""
    rows = [[False] * NUM_OPS for _ in range(NUM_EDGES)]
    for path in ops.tolist():
        for e, o in enumerate(path):
            rows[e][o] = True
    return OpMask(tuple(tuple(r) for r in rows))


def path_weights(ops: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(K, 6, 5) one-hot op weights of the paths ``ops`` (K, 6), 0 on edges the path does not
    reach (a leaf alone does not compute them)."""
    return F.one_hot(ops, NUM_OPS).to(dtype) * path_reach(ops)[..., None].to(dtype)


def sample_ops(logits: torch.Tensor, allowed: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """(…, 6) op per edge: argmax of the allowed ``logits`` plus Gumbel ``noise`` (the Gumbel-max
    trick: a draw from the softmax of the logits over the allowed ops; zero logits give a
    uniform draw). ``logits``, ``allowed`` (bool) and ``noise`` are (…, 6, 5)."""
    return (logits.masked_fill(~allowed, float("-inf")) + noise).argmax(dim=-1)


class PathGuard:
    """Keeps K leaves trained on single paths equal to their runs alone (module docstring).

    Per step: :meth:`begin` saves the flat weights, momentum and BatchNorm statistics; after
    every forward pass :meth:`forward_done` puts back the statistics outside each leaf's path,
    and after the weight update :meth:`update_done` the weights and momentum."""

    def __init__(self, searcher) -> None:
        self.searcher = searcher
        net, leaves, device = searcher.net, searcher.leaves, searcher.device
        names = [n for n, _ in net.named_parameters()]
        self.param_owner = self._owners(names, searcher.params, leaves, device)
        stats = [(n, b) for n, b in net.named_buffers() if n.endswith(("running_mean", "running_var"))]
        self.stats = alias_into_flat([b for _, b in stats])
        self.stats_owner = self._owners([n for n, _ in stats], [b for _, b in stats], leaves, device)
        self.always = torch.ones(leaves, 1, dtype=torch.bool, device=device)

    @staticmethod
    def _owners(names: list[str], tensors: list[torch.Tensor], leaves: int, device: torch.device) -> torch.Tensor:
        """(N,) index into a flattened (K, 31) activity table for every element of the flat
        tensor aliasing ``tensors`` (leaf-major blocks): leaf · 31 + owner id."""
        ids = []
        for name, t in zip(names, tensors):
            leaf = torch.arange(leaves, device=device).repeat_interleave(t.numel() // leaves)
            ids.append(leaf * (OWNER_ALWAYS + 1) + op_owner(name))
        return torch.cat(ids)

    def begin(self) -> None:
        """Before a step: save the flat weights, momentum and BatchNorm statistics."""
        flat = self.searcher.flat.flat
        momentum = self.searcher.w_opt.state.get(flat, {}).get("momentum_buffer")
        self.saved = (flat.detach().clone(), None if momentum is None else momentum.clone())
        self.saved_stats = self.stats.clone()

    def _table(self, ops: torch.Tensor) -> torch.Tensor:
        """(K·31,) bool activity table of the paths ``ops`` (K, 6) (plus the always-on parts)."""
        return torch.cat([path_weights(ops).bool().flatten(1), self.always], dim=1).flatten()

    @torch.no_grad()
    def forward_done(self, ops: torch.Tensor) -> None:
        """After a forward pass of the paths ``ops`` (K, 6): put back each leaf's statistics of
        the ops its path did not compute (other leaves' paths ran them on its channels)."""
        stats_on = self._table(ops)[self.stats_owner]
        self.stats.copy_(torch.where(stats_on, self.stats, self.saved_stats))
        self.saved_stats.copy_(self.stats)

    @torch.no_grad()
    def update_done(self, ops: torch.Tensor) -> None:
        """After the weight update on the paths ``ops`` (K, 6), whose forward pass has been
        :meth:`forward_done`: put back each leaf's weights and momentum of the ops that got no
        gradient in that leaf (off its path, or on it but leading nowhere)."""
        flat = self.searcher.flat.flat
        trained = path_weights(ops).bool() & path_useful(ops)[..., None]
        params_on = torch.cat([trained.flatten(1), self.always], dim=1).flatten()[self.param_owner]
        saved_flat, saved_momentum = self.saved
        flat.copy_(torch.where(params_on, flat, saved_flat))
        buf = self.searcher.w_opt.state.get(flat, {}).get("momentum_buffer")
        if buf is not None:
            kept = torch.zeros_like(buf) if saved_momentum is None else saved_momentum
            buf.copy_(torch.where(params_on, buf, kept))
        self.saved = None


class SinglePathSearcher(Searcher):
    """Base of the algorithms that train single-op paths drawn from softmax(α) (DSNAS, GDAS):
    evaluation runs each leaf's argmax path (``expected``) or one path drawn per batch by
    Gumbel-max (``sampled``), both within :meth:`allowed`; each step is guarded by a
    :class:`PathGuard` (``self.guard``)."""

    uses_noise = True
    samples_architectures = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.guard = PathGuard(self)

    def allowed(self) -> torch.Tensor:
        """(K, 6, 5) bool: the ops each leaf may still choose (default its mask)."""
        return self.mask_tensor

    def best_ops(self) -> torch.Tensor:
        """(K, 6) argmax op per edge among the allowed ones."""
        return masked_logits(self.alphas.detach(), self.allowed()).argmax(dim=-1)

    def arch_weights(self) -> torch.Tensor:
        """One-hot of each leaf's best ops."""
        return F.one_hot(self.best_ops(), NUM_OPS).to(self.alphas.dtype)

    def eval_forward(self) -> Forward:
        best = self.best_ops()
        weights, run = path_weights(best, self.alphas.dtype), ops_union(best)
        return lambda x: self.net(x, weights, run)

    def validation_forward(self, noise: Iterator[torch.Tensor]) -> Forward:
        def forward(x: torch.Tensor) -> torch.Tensor:
            g = next(noise).to(self.device).expand(self.leaves, NUM_EDGES, NUM_OPS)
            ops = sample_ops(self.alphas.detach(), self.allowed(), g)
            return self.net(x, path_weights(ops, self.alphas.dtype), ops_union(ops))

        return forward

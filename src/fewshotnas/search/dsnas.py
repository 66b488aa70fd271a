"""DSNAS (Hu et al., *DSNAS: Direct neural architecture search without parameter retraining*,
CVPR 2020) as App. A.5 of the metric-splitting paper runs it: one op per edge sampled each
step (a discrete one-hot path, the only ops computed), the DSNAS gradient estimator for the
alphas, and progressive early stopping (threshold ``fix_threshold``, 0.8).

Estimator: with p = softmax(α) over the allowed ops and s the sampled op of an edge,
∂L/∂α = (∂L/∂z_s) · ∇_α log p_s = (∂L/∂z_s) · (onehot(s) − p), where z is the one-hot
sample multiplying the ops' outputs (its value is 1, so the forward is the path's). The
same path trains the alphas (architecture batch) and the weights (weight batch).

Early stopping: at the end of every epoch (as DSNAS checks it: once per epoch, on the softmax
gap of the top two ops), an edge whose top-two probability gap p₁ − p₂ reaches the threshold is
fixed to its best op; sampling, derivation and evaluation then use that op only, and the run
continues on the remaining edges.

Sampling: op = argmax over the allowed ops of (α + g), g ~ Gumbel (a draw from softmax(α)),
with each leaf's own noise; K leaves run the union of their paths (:mod:`~fewshotnas.search.paths`).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from fewshotnas.search.common import masked_logits
from fewshotnas.search.engine import leaf_losses
from fewshotnas.search.paths import SinglePathSearcher, ops_union, path_weights, sample_ops
from fewshotnas.space import NUM_EDGES, NUM_OPS, OpMask
from fewshotnas.train.device import autocast

log = logging.getLogger("fewshotnas")


class Dsnas(SinglePathSearcher):
    """DSNAS on K leaves (module docstring)."""

    name = "dsnas"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.threshold = self.cfg.fix_threshold
        self.fixed = torch.zeros(self.leaves, NUM_EDGES, dtype=torch.bool, device=self.device)
        self.fixed_op = torch.zeros(self.leaves, NUM_EDGES, dtype=torch.long, device=self.device)

    def allowed(self) -> torch.Tensor:
        """(K, 6, 5) bool: each leaf's ops, narrowed to the fixed op on its fixed edges."""
        fixed_rows = F.one_hot(self.fixed_op, NUM_OPS).bool()
        return torch.where(self.fixed[..., None], fixed_rows, self.mask_tensor)

    def probabilities(self) -> torch.Tensor:
        return torch.softmax(masked_logits(self.alphas, self.allowed()), dim=-1)

    def derive_masks(self) -> list[OpMask]:
        return [OpMask.from_array(a) for a in self.allowed().cpu()]

    def step(self, x_w, y_w, x_a, y_a):
        allowed = self.allowed()
        probs = torch.softmax(masked_logits(self.alphas.detach(), allowed), dim=-1)
        ops = sample_ops(self.alphas.detach(), allowed, self.noise.next())
        run = ops_union(ops)
        onehot = F.one_hot(ops, NUM_OPS).to(self.alphas.dtype)
        weights = path_weights(ops, self.alphas.dtype)
        self.guard.begin()
        z = onehot.clone().requires_grad_(True)
        with autocast(self.device):
            loss = leaf_losses(self.net(x_a, z * (weights > 0), run), y_a).sum()
        (dz,) = torch.autograd.grad(loss, [z], allow_unused=True)
        if dz is None:  # no sampled path reaches the output (e.g. `none` everywhere on it)
            dz = torch.zeros_like(z)
        credit = dz.gather(-1, ops[..., None])  # ∂L/∂z_s per edge; 0 for `none` and off-path edges
        self.alphas.grad = credit * (onehot - probs)
        self.a_opt.step()
        self.guard.forward_done(ops)
        losses, logits = self.weight_step(x_w, y_w, weights, run)
        self.guard.forward_done(ops)
        self.guard.update_done(ops)
        return losses, logits

    def end_epoch(self) -> float:
        with torch.no_grad():  # early stopping, once per epoch
            top = self.probabilities().topk(2, dim=-1).values
            newly = (top[..., 0] - top[..., 1] >= self.threshold) & ~self.fixed
            self.fixed_op.copy_(torch.where(newly, self.best_ops(), self.fixed_op))
            self.fixed |= newly
        log.info("DSNAS: edges fixed per leaf: %s", " ".join(str(n) for n in self.fixed.sum(1).tolist()))
        return super().end_epoch()

    def state_dict(self) -> dict:
        return {**super().state_dict(), "fixed": self.fixed.clone(), "fixed_op": self.fixed_op.clone()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.fixed.copy_(state["fixed"])
        self.fixed_op.copy_(state["fixed_op"])

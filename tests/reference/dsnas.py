"""DSNAS (Hu et al. 2020) as App. A.5 of the metric-splitting paper runs it: one op per edge
sampled each step (a discrete one-hot path, the only ops computed), the DSNAS gradient
estimator for the alphas, and progressive early stopping (threshold ``fix_threshold``, 0.8).

Estimator: with p = softmax(α) over the allowed ops and s the sampled op of an edge,
∂L/∂α = (∂L/∂z_s) · ∇_α log p_s = (∂L/∂z_s) · (onehot(s) − p), where z is the one-hot
sample multiplying the ops' outputs (its value is 1, so the forward is the path's).

Early stopping: at the end of every epoch (as DSNAS checks it: once per epoch, on the softmax
gap of the top two ops), an edge whose top-two probability gap p₁ − p₂ reaches the threshold is
fixed to its best op; sampling, derivation and evaluation then use that op only, and the run
continues on the remaining edges. The check is tensor arithmetic; the count of fixed edges is
logged with it.

Sampling: op = argmax over the allowed ops of (α + g), g ~ Gumbel (the Gumbel-max trick: a
draw from softmax(α)), with the noise from the leaf's own generator as in SNAS, so a fused run
(:mod:`fewshotnas.search.fused`) samples each leaf's paths exactly as its separate run does.

A sampled path decides which kernels run, so the six sampled indices are read back to the
host once per step (one small sync; unavoidable for single-path training).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from fewshotnas.space import NUM_OPS, OpMask
from fewshotnas.space.supernet import Network
from fewshotnas.train.device import autocast
from reference.common import SearchConfig, cross_entropy, masked_logits
from reference.darts import Darts1st
from reference.snas import NoiseStream

log = logging.getLogger("fewshotnas")


class Dsnas(Darts1st):
    """DSNAS on the sub-space ``mask`` (see the module docstring)."""

    def __init__(self, net: Network, mask: OpMask, cfg: SearchConfig, device: torch.device) -> None:
        super().__init__(net, mask, cfg, device)
        self.threshold = cfg.fix_threshold
        self.fixed = torch.zeros(mask.to_tensor().shape[0], dtype=torch.bool, device=device)
        self.fixed_op = torch.zeros_like(self.fixed, dtype=torch.long)
        self.noise = NoiseStream(device)

    def allowed(self) -> torch.Tensor:
        """(6, 5) bool: the leaf's ops, narrowed to the fixed op on fixed edges."""
        fixed_rows = F.one_hot(self.fixed_op, NUM_OPS).bool()
        return torch.where(self.fixed[:, None], fixed_rows, self.mask_tensor)

    def probabilities(self) -> torch.Tensor:
        return torch.softmax(masked_logits(self.alphas, self.allowed()), dim=-1)

    def best_ops(self) -> torch.Tensor:
        """(6,) argmax op per edge among the allowed ones."""
        return masked_logits(self.alphas.detach(), self.allowed()).argmax(dim=-1)

    def arch_weights(self) -> torch.Tensor:
        return F.one_hot(self.best_ops(), NUM_OPS).float()

    def derive_mask(self) -> OpMask:
        return OpMask(tuple(tuple(bool(b) for b in row) for row in self.allowed().cpu().tolist()))

    def eval_mask(self) -> OpMask:
        return OpMask.from_genotype(tuple(self.best_ops().cpu().tolist()))

    def sample(self) -> tuple[torch.Tensor, OpMask]:
        """(6,) op indices drawn from softmax(α) over the allowed ops (Gumbel-max with the leaf's
        noise) and the single-path run mask."""
        ops = sample_ops(self.alphas.detach(), self.allowed(), self.noise.next())
        return ops, OpMask.from_genotype(tuple(ops.cpu().tolist()))

    samples_architectures = True

    def validation_sample(self, noise: torch.Tensor) -> tuple[torch.Tensor, OpMask]:
        """One path drawn with the given noise (Gumbel-max over the allowed ops): one-hot weights
        and the path as run mask."""
        ops = sample_ops(self.alphas.detach(), self.allowed(), noise)
        return F.one_hot(ops, NUM_OPS).float(), OpMask.from_genotype(tuple(ops.cpu().tolist()))

    def begin_epoch(self, epoch: int, epochs: int) -> None:
        self.noise.restart()

    def step(self, x_w, y_w, x_a, y_a):
        probs = self.probabilities().detach()
        ops, path = self.sample()
        onehot = F.one_hot(ops, NUM_OPS).float()
        z = onehot.clone().requires_grad_(True)
        with autocast(self.device):
            loss = cross_entropy(self.net(x_a, z, path), y_a)
        (dz,) = torch.autograd.grad(loss, [z], allow_unused=True)
        if dz is None:  # the sampled path never reaches the output (e.g. `none` everywhere on it)
            dz = torch.zeros_like(z)
        credit = dz.gather(1, ops[:, None])  # ∂L/∂z_s per edge, (6, 1); 0 for `none`, whose output is 0
        self.alphas.grad = credit * (onehot - probs)
        self.a_opt.step()
        return self.weight_step(x_w, y_w, weights=onehot, run_mask=path)

    def fix_edges(self) -> None:
        """Fix every free edge whose top-two probability gap reaches the threshold to its best
        op (in place, on the device; an edge with one allowed op has gap 1)."""
        with torch.no_grad():
            fixed_edges_update(self.probabilities(), self.best_ops(), self.fixed, self.fixed_op, self.threshold)

    def end_epoch(self) -> float:
        self.fix_edges()
        log.info("DSNAS: %d of %d edges fixed", int(self.fixed.sum()), len(self.fixed))
        return super().end_epoch()

    def state_dict(self) -> dict:
        return {**super().state_dict(), "fixed": self.fixed.clone(), "fixed_op": self.fixed_op.clone(),
                "noise": self.noise.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.fixed.copy_(state["fixed"])
        self.fixed_op.copy_(state["fixed_op"])
        self.noise.load_state_dict(state["noise"])


def sample_ops(alphas: torch.Tensor, allowed: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """(…, 6) op per edge: argmax of the allowed alphas plus Gumbel ``noise`` (a draw from the
    softmax over the allowed ops); ``alphas``, ``allowed`` (bool) and ``noise`` are (…, 6, 5)."""
    return (masked_logits(alphas, allowed) + noise).argmax(dim=-1)


def fixed_edges_update(probs: torch.Tensor, best: torch.Tensor, fixed: torch.Tensor, fixed_op: torch.Tensor,
                       threshold: float) -> None:
    """Fix, in place, every free edge whose top-two probability gap reaches ``threshold`` to its
    best op. ``probs`` (…, 6, 5); ``best``, ``fixed`` (bool), ``fixed_op`` (…, 6)."""
    top = probs.topk(2, dim=-1).values
    newly = (top[..., 0] - top[..., 1] >= threshold) & ~fixed
    fixed_op.copy_(torch.where(newly, best, fixed_op))
    fixed |= newly

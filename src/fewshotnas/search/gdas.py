"""GDAS (Dong & Yang, *Searching for a robust neural architecture in four GPU hours*, CVPR
2019), with NAS-Bench-201's search settings: each forward pass draws one op per edge by the
Gumbel-max trick, op = argmax(α + g) over the leaf's ops, and only that op is computed. Its
weight is the straight-through one-hot h = onehot + p − sg(p), p = softmax((α + g)/τ): the
forward is the path's, and the alphas get the gradient of the sampled op's softmax weight.
The temperature τ falls linearly from 10 to 0.1 over the search (``gdas_temperature``).
The alphas learn on the architecture batch, the weights on the weight batch (a fresh path
each); DARTS's optimisers. Evaluation: the argmax path (``expected``) or one drawn path per
batch (``sampled``); derivation: the argmax of the alphas.

NAS-Bench-201's implementation adds the non-sampled ops' weights to the edge's output as
scalars, which gives their alphas a gradient from no op output; here only the sampled op's
weight carries gradient (docs/reproduction.md).
"""

from __future__ import annotations

import torch

from fewshotnas.search.common import masked_logits
from fewshotnas.search.engine import leaf_losses
from fewshotnas.search.noise import linear_schedule
from fewshotnas.search.paths import SinglePathSearcher, ops_union, path_weights, sample_ops
from fewshotnas.train.device import autocast


class Gdas(SinglePathSearcher):
    """GDAS on K leaves (module docstring)."""

    name = "gdas"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tau_start, self.tau_end = self.cfg.gdas_temperature
        self.tau = torch.tensor(self.tau_start, device=self.device)

    def begin_epoch(self, epoch: int, epochs: int) -> None:
        super().begin_epoch(epoch, epochs)
        self.tau.fill_(linear_schedule(epoch, epochs, self.tau_start, self.tau_end))

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One Gumbel draw per leaf: (K, 6) sampled ops and (K, 6, 5) straight-through weights
        (value: the path's one-hot weights; gradient: the sampled op's softmax weight)."""
        logits = masked_logits(self.alphas, self.mask_tensor)
        g = self.noise.next()
        ops = sample_ops(self.alphas.detach(), self.mask_tensor, g)
        probs = torch.softmax((logits + g) / self.tau, dim=-1)
        hard = path_weights(ops, self.alphas.dtype)
        return ops, hard * (1.0 + (probs - probs.detach()))  # (p − sg(p)) is exactly 0 in value

    def step(self, x_w, y_w, x_a, y_a):
        self.guard.begin()
        ops, weights = self.sample()
        with autocast(self.device):
            loss = leaf_losses(self.net(x_a, weights, ops_union(ops)), y_a).sum()
        self.alphas.grad = torch.autograd.grad(loss, [self.alphas], allow_unused=True)[0]
        if self.alphas.grad is None:  # no sampled path reaches the output
            self.alphas.grad = torch.zeros_like(self.alphas)
        self.a_opt.step()
        self.guard.forward_done(ops)
        ops, weights = self.sample()
        losses, logits = self.weight_step(x_w, y_w, weights.detach(), ops_union(ops))
        self.guard.forward_done(ops)
        self.guard.update_done(ops)
        return losses, logits

    def state_dict(self) -> dict:
        return {**super().state_dict(), "tau": self.tau.detach().clone()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.tau.copy_(state["tau"])

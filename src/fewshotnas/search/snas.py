"""SNAS (Xie et al. 2019) as App. A.4 of the metric-splitting paper runs it: Gumbel-softmax
relaxed samples of the leaf's allowed ops, temperature annealed 1.0 → 0.1 on a cosine
schedule over the epochs, and DARTS's optimisers on the two halves of the training set."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fewshotnas.search.common import SearchConfig, masked_logits
from fewshotnas.search.darts import Darts1st
from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network


def cosine_temperature(epoch: int, epochs: int, start: float = 1.0, end: float = 0.1) -> float:
    """Temperature of epoch ``epoch`` (0-based): ``start`` at the first epoch, ``end`` at the
    last, cosine in between (``start`` throughout a single-epoch run)."""
    if epochs <= 1:
        return start
    t = epoch / (epochs - 1)
    return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * t))


class Snas(Darts1st):
    """Each step draws a relaxed one-hot sample per edge, z = softmax((α + g)/τ), g ~ Gumbel
    (torch's global RNG, which resume files restore): the alphas learn through a sample on the
    validation batch, the weights through another on the training batch. Evaluation uses
    softmax(α) over the leaf's ops."""

    def __init__(self, net: Network, mask: OpMask, cfg: SearchConfig, device: torch.device) -> None:
        super().__init__(net, mask, cfg, device)
        self.tau_start, self.tau_end = cfg.temperature
        self.tau = torch.tensor(self.tau_start, device=device)

    def begin_epoch(self, epoch: int, epochs: int) -> None:
        self.tau.fill_(cosine_temperature(epoch, epochs, self.tau_start, self.tau_end))

    def sample(self) -> torch.Tensor:
        """(6, 5) relaxed sample, 0 outside the mask; differentiable w.r.t. the alphas."""
        return F.gumbel_softmax(masked_logits(self.alphas, self.mask_tensor), tau=self.tau, dim=-1)

    def relaxed_weights(self) -> torch.Tensor:
        """A fresh sample each call: one for the arch step, another for the weight step."""
        return self.sample()

    def state_dict(self) -> dict:
        return {**super().state_dict(), "tau": self.tau.detach().clone()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.tau.copy_(state["tau"])

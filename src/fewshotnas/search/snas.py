"""SNAS (Xie, Zheng, Liu & Lin, *SNAS: Stochastic neural architecture search*, ICLR 2019) as
App. A.4 of the metric-splitting paper runs it: each forward pass draws a relaxed one-hot
sample per edge, z = softmax((α + g)/τ), g ~ Gumbel, over the leaf's ops (the alphas learn
through one sample on the architecture batch, the weights through another on the weight
batch); the temperature is annealed 1.0 → 0.1 on a cosine schedule over the epochs; DARTS's
optimisers. Evaluation uses softmax(α) (``expected``) or a relaxed sample per batch
(``sampled``). The noise is each leaf's own (:mod:`fewshotnas.search.noise`)."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from fewshotnas.search.common import masked_logits
from fewshotnas.search.darts import Darts1st
from fewshotnas.search.noise import cosine_schedule
from fewshotnas.space import NUM_EDGES, NUM_OPS


def relaxed_sample(logits: torch.Tensor, noise: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """softmax((logits + noise) / τ) over the last dimension (``F.gumbel_softmax``'s soft sample
    with given noise); −∞ logits get probability 0."""
    return torch.softmax((logits + noise) / tau, dim=-1)


class Snas(Darts1st):
    """SNAS on K leaves (module docstring)."""

    name = "snas"
    uses_noise = True
    samples_architectures = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tau_start, self.tau_end = self.cfg.temperature
        self.tau = torch.tensor(self.tau_start, device=self.device)

    def begin_epoch(self, epoch: int, epochs: int) -> None:
        super().begin_epoch(epoch, epochs)
        self.tau.fill_(cosine_schedule(epoch, epochs, self.tau_start, self.tau_end))

    def training_weights(self) -> torch.Tensor:
        """A fresh relaxed sample at each call: one for the arch step, another for the weight step."""
        return relaxed_sample(masked_logits(self.alphas, self.mask_tensor), self.noise.next(), self.tau)

    def validation_forward(self, noise: Iterator[torch.Tensor]):
        def forward(x: torch.Tensor) -> torch.Tensor:
            g = next(noise).to(self.device).expand(self.leaves, NUM_EDGES, NUM_OPS)
            return self.net(x, relaxed_sample(masked_logits(self.alphas.detach(), self.mask_tensor), g, self.tau))

        return forward

    def state_dict(self) -> dict:
        return {**super().state_dict(), "tau": self.tau.detach().clone()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.tau.copy_(state["tau"])

"""SNAS (Xie et al. 2019) as App. A.4 of the metric-splitting paper runs it: Gumbel-softmax
relaxed samples of the leaf's allowed ops, temperature annealed 1.0 → 0.1 on a cosine
schedule over the epochs, and DARTS's optimisers on the two halves of the training set."""

from __future__ import annotations

import math

import torch

from fewshotnas.space import NUM_EDGES, NUM_OPS, OpMask
from fewshotnas.space.supernet import Network
from reference.common import SearchConfig, masked_logits
from reference.darts import Darts1st


def cosine_temperature(epoch: int, epochs: int, start: float = 1.0, end: float = 0.1) -> float:
    """Temperature of epoch ``epoch`` (0-based): ``start`` at the first epoch, ``end`` at the
    last, cosine in between (``start`` throughout a single-epoch run)."""
    if epochs <= 1:
        return start
    t = epoch / (epochs - 1)
    return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * t))


NOISE_CHUNK = 256
"""Gumbel draws per refill of the noise buffer (two are used per step)."""


def gumbel_noise(generator: torch.Generator, draws: int) -> torch.Tensor:
    """(draws, 6, 5) standard Gumbel noise −log(E), E ~ Exp(1), from a CPU ``generator``
    (the same numbers on every device)."""
    return -torch.empty(draws, NUM_EDGES, NUM_OPS).exponential_(generator=generator).log()


class NoiseStream:
    """A leaf's Gumbel noise: (6, 5) draws from its own CPU generator, seeded at construction from
    torch's global RNG (so by the search seed and the leaf's initialisation), fetched to the
    device NOISE_CHUNK draws at a time. Each epoch starts on fresh draws (:meth:`restart`), so
    an epoch-boundary resume continues the same stream. Built with K generators
    (:meth:`joined`, the fused run of K leaves) it draws (K, 6, 5) per call."""

    def __init__(self, device: torch.device, generators: list[torch.Generator] | None = None) -> None:
        self.device = device
        self.generators = generators or [torch.Generator().manual_seed(int(torch.randint(0, 2**62, ())))]
        self.buffer = torch.empty(0, device=device)
        self.used = 0

    @classmethod
    def joined(cls, streams: list[NoiseStream], device: torch.device) -> NoiseStream:
        """One stream drawing (K, 6, 5) noise: each of ``streams``' generator, from its current state."""
        gens = []
        for stream in streams:
            gen = torch.Generator()
            gen.set_state(stream.generators[0].get_state())
            gens.append(gen)
        return cls(device, gens)

    def restart(self) -> None:
        """Drop unused draws (called at every epoch start)."""
        self.buffer, self.used = self.buffer[:0], 0

    def next(self) -> torch.Tensor:
        """The next draw: (6, 5), or (K, 6, 5) for K generators."""
        if self.used == len(self.buffer):
            chunks = [gumbel_noise(g, NOISE_CHUNK) for g in self.generators]
            noise = chunks[0] if len(chunks) == 1 else torch.stack(chunks, dim=1)
            if self.device.type == "cuda":  # pinned + non-blocking: the copy does not wait for the GPU
                noise = noise.pin_memory()
            self.buffer = noise.to(self.device, non_blocking=True)
            self.used = 0
        self.used += 1
        return self.buffer[self.used - 1]

    def state_dict(self) -> dict:
        return {"generators": [g.get_state() for g in self.generators]}

    def load_state_dict(self, state: dict) -> None:
        for g, s in zip(self.generators, state["generators"]):
            g.set_state(s)


def relaxed_sample(logits: torch.Tensor, noise: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """softmax((logits + noise) / τ) over the last dimension (``F.gumbel_softmax``'s soft sample
    with given noise); −∞ logits get probability 0."""
    return torch.softmax((logits + noise) / tau, dim=-1)


class Snas(Darts1st):
    """Each step draws a relaxed one-hot sample per edge, z = softmax((α + g)/τ), g ~ Gumbel:
    the alphas learn through a sample on the validation batch, the weights through another on
    the training batch. Evaluation uses softmax(α) over the leaf's ops.

    The noise comes from the leaf's own generator, seeded at construction from torch's global
    RNG (which the search seed and the leaf's initialisation set), and is drawn in chunks on the
    CPU: a fused run (:mod:`fewshotnas.search.fused`) gives each leaf the same noise as its
    separate run, and a step never waits on a random-number call."""

    def __init__(self, net: Network, mask: OpMask, cfg: SearchConfig, device: torch.device) -> None:
        super().__init__(net, mask, cfg, device)
        self.tau_start, self.tau_end = cfg.temperature
        self.tau = torch.tensor(self.tau_start, device=device)
        self.noise = NoiseStream(device)

    def begin_epoch(self, epoch: int, epochs: int) -> None:
        self.tau.fill_(cosine_temperature(epoch, epochs, self.tau_start, self.tau_end))
        self.noise.restart()  # an epoch starts on fresh draws, so resumes match

    def sample(self) -> torch.Tensor:
        """(6, 5) relaxed sample, 0 outside the mask; differentiable w.r.t. the alphas."""
        return relaxed_sample(masked_logits(self.alphas, self.mask_tensor), self.noise.next(), self.tau)

    samples_architectures = True

    def relaxed_weights(self) -> torch.Tensor:
        """A fresh sample each call: one for the arch step, another for the weight step."""
        return self.sample()

    def validation_sample(self, noise: torch.Tensor) -> tuple[torch.Tensor, None]:
        """A relaxed sample at the current temperature with the given noise, over the leaf's ops."""
        return relaxed_sample(masked_logits(self.alphas.detach(), self.mask_tensor), noise, self.tau), None

    def state_dict(self) -> dict:
        return {**super().state_dict(), "tau": self.tau.detach().clone(), "noise": self.noise.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.tau.copy_(state["tau"])
        self.noise.load_state_dict(state["noise"])

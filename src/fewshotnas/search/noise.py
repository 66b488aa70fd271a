"""Random draws of the sampling algorithms: Gumbel noise from each leaf's own CPU generator.

Every leaf draws from a generator seeded at construction from torch's global RNG (so by the
search seed and the leaf's initialisation): K leaves searched together draw exactly what each
draws alone. Draws are made on the CPU (the same numbers on every device) in chunks and
copied to the device without waiting for it, so a step never waits on a random-number call.
"""

from __future__ import annotations

import math

import torch

from fewshotnas.space import NUM_EDGES, NUM_OPS

NOISE_CHUNK = 256
"""Gumbel draws per refill of the noise buffer."""


def gumbel_noise(generator: torch.Generator, draws: int) -> torch.Tensor:
    """(draws, 6, 5) standard Gumbel noise −log(E), E ~ Exp(1), from a CPU ``generator``."""
    return -torch.empty(draws, NUM_EDGES, NUM_OPS).exponential_(generator=generator).log()


def cosine_schedule(epoch: int, epochs: int, start: float, end: float) -> float:
    """Value at epoch ``epoch`` (0-based): ``start`` at the first epoch, ``end`` at the last,
    cosine in between (``start`` throughout a single-epoch run)."""
    if epochs <= 1:
        return start
    t = epoch / (epochs - 1)
    return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * t))


def linear_schedule(epoch: int, epochs: int, start: float, end: float) -> float:
    """Value at epoch ``epoch`` (0-based): ``start`` at the first epoch, ``end`` at the last,
    linear in between (``start`` throughout a single-epoch run)."""
    if epochs <= 1:
        return start
    return start + (end - start) * epoch / (epochs - 1)


class NoiseStream:
    """K leaves' Gumbel noise: each call of :meth:`next` gives a (K, 6, 5) draw, row k from
    leaf k's generator. Each epoch starts on fresh draws (:meth:`restart`), so a resume at an
    epoch boundary continues the same stream."""

    def __init__(self, device: torch.device, seeds: list[int]) -> None:
        self.device = device
        self.generators = [torch.Generator().manual_seed(s) for s in seeds]
        self.buffer = torch.empty(0, device=device)
        self.used = 0

    def restart(self) -> None:
        """Drop unused draws (called at every epoch start)."""
        self.buffer, self.used = self.buffer[:0], 0

    def next(self) -> torch.Tensor:
        """The next (K, 6, 5) draw."""
        if self.used == len(self.buffer):
            noise = torch.stack([gumbel_noise(g, NOISE_CHUNK) for g in self.generators], dim=1)
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


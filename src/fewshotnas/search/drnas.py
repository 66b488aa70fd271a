"""DrNAS (Chen et al., *DrNAS: Dirichlet neural architecture search*, ICLR 2021) in its
NAS-Bench-201 setting: each edge's mixing weights are a sample of a Dirichlet distribution
over the leaf's ops with concentration β = ELU(α) + 1, drawn fresh for every forward pass and
differentiated pathwise (reparameterised Gamma draws, normalised); the regulariser is DrNAS's
default l2 one, the Adam weight decay on α (``arch_weight_decay``); first-order alternation of
an architecture step and a weight step with DARTS's optimisers. Evaluation and the stage-1
distribution use the Dirichlet mean β / Σβ; the derived op is the argmax of β (= of α).

DrNAS's progressive learning (partial channels, search-space pruning) is for the larger
DARTS space and is not part of its NAS-Bench-201 runs; it is not implemented.

The draws come from one generator per leaf on the search's device, seeded at construction
from torch's global RNG, so K leaves together draw what each draws alone (on the same device).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fewshotnas.search.darts import Darts1st


def concentration(alphas: torch.Tensor) -> torch.Tensor:
    """DrNAS's Dirichlet concentration β = ELU(α) + 1 (> 0)."""
    return F.elu(alphas) + 1.0

def dirichlet_sample(beta: torch.Tensor, allowed: torch.Tensor, generators: list[torch.Generator]) -> torch.Tensor:
    """(K, 6, 5) Dirichlet(β) draws over each edge's ``allowed`` ops (0 elsewhere), pathwise
    differentiable w.r.t. ``beta`` (K, 6, 5): Gamma(β_o, 1) draws normalised per edge, leaf k's
    from ``generators[k]``."""
    beta = torch.where(allowed, beta, torch.ones_like(beta))
    gammas = torch.stack([torch._standard_gamma(beta[k], generator=g) for k, g in enumerate(generators)])
    gammas = gammas * allowed
    return gammas / gammas.sum(-1, keepdim=True).clamp_min(torch.finfo(gammas.dtype).tiny)

class Drnas(Darts1st):
    """DrNAS on K leaves (module docstring)."""

    name = "drnas"

    @classmethod
    def init_leaf(cls, device: torch.device) -> dict:
        init = super().init_leaf(device)
        init["dirichlet_seed"] = int(torch.randint(0, 2**62, ()))
        return init

    def __init__(self, nets, masks, cfg, device, inits) -> None:
        super().__init__(nets, masks, cfg, device, inits)
        self.generators = [torch.Generator(device=device).manual_seed(i["dirichlet_seed"]) for i in inits]

    def dirichlet_mean(self) -> torch.Tensor:
        """(K, 6, 5) β / Σβ over each leaf's ops (0 elsewhere)."""
        beta = concentration(self.alphas) * self.mask_tensor
        return beta / beta.sum(-1, keepdim=True)

    def probabilities(self) -> torch.Tensor:
        return self.dirichlet_mean()

    def training_weights(self) -> torch.Tensor:
        """A fresh Dirichlet draw at each call (differentiable w.r.t. the alphas)."""
        return dirichlet_sample(concentration(self.alphas), self.mask_tensor, self.generators)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "dirichlet": [g.get_state() for g in self.generators]}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        for g, s in zip(self.generators, state["dirichlet"]):
            g.set_state(s)

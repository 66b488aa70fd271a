"""DARTS- (Chu et al., *DARTS-: Robustly stepping out of performance collapse without
indicators*, ICLR 2021): first-order DARTS with an auxiliary skip connection on every edge,
added outside the softmax with coefficient β, which decays linearly from 1 at the first epoch
to 0 at the last (``aux_skip``). The auxiliary skip is not a candidate op: it is added whether
or not the leaf allows ``skip_connect``, it never enters the alphas or the derived genotype,
and with it every node is reached from the cell input. It runs in training, in the per-epoch
validation and in the final supernet (where β is the last epoch's, 0 for searches of two or
more epochs).

In NAS-Bench-201 cells ``skip_connect`` is the identity, so the auxiliary branch is β on the
identity's op weight: the edge computes Σ_o softmax(α)_o·op_o(x) + β·x with no extra kernel.
"""

from __future__ import annotations

import torch

from fewshotnas.search.darts import Darts1st
from fewshotnas.search.noise import linear_schedule
from fewshotnas.space import NUM_EDGES, NUM_OPS, OPS, OpMask
from fewshotnas.space.fused import union_mask

SKIP = OPS.index("skip_connect")


class DartsMinus(Darts1st):
    """DARTS- on K leaves (module docstring)."""

    name = "darts_minus"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.beta_start, self.beta_end = self.cfg.aux_skip
        self.beta = torch.tensor(self.beta_start, device=self.device)
        skip = OpMask(tuple(tuple(o == SKIP for o in range(NUM_OPS)) for _ in range(NUM_EDGES)))
        self.run = union_mask([self.net.union, skip])
        self.aux = torch.zeros(NUM_EDGES, NUM_OPS, device=self.device)
        self.aux[:, SKIP] = 1.0
        self.everywhere = torch.ones(self.leaves, NUM_EDGES, 1, device=self.device)

    def begin_epoch(self, epoch: int, epochs: int) -> None:
        super().begin_epoch(epoch, epochs)
        self.beta.fill_(linear_schedule(epoch, epochs, self.beta_start, self.beta_end))

    def forward(self, x: torch.Tensor, weights: torch.Tensor, run: OpMask | None = None) -> torch.Tensor:
        """The leaves' forward with the auxiliary skip β·x on every edge (every edge reached)."""
        return self.net(x, weights + self.beta * self.aux.to(weights.dtype), run or self.run, reach=self.everywhere)

    def eval_forward(self):
        weights = self.arch_weights()
        return lambda x: self.forward(x, weights)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "beta": self.beta.detach().clone()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.beta.copy_(state["beta"])

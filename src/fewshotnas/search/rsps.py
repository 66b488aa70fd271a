"""RSPS, random search with parameter sharing (Li & Talwalkar, *Random search and
reproducibility for neural architecture search*, UAI 2019), as GM-NAS and *Picking up the
pieces* run it on NAS-Bench-201: each step trains one architecture drawn uniformly from the
leaf (one op per edge, uniform over the leaf's ops; only those ops run) on the weight batch.
There are no architecture weights; the architecture batch is not used for training.

The search's result after an epoch is the best of ``rsps_samples`` (100) architectures drawn
uniformly from the leaf by one-shot validation accuracy: each is scored on one batch of the
architecture half (``batch_size`` images, in order, batch after batch) with the shared weights and
BatchNorm on that batch's statistics, as NAS-Bench-201's RSPS scores its candidates. The
draws depend on the search seed and the epoch only, so K leaves together pick as each alone.
The per-epoch validation always runs sampled architectures (one uniform draw per batch):
with no distribution to take an expectation over, ``validation: expected`` is the same.

:meth:`Rsps.use_architectures` replaces the uniform draw of each training step by a draw from
a given distribution over whole architectures: the idealised sampler of *Picking up the
pieces* §4.2 (the Stage-2 baselines, :mod:`fewshotnas.analysis.stage2`).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from fewshotnas.search.common import SearchStreams, batch_statistics, validation_noise
from fewshotnas.search.engine import Searcher
from fewshotnas.search.paths import PathGuard, ops_union, path_weights, sample_ops
from fewshotnas.space import NUM_EDGES, NUM_OPS
from fewshotnas.train.device import autocast


class Rsps(Searcher):
    """RSPS on K leaves (module docstring)."""

    name = "rsps"
    has_alphas = False
    uses_noise = True
    samples_architectures = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.guard = PathGuard(self)
        self.zeros = torch.zeros(self.leaves, NUM_EDGES, NUM_OPS, device=self.device)
        self.arch_ops: torch.Tensor | None = None
        self.arch_cdf: torch.Tensor | None = None

    def use_architectures(self, ops: torch.Tensor, probs: torch.Tensor) -> None:
        """Train on architectures drawn from ``probs`` (M,) over ``ops`` (M, 6) instead of
        uniformly: each step maps the leaf's Gumbel draw of edge 0, op 0 to a uniform number
        and inverts the cumulative distribution (no host sync). Every architecture with a
        positive probability must lie in every leaf's mask."""
        ops = torch.as_tensor(ops, dtype=torch.int64)
        probs = torch.as_tensor(probs, dtype=torch.float64)
        if ops.shape != (len(probs), NUM_EDGES) or bool((probs < 0).any()) or float(probs.sum()) <= 0:
            raise ValueError("use_architectures needs (M, 6) ops and M non-negative probabilities with a positive sum")
        support = ops[probs > 0]
        for k in range(self.leaves):
            allowed = self.mask_tensor[k].cpu()
            if not bool(allowed[torch.arange(NUM_EDGES), support].all()):
                raise ValueError(f"leaf {k}: the architecture distribution puts mass outside the leaf's mask")
        self.arch_ops = ops.to(self.device)
        cdf = torch.cumsum(probs / probs.sum(), 0)
        self.arch_cdf = cdf.to(self.device, torch.float64 if self.device.type != "mps" else torch.float32)
        marginals = torch.zeros(NUM_EDGES, NUM_OPS, dtype=torch.float64)
        for e in range(NUM_EDGES):
            marginals[e].index_add_(0, ops[:, e], probs / probs.sum())
        self.marginals = marginals.float().to(self.device).expand(self.leaves, NUM_EDGES, NUM_OPS)

    def training_ops(self, noise: torch.Tensor) -> torch.Tensor:
        """(K, 6) the step's architecture per leaf from its (K, 6, 5) Gumbel ``noise``."""
        if self.arch_cdf is None:
            return self.uniform_ops(noise)
        u = torch.exp(-torch.exp(-noise[:, 0, 0])).to(self.arch_cdf.dtype)  # Gumbel CDF: uniform on (0, 1)
        index = torch.searchsorted(self.arch_cdf, u).clamp_(max=len(self.arch_cdf) - 1)
        return self.arch_ops[index]

    def uniform_ops(self, noise: torch.Tensor) -> torch.Tensor:
        """(K, 6) one op per edge, uniform over each leaf's ops (Gumbel-max on equal logits)."""
        return sample_ops(self.zeros, self.mask_tensor, noise)

    def distribution(self) -> torch.Tensor:
        """Uniform over each leaf's ops: RSPS learns no distribution (with
        :meth:`use_architectures`: that distribution's per-edge marginals)."""
        if self.arch_cdf is not None:
            return self.marginals.clone()
        allowed = self.mask_tensor.float()
        return allowed / allowed.sum(-1, keepdim=True)

    def arch_weights(self) -> torch.Tensor:
        return self.distribution()

    def validation_forward(self, noise: Iterator[torch.Tensor]):
        def forward(x: torch.Tensor) -> torch.Tensor:
            ops = self.uniform_ops(next(noise).to(self.device).expand(self.leaves, NUM_EDGES, NUM_OPS))
            return self.net(x, path_weights(ops), ops_union(ops))

        return forward

    @torch.no_grad()
    def derive(self, streams: SearchStreams, seed: int, epoch: int) -> list[tuple[int, ...]]:
        """Per leaf, the best of ``rsps_samples`` uniform draws by accuracy on one validation batch each."""
        draws = validation_noise(seed, epoch, stream=1)
        batches = iter(())
        candidates, correct = [], []
        was_training = self.net.training
        with batch_statistics(self.net):
            for _ in range(self.cfg.rsps_samples):
                try:
                    x, y = next(batches)
                except StopIteration:
                    batches = iter(streams.probe)
                    x, y = next(batches)
                ops = self.uniform_ops(next(draws).to(self.device).expand(self.leaves, NUM_EDGES, NUM_OPS))
                with autocast(self.device):
                    logits = self.net(x, path_weights(ops), ops_union(ops))
                candidates.append(ops)
                correct.append((logits.argmax(-1) == y).float().mean(1))
        self.net.train(was_training)
        best = torch.stack(correct).argmax(0)  # (K,): the first of the most accurate draws
        chosen = torch.stack(candidates)[best, torch.arange(self.leaves, device=self.device)]
        return [tuple(int(o) for o in row) for row in chosen.cpu().tolist()]

    def step(self, x_w, y_w, x_a, y_a):
        self.guard.begin()
        ops = self.training_ops(self.noise.next())
        losses, logits = self.weight_step(x_w, y_w, path_weights(ops), ops_union(ops))
        self.guard.forward_done(ops)
        self.guard.update_done(ops)
        return losses, logits

"""Number of linear regions (#lr), counted as TE-NAS counts them (Chen et al. 2021; App. B.7 of
the metric-splitting paper).

TE-NAS counts on a *thin* network, not on the supernet: for NAS-Bench-201 one
cell at C = 1 channel with no stem and no reduction, followed by BatchNorm-ReLU
(its ``C=1, N=1, depth=1, use_stem=False`` setting), fed single-channel 3×3
crops of training images, 3 batches of 1,000, in train mode (BatchNorm uses
each batch's statistics). A sample's region is the sign pattern of every ReLU
output; the count is the number of distinct patterns. Weights are freshly
initialised (PyTorch's defaults) from a seed shared by every candidate of a
split, so candidates differ only in their ops; TE-NAS repeats this over 3
initialisations and we report the mean count.

Departures, measured or forced: the crops are drawn (image, channel and
position uniformly at random, seeded) from the metric batches instead of one
crop from each of 3,000 fresh images; with the default 128 images at 16 px
there are 128 × 196 possible crops. The supernet's weights are not used (the
count is a property of the architecture at initialisation), so ``split.weights``
does not change #lr; the split seed does.
"""

from __future__ import annotations

import torch
from torch import nn

from fewshotnas.metrics.registry import MetricContext, register_metric
from fewshotnas.space import NUM_EDGES, OpMask
from fewshotnas.space.supernet import Cell, Network, uniform_weights

LR_BATCH = 1000
"""Samples per forward pass of the thin network (TE-NAS: 1,000)."""

DEFAULTS = {"samples": 3000, "crop": 3, "repeat": 3}
"""TE-NAS's protocol: 3 × 1,000 samples of 3×3 crops, 3 initialisations."""


class ThinCellNet(nn.Module):
    """One NB201 cell over all ops at ``channels`` channels, then BatchNorm-ReLU; no stem, no
    reduction, no classifier. ``forward(x, mask)``: x (B, channels, H, W) → (B, channels, H, W),
    the uniform mixture over the ops of ``mask``."""

    def __init__(self, channels: int = 1) -> None:
        super().__init__()
        self.cell = Cell(channels, OpMask.full())
        self.head = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU())

    def forward(self, x: torch.Tensor, mask: OpMask) -> torch.Tensor:
        run_ops = tuple(mask.ops_on(e) for e in range(NUM_EDGES))
        return self.head(self.cell(x, uniform_weights(mask, x.device), run_ops))


def random_crops(images: torch.Tensor, count: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """(count, 1, size, size) single-channel crops of ``images`` (N, C, H, W): image, channel and
    top-left corner uniformly at random (with replacement) from ``generator``."""
    n, c, h, w = images.shape
    if size > min(h, w):
        raise ValueError(f"lr crop {size} is larger than the {h}×{w} images")
    pick = [torch.randint(0, hi, (count,), generator=generator).to(images.device)
            for hi in (n, c, h - size + 1, w - size + 1)]
    idx, ch, top, left = pick
    offsets = torch.arange(size, device=images.device)
    rows, cols = (top[:, None] + offsets)[:, :, None], (left[:, None] + offsets)[:, None, :]
    return images[idx[:, None, None], ch[:, None, None], rows, cols].unsqueeze(1)


def count_patterns(net: nn.Module, mask: OpMask, inputs: list[torch.Tensor]) -> int:
    """Distinct sign patterns (> 0) of every ReLU output of ``net(x, mask)`` over all samples of
    ``inputs`` (batches, processed one at a time in train mode)."""
    codes: list[torch.Tensor] = []
    handles = [m.register_forward_hook(lambda _m, _i, out: codes.append(out.detach().flatten(1) > 0))
               for m in net.modules() if isinstance(m, nn.ReLU)]
    rows = []
    try:
        with torch.no_grad():
            for x in inputs:
                codes.clear()
                net(x, mask)
                rows.append(torch.cat(codes, dim=1))
    finally:
        for h in handles:
            h.remove()
    return int(torch.unique(torch.cat(rows, dim=0), dim=0).shape[0])


@register_metric("lr", options=tuple(DEFAULTS))
def linear_regions(net: Network, mask: OpMask, ctx: MetricContext) -> float:
    """Linear regions of the thin TE-NAS network (one cell, C=1) restricted to ``mask`` over
    ``samples`` single-channel ``crop``×``crop`` crops of the metric batches' images, mean over
    ``repeat`` seeded initialisations (options; defaults TE-NAS's 3,000, 3, 3). ``net``'s
    weights are not used."""
    opts = {**DEFAULTS, **ctx.options}
    samples, crop, repeat = int(opts["samples"]), int(opts["crop"]), int(opts["repeat"])
    if samples < 1 or crop < 1 or repeat < 1:
        raise ValueError(f"lr options samples, crop and repeat must be ≥ 1, got {samples}, {crop}, {repeat}")
    images = torch.cat([x for x, _ in ctx.batches]).float()
    crops = random_crops(images, samples, crop, torch.Generator().manual_seed(ctx.seed))
    inputs = list(crops.split(LR_BATCH))
    counts = []
    for r in range(repeat):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(ctx.seed * 101 + r)
            thin = ThinCellNet(1).to(crops.device).train()
        counts.append(count_patterns(thin, mask, inputs))
    return float(sum(counts) / len(counts))

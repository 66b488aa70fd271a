"""Metrics as zero-cost proxies: score whole architectures (standalone networks)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from fewshotnas.metrics.registry import MetricContext, get_metric, is_finite
from fewshotnas.space import OpMask, build_network, genotype_from_str, genotype_to_str

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class ProxySetup:
    """The networks scored: NB201 layout with ``channels``/``cells_per_stage``, fresh weights
    from ``seed``; inputs (B, ``in_channels``, ``image_size``, ``image_size``)."""

    channels: int = 16
    cells_per_stage: int = 5
    num_classes: int = 10
    in_channels: int = 3
    image_size: int = 32
    seed: int = 0


def synthetic_batches(setup: ProxySetup, count: int, batch_size: int, seed: int) -> list[Batch]:
    """Standard normal images and uniform labels (for scoring without a dataset)."""
    gen = torch.Generator().manual_seed(seed)
    shape = (batch_size, setup.in_channels, setup.image_size, setup.image_size)
    return [(torch.randn(shape, generator=gen), torch.randint(0, setup.num_classes, (batch_size,), generator=gen))
            for _ in range(count)]


def score_architectures(metric: str, archs: list[str], batches: list[Batch], setup: ProxySetup,
                        options: dict | None = None, device: torch.device | str = "cpu") -> Iterator[dict]:
    """One record per architecture (benchmark string): ``arch_str``, ``metric``, ``score``
    (None when not finite), ``finite`` and ``seconds``. Scalar metrics only; each network
    starts from the same seeded weights for its shape; metrics run in train mode."""
    spec = get_metric(metric)
    if spec.kind != "scalar":
        raise ValueError(f"metric {metric!r} compares candidates pairwise ({spec.kind}); it gives no per-architecture "
                         "score. Use it to split (split.methods) instead")
    options = options or {}
    spec.check_options(options)
    device = torch.device(device)
    batches = [(x.to(device), y.to(device)) for x, y in batches]
    for arch in archs:
        genotype = genotype_from_str(arch)
        torch.manual_seed(setup.seed)
        net = build_network(genotype, channels=setup.channels, cells_per_stage=setup.cells_per_stage,
                            num_classes=setup.num_classes, in_channels=setup.in_channels).to(device).train()
        t0 = time.perf_counter()
        ctx = MetricContext(batches, -1, device, options, seed=setup.seed)
        value = spec.fn(net, OpMask.from_genotype(genotype), ctx)
        finite = is_finite(value)
        yield dict(arch_str=genotype_to_str(genotype), metric=metric, score=float(value) if finite else None,
                   finite=finite, seconds=round(time.perf_counter() - t0, 4))

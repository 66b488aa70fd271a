"""Warm-up training of a sub-supernet before it is split (GM-NAS; ``split.warmup_epochs``)."""

from __future__ import annotations

import logging

import torch

from fewshotnas.data import BatchStream, PreparedData
from fewshotnas.space import OpMask
from fewshotnas.space.supernet import Network
from fewshotnas.train.loop import train_epoch

log = logging.getLogger("fewshotnas")

StateDict = dict[str, torch.Tensor]


def warm_up(net: Network, mask: OpMask, data: PreparedData, epochs: int, train: dict, seed: int,
            device: torch.device) -> StateDict:
    """Train the uniform mixture over ``mask`` for ``epochs`` on the weight half of the training
    set with ``train``'s SGD settings (constant learning rate ``lr``), in place; returns the
    weights (CPU copy). Deterministic for a given ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    stream = BatchStream(data.weight, int(train.get("batch_size", 64)), data.mean, data.std, device=device,
                         augment=bool(train.get("augment", False)), generator=gen)
    opt = torch.optim.SGD(net.parameters(), lr=float(train.get("lr", 0.025)),
                          momentum=float(train.get("momentum", 0.9)),
                          weight_decay=float(train.get("weight_decay", 0.0)),
                          nesterov=bool(train.get("nesterov", False)))
    for epoch in range(epochs):
        loss, acc = train_epoch(net, stream, opt, device, mask=mask, grad_clip=train.get("grad_clip"),
                                desc=f"warm-up {epoch + 1}/{epochs}", quiet=True)
        log.info("warm-up epoch %d/%d: loss %.3f, acc %.1f%%", epoch + 1, epochs, loss, acc)
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}

"""Training loops: evaluation, one epoch of weight training, the base supernet.

Inside a step nothing reads back to the host: losses and correct counts are
summed as device tensors and read once per epoch.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from fewshotnas.codehash import code_hash
from fewshotnas.data import BatchStream, PreparedData
from fewshotnas.files import EpochResume, GeneratorState, config_hash, load_checkpoint, save_checkpoint
from fewshotnas.space import OpMask, build_network
from fewshotnas.space.supernet import Network
from fewshotnas.train.device import autocast, configure_torch, resolve_device

log = logging.getLogger("fewshotnas")

SUPERNET_FORMAT = 2


class DivergenceError(RuntimeError):
    """Training produced a non-finite loss or architecture parameter, or a loss that grew
    past :data:`LOSS_GROWTH_BOUND` times its reference."""


class EmptyEpochError(ValueError):
    """An epoch would run no step: the batch size exceeds the images it draws from."""


LOSS_GROWTH_BOUND = 100.0
"""An epoch whose mean training loss exceeds this many times the reference (the first epoch's
loss, and at least a uniform guess's ln(classes)) has diverged."""


def check_finite(label: str, epoch: int, loss: float, rows: list[dict], alphas: torch.Tensor | None = None,
                 num_classes: int | None = None) -> None:
    """Raise :class:`DivergenceError` when the epoch's mean loss (or any alpha) is not finite,
    naming the epoch and the last finite ``train_loss`` of ``rows`` (earlier epochs' log rows),
    or when the loss grew past :data:`LOSS_GROWTH_BOUND` × max(first epoch's loss,
    ln(``num_classes``)) (a run that diverges without reaching inf, e.g. momentum ≥ 1)."""
    bad_alphas = alphas is not None and not bool(torch.isfinite(alphas).all())
    fix = "Lower the learning rate (or raise grad_clip) and rerun; nothing of this run enters the tables"
    if math.isfinite(loss) and not bad_alphas:
        first = rows[0]["train_loss"] if rows and math.isfinite(rows[0]["train_loss"]) else None
        chance = math.log(num_classes) if num_classes and num_classes > 1 else None
        known = [r for r in (first, chance) if r is not None]
        if known and loss > LOSS_GROWTH_BOUND * max(known):
            reference = (f"its first epoch's loss {first:.4g}" if first is not None and first >= (chance or 0)
                         else f"a uniform guess's loss ln({num_classes}) = {chance:.4g}")
            raise DivergenceError(f"{label} diverged at epoch {epoch}: training loss {loss:.4g} is more than "
                                  f"{LOSS_GROWTH_BOUND:g}× {reference}; {fix}")
        return
    finite = [(r["epoch"], r["train_loss"]) for r in rows if math.isfinite(r["train_loss"])]
    last = f"last finite loss {finite[-1][1]:.4g} at epoch {finite[-1][0]}" if finite else "no finite epoch before"
    what = "architecture parameters" if math.isfinite(loss) else f"training loss ({loss})"
    raise DivergenceError(f"{label} diverged at epoch {epoch}: non-finite {what}; {last}. {fix}")


class UntrainedSupernetError(RuntimeError):
    """The base supernet's test accuracy never beat chance by the configured margin."""


def check_supernet_learned(train_log: pd.DataFrame, num_classes: int, margin: float | None, source: str) -> None:
    """Raise :class:`UntrainedSupernetError` when the best ``test_acc`` (%) of a base
    supernet's ``train_log`` does not exceed chance (100 / ``num_classes``) by ``margin``
    percentage points; ``margin`` None: no check. ``source`` names the log in the message."""
    if margin is None:
        return
    accuracies = pd.to_numeric(train_log["test_acc"], errors="coerce")
    if accuracies.notna().sum() == 0:
        log.warning("%s holds no test accuracy; the base supernet's accuracy is not checked", source)
        return
    best = int(accuracies.idxmax())
    best_acc, chance = float(accuracies[best]), 100.0 / num_classes
    if best_acc <= chance + margin:
        raise UntrainedSupernetError(
            f"base supernet ({source}): its best test accuracy {best_acc:.1f} % (epoch "
            f"{int(train_log['epoch'][best])} of {len(train_log)}) does not beat chance ({chance:.1f} % for "
            f"{num_classes} classes) by supernet.chance_margin = {margin:g} points, so metrics would split on noise. "
            "Train it longer or with another learning rate (supernet.train; delete the protected supernet.pt "
            "first), or lower supernet.chance_margin (null: no check)")


def check_steps(label: str, images: int, batch_size: int) -> None:
    """Raise :class:`EmptyEpochError` when ``batch_size`` (full batches only) exceeds ``images``."""
    if batch_size > images:
        raise EmptyEpochError(f"{label}: batch_size {batch_size} is larger than the {images} images it draws from, "
                              "so an epoch would run no step; lower the batch size or keep more images "
                              "(data.subset / data.fraction)")

ForwardFn = Callable[[torch.Tensor], torch.Tensor]


def progress(total: int, desc: str, quiet: bool):
    """A tqdm bar on stderr: off when ``quiet`` and whenever stderr is not a terminal (logs, CI)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=True if quiet else None, leave=False, dynamic_ncols=True,
                mininterval=1.0)


@torch.no_grad()
def evaluate(forward: ForwardFn, stream: BatchStream, device: torch.device) -> tuple[float, float]:
    """Mean cross-entropy and accuracy (%) of ``forward`` over one pass of ``stream``."""
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device)
    count = 0
    for x, y in stream:
        with autocast(device):
            logits = forward(x)
        full = logits if logits.dtype in (torch.float32, torch.float64) else logits.float()  # bf16 autocast → fp32
        loss_sum += F.cross_entropy(full, y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
        count += len(y)
    if count == 0:
        return math.nan, math.nan
    return float(loss_sum) / count, 100.0 * float(correct) / count


@dataclass
class SupernetConfig:
    """Base supernet training (App. A.2): SGD + momentum, cosine to 0 over ``epochs``."""

    epochs: int = 200
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = False
    grad_clip: float | None = 5.0
    augment: bool = True


def train_epoch(
    net: Network,
    stream: BatchStream,
    opt: torch.optim.Optimizer,
    device: torch.device,
    *,
    mask: OpMask | None = None,
    grad_clip: float | None = None,
    desc: str = "train",
    quiet: bool = False,
) -> tuple[float, float]:
    """One pass of ``stream`` training the uniform mixture over ``mask`` (default: the build
    mask) with cross-entropy; returns mean loss and accuracy (%), read back once at the end."""
    net.train()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device)
    seen = 0
    with progress(len(stream), desc, quiet) as bar:
        for x, y in stream:
            with autocast(device):
                logits = net(x, mask=mask)
                loss = F.cross_entropy(logits.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip:
                nn.utils.clip_grad_norm_(net.parameters(), grad_clip, foreach=True)
            opt.step()
            loss_sum += loss.detach() * len(y)
            correct += (logits.detach().argmax(1) == y).sum()
            seen += len(y)
            bar.update()
    if seen == 0:
        return math.nan, math.nan
    return float(loss_sum) / seen, 100.0 * float(correct) / seen


def cell_bn_affine(network: dict) -> bool:
    """Whether the search networks' cell BatchNorms learn scale and shift (``network`` config
    key ``cell_bn_affine``; false when absent: NB201's and DARTS's search cells use
    ``affine=False``)."""
    return bool(network.get("cell_bn_affine", False))


def new_network(data: PreparedData, network: dict, mask: OpMask | None = None) -> Network:
    """A supernet sized for ``data`` from the ``network`` config (channels, cells_per_stage,
    cell_bn_affine: learned BN scale and shift in the cells, default false as in NB201's search
    code), in channels-last memory format like the batches."""
    net = build_network(mask, channels=network["channels"], cells_per_stage=network["cells_per_stage"],
                        num_classes=data.num_classes, in_channels=data.in_channels,
                        cell_affine=cell_bn_affine(network))
    return net.to(memory_format=torch.channels_last)


def train_supernet(
    data: PreparedData,
    *,
    network: dict,
    train: dict,
    seed: int,
    out_checkpoint: str | Path,
    resume_path: str | Path,
    device: str = "auto",
    threads: int | None = None,
    quiet: bool = False,
) -> pd.DataFrame:
    """Train the root supernet (uniform mixture of all ops) on the whole training subset.

    Writes ``out_checkpoint`` (weights, network config, config hash) and returns the
    per-epoch log. A resume file is rewritten atomically after every epoch; when it
    exists (from a killed run with the same configuration) training continues there.
    """
    cfg = SupernetConfig(**train)
    check_steps("base supernet", len(data.train), cfg.batch_size)
    chash = config_hash({"network": network, "train": train, "seed": seed, "data": data.meta})
    configure_torch(threads, seed)
    dev = resolve_device(device)
    net = new_network(data, network).to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                          nesterov=cfg.nesterov)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=0.0)
    gen = torch.Generator().manual_seed(seed)
    resume = EpochResume(resume_path, "base supernet", {"config": chash, "code": code_hash("fewshotnas.train.loop")},
                         {"net": net, "opt": opt, "sched": sched, "generator": GeneratorState(gen)})
    train_stream = BatchStream(data.train, cfg.batch_size, data.mean, data.std, device=dev, augment=cfg.augment,
                               generator=gen)
    test_stream = BatchStream(data.test, 512, data.mean, data.std, device=dev, shuffle=False, drop_last=False)
    for epoch in resume.epochs(cfg.epochs):
        t0 = time.perf_counter()
        train_loss, train_acc = train_epoch(net, train_stream, opt, dev, grad_clip=cfg.grad_clip,
                                            desc=f"supernet epoch {epoch + 1}/{cfg.epochs}", quiet=quiet)
        check_finite("base supernet", epoch + 1, train_loss, resume.rows, num_classes=data.num_classes)
        lr = sched.get_last_lr()[0]
        sched.step()
        net.eval()
        test_loss, test_acc = evaluate(net, test_stream, dev)
        row = dict(epoch=epoch + 1, lr=lr, train_loss=train_loss, train_acc=train_acc,
                   test_loss=test_loss, test_acc=test_acc, epoch_seconds=time.perf_counter() - t0)
        resume.rows.append(row)
        log.info("supernet epoch %d/%d: train loss %.3f acc %.1f%%, test acc %.1f%% (%.1fs)", row["epoch"],
                 cfg.epochs, row["train_loss"], row["train_acc"], test_acc, row["epoch_seconds"])
    save_checkpoint(dict(format=SUPERNET_FORMAT, config_hash=chash, network=network, num_classes=data.num_classes,
                         in_channels=data.in_channels,
                         state_dict={k: v.cpu() for k, v in net.state_dict().items()}), out_checkpoint)
    resume.finish()
    return pd.DataFrame(resume.rows).astype({"epoch": "int64"})


def load_supernet(path: str | Path, device: torch.device | str = "cpu") -> Network:
    """The trained root supernet written by :func:`train_supernet`."""
    ckpt = load_checkpoint(path, kind="supernet checkpoint", format_version=SUPERNET_FORMAT)
    net = build_network(None, channels=ckpt["network"]["channels"],
                        cells_per_stage=ckpt["network"]["cells_per_stage"], num_classes=ckpt["num_classes"],
                        in_channels=ckpt["in_channels"], cell_affine=cell_bn_affine(ckpt["network"]))
    net.load_state_dict(ckpt["state_dict"])
    return net.to(device, memory_format=torch.channels_last)

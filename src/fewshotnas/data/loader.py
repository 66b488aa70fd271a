"""Batches streamed from in-memory uint8 tensors, normalised and augmented on the device.

No worker processes and no per-sample Python: a whole epoch is one permutation,
every batch one gather, so loading never starves the model (on CUDA the images
sit on the GPU). Random streams come from an explicit ``torch.Generator`` whose
state is saved for exact resume.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from fewshotnas.data.datasets import ImageSet


class BatchStream:
    """Epochs of shuffled, normalised (optionally augmented) batches from an :class:`ImageSet`.

    Yields ``(x, y)``: x float (B, C, H, W; torch's default dtype when the stream was made,
    float32 unless changed) normalised with ``mean``/``std``, in channels-last memory format
    (faster convolutions on CPU and GPU), y int64 (B,). ``augment``: random crop with zero
    padding of H/8 pixels and a random horizontal flip. The last partial batch is dropped
    when ``drop_last``.
    """

    def __init__(
        self,
        data: ImageSet,
        batch_size: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        *,
        device: torch.device | str = "cpu",
        shuffle: bool = True,
        augment: bool = False,
        drop_last: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        self.device = torch.device(device)
        self.images = data.images.to(self.device)
        self.labels = data.labels.to(self.device)
        self.batch_size = batch_size
        self.shuffle, self.augment, self.drop_last = shuffle, augment, drop_last
        self.generator = generator or torch.Generator().manual_seed(0)
        c = self.images.shape[1]
        self.mean = torch.tensor(mean, device=self.device).view(1, c, 1, 1)
        self.std = torch.tensor(std, device=self.device).view(1, c, 1, 1)

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _augment(self, x: torch.Tensor, rand: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        pad = max(1, h // 8)
        padded = F.pad(x, (pad, pad, pad, pad))
        off_y = (rand[:, 0] * (2 * pad + 1)).long().clamp(max=2 * pad)
        off_x = (rand[:, 1] * (2 * pad + 1)).long().clamp(max=2 * pad)
        rows = (off_y[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
        cols = (off_x[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
        batch = torch.arange(b, device=x.device)[:, None, None, None]
        chan = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        out = padded[batch, chan, rows, cols]
        flip = (rand[:, 2] < 0.5)[:, None, None, None]
        return torch.where(flip, out.flip(-1), out)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        rand = torch.rand(n, 3, generator=self.generator).to(self.device) if self.augment else None
        order = order.to(self.device)  # one host→device copy per epoch, none per batch
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            x = (self.images[idx].to(self.mean.dtype) / 255.0 - self.mean) / self.std
            if rand is not None:
                x = self._augment(x, rand[i * self.batch_size : (i + 1) * self.batch_size])
            yield x.contiguous(memory_format=torch.channels_last), self.labels[idx]

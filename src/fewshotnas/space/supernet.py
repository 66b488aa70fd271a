"""The NAS-Bench-201 network: cells with masked mixed ops, and its builders.

One class serves as supernet and as single architecture: a :class:`Network`
instantiates only the operations its *build mask* allows (the full mask gives
the supernet, a genotype mask gives a standalone network), and every forward
pass computes only the operations allowed by the *run mask* (a subset of the
build mask). ``none`` and masked-out operations are never computed.

Layout (NB201): stem conv3×3 + BN; 3 stages of ``cells_per_stage`` cells at
C, 2C, 4C channels with a ResNet basic block (stride 2) between stages;
BN-ReLU, global average pooling, linear classifier.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from fewshotnas.space.mask import OpMask
from fewshotnas.space.nb201 import EDGES, NUM_EDGES, OPS

CONV_KERNELS = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}


class ConvBN(nn.Sequential):
    """Conv (no bias) → BN (learned scale and shift when ``affine``; NB201's search cells have
    none). The preceding ReLU is applied once per edge by :class:`MixedOp`."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1,
                 affine: bool = True) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False, groups=groups),
            nn.BatchNorm2d(c_out, affine=affine),
        )


_POOL_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def avg_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    """3×3 average pooling, stride 1, padding 1, padded pixels not counted (NB201's op).

    On CPU, ``avg_pool2d(count_include_pad=False)`` is slow; a depthwise 3×3 convolution
    with a ones kernel divided by the number of valid pixels gives the same result
    about 2.5× faster (forward + backward). Other devices (CUDA, and ``meta`` where FLOPs
    are counted) use the native kernel.
    """
    if x.device.type != "cpu":
        return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    c, h, w = x.shape[1:]
    key = (c, h, w, x.dtype, x.device)
    if key not in _POOL_CACHE:
        kernel = torch.ones(c, 1, 3, 3, dtype=x.dtype, device=x.device)
        counts = F.conv2d(torch.ones(1, 1, h, w, dtype=x.dtype, device=x.device), kernel[:1], padding=1)
        _POOL_CACHE[key] = (kernel, counts.reciprocal())
    kernel, inv_counts = _POOL_CACHE[key]
    return F.conv2d(x, kernel, padding=1, groups=c) * inv_counts


class ResNetBasicBlock(nn.Module):
    """NB201 reduction block: ReLU-Conv3×3(s2)-BN → ReLU-Conv3×3-BN, plus AvgPool(2)-Conv1×1 shortcut."""

    def __init__(self, c_in: int, c_out: int, groups: int = 1) -> None:
        super().__init__()
        self.conv_a = ConvBN(c_in, c_out, 3, stride=2, groups=groups)
        self.conv_b = ConvBN(c_out, c_out, 3, groups=groups)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False, groups=groups))
        self.relu_a, self.relu_b = nn.ReLU(), nn.ReLU()  # modules, so that hooks (the #lr metric) see them

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_b(self.relu_b(self.conv_a(self.relu_a(x))))
        return out + self.shortcut(x)


class MixedOp(nn.Module):
    """Σ_o w[o]·op_o(x) over the ops given at call time; ``none`` adds nothing.

    Only ops of the build mask have modules (``convs`` for the convolutions;
    ``skip_connect`` and ``avg_pool_3x3`` have no parameters). ``groups`` > 1 makes the
    convolutions grouped: the fused network (:mod:`fewshotnas.space.fused`) runs one
    group of ``channels / groups`` channels per leaf.
    """

    def __init__(self, channels: int, built_ops: tuple[int, ...], groups: int = 1, affine: bool = True) -> None:
        super().__init__()
        self.built_ops = built_ops
        self.convs = nn.ModuleDict(
            {OPS[o]: ConvBN(channels, channels, CONV_KERNELS[OPS[o]], groups=groups, affine=affine)
             for o in built_ops if OPS[o] in CONV_KERNELS}
        )
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None, run_ops: tuple[int, ...]) -> torch.Tensor | None:
        """``weights``: (5,) tensor (or (5, channels, 1, 1), per channel: the fused network's
        per-leaf weights), or None for weight 1 on every op; ``run_ops``: ops to compute.

        Returns None when no op contributes (only ``none``), so callers skip the add.
        """
        out: torch.Tensor | None = None
        relu_x: torch.Tensor | None = None
        for o in run_ops:
            name = OPS[o]
            if name == "none":
                continue
            if name == "skip_connect":
                y = x
            elif name == "avg_pool_3x3":
                y = avg_pool_3x3(x)
            else:
                if relu_x is None:
                    relu_x = self.relu(x)
                y = self.convs[name](relu_x)
            if weights is not None:
                y = y * weights[o]
            out = y if out is None else out + y
        return out


class Cell(nn.Module):
    """A 4-node NB201 cell; node j = Σ_{i<j} mixed_op_{j←i}(node i); the output is node 3."""

    def __init__(self, channels: int, build_mask: OpMask, groups: int = 1, affine: bool = True) -> None:
        super().__init__()
        self.edges = nn.ModuleList(MixedOp(channels, build_mask.ops_on(e), groups, affine) for e in range(NUM_EDGES))

    def forward(
        self, x: torch.Tensor, arch_weights: torch.Tensor | None, run_ops: tuple[tuple[int, ...], ...]
    ) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for e, (dst, src) in enumerate(EDGES):
            inp = nodes[src]
            if inp is None:  # no path reaches the source node: its output is zero
                continue
            y = self.edges[e](inp, None if arch_weights is None else arch_weights[e], run_ops[e])
            if y is not None:
                nodes[dst] = y if nodes[dst] is None else nodes[dst] + y
        out = nodes[3]
        return out if out is not None else torch.zeros_like(x)


@lru_cache(maxsize=4096)
def run_ops_of(mask: OpMask) -> tuple[tuple[int, ...], ...]:
    return tuple(mask.ops_on(e) for e in range(NUM_EDGES))


def uniform_weights(mask: OpMask, device: torch.device | str | None = None) -> torch.Tensor:
    """(6, 5) float tensor: 1/|allowed ops| on allowed ops of each edge, 0 elsewhere."""
    allowed = mask.to_tensor(device).float()
    return allowed / allowed.sum(dim=1, keepdim=True)


class Network(nn.Module):
    """NB201 network over a build mask (full mask = supernet).

    ``forward(x, arch_weights=None, mask=None)``:
      * ``x``: (B, in_channels, H, W) float images;
      * ``arch_weights``: (6, 5) op weights shared by all cells, or None for the
        uniform mixture over the run mask's ops (the plain one-shot supernet);
      * ``mask``: the run mask (defaults to the build mask), a subset of it.
    Returns (B, num_classes) logits.
    """

    def __init__(
        self,
        channels: int = 16,
        cells_per_stage: int = 5,
        num_classes: int = 10,
        in_channels: int = 3,
        build_mask: OpMask | None = None,
        cell_affine: bool = True,
    ) -> None:
        super().__init__()
        self.build_mask = build_mask or OpMask.full()
        self.config = dict(channels=channels, cells_per_stage=cells_per_stage, num_classes=num_classes,
                           in_channels=in_channels, cell_affine=cell_affine)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        layers: list[nn.Module] = []
        c = channels
        for stage in range(3):
            if stage > 0:
                layers.append(ResNetBasicBlock(c, 2 * c))
                c *= 2
            layers.extend(Cell(c, self.build_mask, affine=cell_affine) for _ in range(cells_per_stage))
        self.layers = nn.ModuleList(layers)
        self.head = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU())
        self.classifier = nn.Linear(c, num_classes)
        self._uniform_cache: dict[tuple[OpMask, torch.device], torch.Tensor] = {}

    def check_run_mask(self, mask: OpMask) -> None:
        """Raise if ``mask`` allows an op that this network did not build."""
        for e in range(NUM_EDGES):
            extra = set(mask.ops_on(e)) - set(self.build_mask.ops_on(e))
            if extra:
                raise ValueError(f"run mask allows {sorted(OPS[o] for o in extra)} on edge {e}, not built here")

    def mixture_weights(self, mask: OpMask, device: torch.device) -> torch.Tensor | None:
        """Uniform weights over ``mask`` (cached), or None when every edge has a single op."""
        if all(len(ops) == 1 for ops in run_ops_of(mask)):
            return None
        key = (mask, device)
        if key not in self._uniform_cache:
            self._uniform_cache[key] = uniform_weights(mask, device)
        return self._uniform_cache[key]

    def forward(
        self, x: torch.Tensor, arch_weights: torch.Tensor | None = None, mask: OpMask | None = None
    ) -> torch.Tensor:
        mask = mask or self.build_mask
        if mask is not self.build_mask:
            self.check_run_mask(mask)
        run_ops = run_ops_of(mask)
        if arch_weights is None:
            arch_weights = self.mixture_weights(mask, x.device)
        h = self.stem(x)
        for layer in self.layers:
            h = layer(h, arch_weights, run_ops) if isinstance(layer, Cell) else layer(h)
        h = self.head(h)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))

    def edge_parameters(self, edge: int, ops: tuple[int, ...] | None = None) -> list[nn.Parameter]:
        """Parameters of the ops on ``edge`` in every cell (all ops, or only ``ops``)."""
        names = {OPS[o] for o in ops} if ops is not None else set(OPS)
        params: list[nn.Parameter] = []
        for layer in self.layers:
            if isinstance(layer, Cell):
                for name, module in layer.edges[edge].convs.items():
                    if name in names:
                        params.extend(module.parameters())
        return params


def build_network(
    genotype_or_mask: tuple[int, ...] | OpMask | None = None,
    *,
    channels: int = 16,
    cells_per_stage: int = 5,
    num_classes: int = 10,
    in_channels: int = 3,
    cell_affine: bool = True,
) -> Network:
    """A supernet (None or a mask) or a standalone architecture (a genotype). ``cell_affine``:
    the BatchNorm of the cells' convolutions learns a scale and shift (NB201's standalone
    networks; its search supernets have none)."""
    if genotype_or_mask is None or isinstance(genotype_or_mask, OpMask):
        mask = genotype_or_mask
    else:
        mask = OpMask.from_genotype(genotype_or_mask)
    return Network(channels, cells_per_stage, num_classes, in_channels, build_mask=mask, cell_affine=cell_affine)


def count_parameters(net: nn.Module) -> int:
    """Number of scalar parameters."""
    return sum(p.numel() for p in net.parameters())


def count_flops(net: nn.Module, input_shape: tuple[int, int, int, int]) -> int:
    """FLOPs of one forward pass (torch's FlopCounterMode: 2 per multiply-add of convolutions
    and linear layers; pooling, BN and additions are not counted). Counted on a ``meta``
    copy of ``net``: no memory, no compute, and ``net`` itself is untouched."""
    import copy

    from torch.utils.flop_counter import FlopCounterMode

    shadow = copy.deepcopy(net).to("meta").eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        shadow(torch.zeros(input_shape, device="meta"))
    return int(counter.get_total_flops())



def active_parameters(net: Network, mask: OpMask | None = None) -> list[nn.Parameter]:
    """Parameters used by a forward pass under ``mask``: everything outside the cells,
    plus the conv ops allowed on each edge of each cell."""
    mask = mask or net.build_mask
    params: list[nn.Parameter] = []
    for name, module in net.named_children():
        if name != "layers":
            params.extend(module.parameters())
    for layer in net.layers:
        if not isinstance(layer, Cell):
            params.extend(layer.parameters())
            continue
        for e, mixed in enumerate(layer.edges):
            for o in mask.ops_on(e):
                if OPS[o] in mixed.convs:
                    params.extend(mixed.convs[OPS[o]].parameters())
    return params


def cell_parameters(net: Network, exclude_edge: int | None = None) -> list[nn.Parameter]:
    """Parameters of all cells' ops, without those on ``exclude_edge`` (the GM-NAS shared weights)."""
    params: list[nn.Parameter] = []
    for layer in net.layers:
        if isinstance(layer, Cell):
            for e, mixed in enumerate(layer.edges):
                if e != exclude_edge:
                    params.extend(mixed.parameters())
    return params

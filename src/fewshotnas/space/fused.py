"""K leaves of a splitting tree as one network: every layer holds K independent copies.

A :class:`FusedNetwork` runs K sub-supernets (leaves, each with its own
:class:`~fewshotnas.space.mask.OpMask`) on the same images in one pass, so one
kernel does the work of K: convolutions are grouped (K groups of the leaf's
channels), BatchNorm runs over K × C channels (per-channel, so per-leaf
statistics), the classifier is a batched matrix product. The module tree and
parameter names mirror :class:`~fewshotnas.space.supernet.Network`, and every
fused tensor is the K leaf tensors stacked on a new first dimension and then
reshaped (``fused.view(K, *leaf.shape)[k]`` is leaf k's tensor), so
:meth:`FusedNetwork.from_leaves` and :meth:`FusedNetwork.leaf_state_dict`
convert both ways.

Ops: the fused network builds and runs the *union* of the leaves' ops. An op a
leaf does not allow still runs on that leaf's channels, with weight exactly 0,
so the leaf's output and gradients equal its separate network's. Likewise an op
whose source node no leaf path reaches (its separate network skips it) gets
weight 0 for that leaf (:func:`reachable_edges`). ``none`` never runs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fewshotnas.space.mask import OpMask
from fewshotnas.space.nb201 import EDGES, NUM_EDGES, NUM_OPS, OPS
from fewshotnas.space.supernet import Cell, Network, ResNetBasicBlock, run_ops_of


def union_mask(masks: list[OpMask]) -> OpMask:
    """The ops allowed by any of ``masks``."""
    return OpMask(tuple(tuple(any(m.allowed[e][o] for m in masks) for o in range(NUM_OPS))
                        for e in range(NUM_EDGES)))


def reachable_edges(mask: OpMask) -> tuple[bool, ...]:
    """Per edge: whether its source node is reached from the cell input through ops other than
    ``none`` (the separate network computes an edge only then)."""
    reached = {0}
    for e, (dst, src) in enumerate(EDGES):  # edges in order of their target node
        if src in reached and any(OPS[o] != "none" for o in mask.ops_on(e)):
            reached.add(dst)
    return tuple(src in reached for _, src in EDGES)


def path_reach(ops: torch.Tensor) -> torch.Tensor:
    """(K, 6) float: 1 where the edge's source node is reached from the cell input along the
    single-op paths ``ops`` ((K, 6) op indices; ``none`` = 0 reaches nothing), else 0 (the
    separate network does not compute such an edge)."""
    reached = [torch.ones(ops.shape[0], dtype=torch.bool, device=ops.device)] + [None] * 3
    edge_reach = []
    for e, (dst, src) in enumerate(EDGES):  # in order of the target node: sources are final
        edge_reach.append(reached[src])
        hit = reached[src] & (ops[:, e] != OPS.index("none"))
        reached[dst] = hit if reached[dst] is None else reached[dst] | hit
    return torch.stack(edge_reach, dim=1).float()


def path_useful(ops: torch.Tensor) -> torch.Tensor:
    """(K, 6) bool: True where the edge's target node leads to the cell output (node 3) through
    ops other than ``none`` of the paths ``ops`` ((K, 6) op indices). An op whose output leads
    nowhere is computed but gets no gradient in the separate network."""
    none = OPS.index("none")
    useful = {3: torch.ones(ops.shape[0], dtype=torch.bool, device=ops.device)}
    for node in (2, 1, 0):  # every out-edge of a node targets a higher node
        hit = torch.zeros_like(useful[3])
        for e, (dst, src) in enumerate(EDGES):
            if src == node:
                hit = hit | ((ops[:, e] != none) & useful[dst])
        useful[node] = hit
    return torch.stack([useful[dst] for dst, _ in EDGES], dim=1)


OWNER_ALWAYS = NUM_EDGES * NUM_OPS
"""Owner id of tensors outside the cells' candidate ops (stem, reductions, head, classifier)."""


def op_owner(name: str) -> int:
    """Owner id e·5 + o of a parameter or buffer of cell op o on edge e (``layers.<i>.edges.<e>.
    convs.<op>.…``), or OWNER_ALWAYS for everything else."""
    parts = name.split(".")
    if len(parts) > 4 and parts[0] == "layers" and parts[2] == "edges" and parts[4] == "convs":
        return int(parts[3]) * NUM_OPS + OPS.index(parts[5])
    return OWNER_ALWAYS


class LeafLinear(nn.Module):
    """K independent linear layers: (B, K·C) features → (K, B, J) logits.

    ``weight``: (K, J, C); ``bias``: (K, J) (leaf k's ``nn.Linear`` weight and bias)."""

    def __init__(self, leaves: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.leaves, self.in_features = leaves, in_features
        self.weight = nn.Parameter(torch.zeros(leaves, out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(leaves, out_features))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        per_leaf = h.view(h.shape[0], self.leaves, self.in_features).transpose(0, 1)  # (K, B, C)
        return torch.baddbmm(self.bias.unsqueeze(1), per_leaf, self.weight.transpose(1, 2))


class FusedNetwork(nn.Module):
    """K NB201 networks of the same size as one module.

    ``forward(x, arch_weights)``:
      * ``x``: (B, in_channels, H, W) images, shared by all leaves;
      * ``arch_weights``: (K, 6, 5) op weights of each leaf (0 where its mask forbids an op);
    returns (K, B, num_classes) logits. Built with :meth:`from_leaves`.
    """

    def __init__(self, masks: list[OpMask], channels: int, cells_per_stage: int, num_classes: int,
                 in_channels: int, cell_affine: bool = True) -> None:
        super().__init__()
        k = len(masks)
        if k < 1:
            raise ValueError("a fused network needs at least one leaf")
        self.leaves, self.masks = k, list(masks)
        self.union = union_mask(self.masks)
        self.config = dict(channels=channels, cells_per_stage=cells_per_stage, num_classes=num_classes,
                           in_channels=in_channels, cell_affine=cell_affine)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, k * channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(k * channels))
        layers: list[nn.Module] = []
        c = channels
        self.cell_channels: list[int] = []
        for stage in range(3):
            if stage > 0:
                layers.append(ResNetBasicBlock(k * c, 2 * k * c, groups=k))
                c *= 2
            for _ in range(cells_per_stage):
                layers.append(Cell(k * c, self.union, groups=k, affine=cell_affine))
            self.cell_channels.append(c)
        self.layers = nn.ModuleList(layers)
        self.head = nn.Sequential(nn.BatchNorm2d(k * c), nn.ReLU())
        self.classifier = LeafLinear(k, c, num_classes)
        reach = torch.tensor([reachable_edges(m) for m in self.masks], dtype=torch.float32)
        self.register_buffer("reach", reach.unsqueeze(-1), persistent=False)  # (K, 6, 1)
        self.register_buffer("mask_tensor", torch.stack([m.to_tensor() for m in self.masks]), persistent=False)

    @classmethod
    def from_leaves(cls, nets: list[Network]) -> FusedNetwork:
        """Fuse K separate networks (same size; build masks may differ). Each leaf's tensors are
        copied; ops a leaf did not build get zero conv weights and default BatchNorm state."""
        if not nets:
            raise ValueError("a fused network needs at least one leaf")
        cfg = nets[0].config
        if any(n.config != cfg for n in nets):
            raise ValueError("fused leaves must share channels, cells, classes and input channels")
        fused = cls([n.build_mask for n in nets], **cfg)
        device = next(nets[0].parameters()).device
        fused = fused.to(device)
        leaf_states = [n.state_dict() for n in nets]
        with torch.no_grad():
            for name, tensor in fused.state_dict().items():
                if tensor.dim() == 0:  # num_batches_tracked: the same step count in every leaf that has it
                    tensor.copy_(next((s[name] for s in leaf_states if name in s), torch.zeros_like(tensor)))
                    continue
                per_leaf = tensor.view(len(nets), *_leaf_shape(tensor, name, len(nets)))
                for k, state in enumerate(leaf_states):
                    if name in state:
                        per_leaf[k].copy_(state[name])
                    else:
                        per_leaf[k].copy_(_absent_value(name, per_leaf[k]))
        return fused.to(memory_format=torch.channels_last)

    def leaf_state_dict(self, k: int) -> dict[str, torch.Tensor]:
        """Leaf ``k``'s weights and BN statistics in the layout of its separate
        :class:`Network` (built with ``masks[k]``), as CPU tensors."""
        names = _leaf_names(self.masks[k], self.config)
        out: dict[str, torch.Tensor] = {}
        for name, tensor in self.state_dict().items():
            if name not in names:
                continue
            if tensor.dim() == 0:
                out[name] = tensor.detach().cpu().clone()
            else:
                leaf = tensor.detach().reshape(self.leaves, *_leaf_shape(tensor, name, self.leaves))[k]
                out[name] = leaf.cpu().clone()
        return out

    def expanded_weights(self, arch_weights: torch.Tensor, reach: torch.Tensor | None = None
                         ) -> dict[int, torch.Tensor]:
        """Per cell width c: (6, 5, K·c, 1, 1) per-channel op weights, ``arch_weights`` (K, 6, 5)
        times the edge reachability of each leaf (``reach`` (K, 6, 1); default the masks')."""
        reach = self.reach if reach is None else reach
        w = (arch_weights * reach.to(arch_weights.dtype)).permute(1, 2, 0)  # (6, 5, K)
        return {c: w.unsqueeze(-1).expand(NUM_EDGES, NUM_OPS, self.leaves, c)
                .reshape(NUM_EDGES, NUM_OPS, self.leaves * c, 1, 1) for c in set(self.cell_channels)}

    def forward(self, x: torch.Tensor, arch_weights: torch.Tensor, run_mask: OpMask | None = None,
                reach: torch.Tensor | None = None) -> torch.Tensor:
        """``run_mask``: the ops to compute (default the union), e.g. the union of the leaves'
        sampled paths; ops without parameters (skip, pooling) may lie outside the union.
        ``reach``: (K, 6, 1) per-leaf edge reachability to use instead of the masks' (an
        auxiliary skip on every edge reaches every node)."""
        run_ops = run_ops_of(run_mask or self.union)
        per_width = self.expanded_weights(arch_weights, reach)
        h = self.stem(x)
        width = self.config["channels"]
        for layer in self.layers:
            if isinstance(layer, Cell):
                h = layer(h, per_width[width], run_ops)
            else:
                h = layer(h)
                width *= 2
        h = self.head(h)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def _leaf_shape(tensor: torch.Tensor, name: str, leaves: int) -> tuple[int, ...]:
    """Shape of one leaf's copy of a fused tensor (first dimension divided by K, except the
    classifier's, whose first dimension is K)."""
    if name.startswith("classifier."):
        return tuple(tensor.shape[1:])
    return (tensor.shape[0] // leaves, *tensor.shape[1:])


def _absent_value(name: str, like: torch.Tensor) -> torch.Tensor:
    """Placeholder for a tensor a leaf did not build: BatchNorm scale and running variance 1,
    everything else 0 (the op runs with weight 0 for that leaf, so values only need be finite)."""
    if name.endswith("running_var") or (name.endswith(".weight") and like.dim() == 1):
        return torch.ones_like(like)
    return torch.zeros_like(like)


_NAMES_CACHE: dict[tuple, frozenset[str]] = {}


def _leaf_names(mask: OpMask, config: dict) -> frozenset[str]:
    """State-dict names of the separate network built with ``mask`` (shapes on ``meta``)."""
    key = (mask, tuple(sorted(config.items())))
    if key not in _NAMES_CACHE:
        with torch.device("meta"):
            net = Network(build_mask=mask, **config)
        _NAMES_CACHE[key] = frozenset(net.state_dict())
    return _NAMES_CACHE[key]

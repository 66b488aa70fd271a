"""A searched leaf's result, ``final.pt``: written by the search engine, read by stage-1 and
the selectors. This module is the only place that knows the file's layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from fewshotnas.files import load_checkpoint, save_checkpoint
from fewshotnas.space import OpMask, genotype_from_str, genotype_to_str

SEARCH_FORMAT = 3
"""Version of the ``final.pt`` layout (3: algorithm, probs; alphas may be None)."""


@dataclass
class LeafResult:
    """One leaf's search outcome.

    * ``mask``: the leaf's sub-space; ``algorithm``: its config name; ``network``: the
      ``network`` config section the supernet was built with; ``config_hash``: of the leaf's
      search configuration (the same whether it ran alone or fused);
    * ``disconnected``: no architecture of the leaf connects input to output; nothing was
      searched and every other field below is None;
    * ``genotype``: the derived architecture (six op indices);
    * ``alphas``: (6, 5) architecture logits, None for an algorithm without them (RSPS);
    * ``probs``: (6, 5) the leaf's learned distribution over ops per edge (0 outside the
      mask; rows sum to 1): softmax(α), the Dirichlet mean for DrNAS, uniform for RSPS;
    * ``state_dict``: the supernet's weights and BatchNorm statistics in the layout of a
      separate :class:`~fewshotnas.space.supernet.Network` built with ``mask``;
    * ``fused_leaves``: how many leaves the job that searched it ran at once (1: alone).
    """

    mask: OpMask
    algorithm: str
    network: dict
    config_hash: str
    disconnected: bool = False
    genotype: tuple[int, ...] | None = None
    alphas: torch.Tensor | None = None
    probs: torch.Tensor | None = None
    state_dict: dict[str, torch.Tensor] | None = None
    fused_leaves: int = 1

    def save(self, path: str | Path) -> None:
        """Write atomically (with a content digest) to ``path``."""
        save_checkpoint(dict(format=SEARCH_FORMAT, mask=self.mask.to_bits(), algorithm=self.algorithm,
                             network=self.network, config_hash=self.config_hash, disconnected=self.disconnected,
                             genotype=None if self.genotype is None else genotype_to_str(self.genotype),
                             alphas=self.alphas, probs=self.probs, state_dict=self.state_dict,
                             fused_leaves=self.fused_leaves), path)

    @classmethod
    def load(cls, path: str | Path, expected_hash: str | None = None) -> LeafResult:
        """Read a ``final.pt``; corrupt, foreign or outdated files raise the errors of
        :func:`~fewshotnas.files.load_checkpoint`, naming the file and the fix."""
        ckpt = load_checkpoint(path, kind="leaf search result", format_version=SEARCH_FORMAT,
                               expected_hash=expected_hash)
        genotype = ckpt.get("genotype")
        return cls(mask=OpMask.from_bits(ckpt["mask"]), algorithm=ckpt["algorithm"], network=ckpt["network"],
                   config_hash=ckpt["config_hash"], disconnected=bool(ckpt["disconnected"]),
                   genotype=None if genotype is None else genotype_from_str(genotype), alphas=ckpt.get("alphas"),
                   probs=ckpt.get("probs"), state_dict=ckpt.get("state_dict"),
                   fused_leaves=int(ckpt.get("fused_leaves", 1)))

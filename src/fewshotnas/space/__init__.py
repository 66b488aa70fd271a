"""The NAS-Bench-201 search space: ops, edges, genotypes, masks and the supernet."""

from fewshotnas.space.mask import OpMask
from fewshotnas.space.nb201 import (
    EDGES,
    NUM_ARCHS,
    NUM_EDGES,
    NUM_OPS,
    OPS,
    Genotype,
    GenotypeError,
    all_genotypes,
    genotype_from_str,
    genotype_to_str,
)
from fewshotnas.space.supernet import Network, build_network, count_flops, count_parameters

__all__ = [
    "EDGES", "NUM_ARCHS", "NUM_EDGES", "NUM_OPS", "OPS", "Genotype", "GenotypeError", "OpMask", "Network",
    "all_genotypes", "build_network", "count_flops", "count_parameters", "genotype_from_str", "genotype_to_str",
]

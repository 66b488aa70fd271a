"""One-shot search on a leaf: algorithms, alphas and the search loop."""

from fewshotnas.search.common import SearchConfig, derive_genotype, masked_logits, run_search
from fewshotnas.search.registry import ALGORITHMS, get_algorithm

__all__ = ["ALGORITHMS", "SearchConfig", "derive_genotype", "get_algorithm", "masked_logits", "run_search"]

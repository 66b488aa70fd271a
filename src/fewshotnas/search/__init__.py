"""One-shot search of each leaf: one engine for K ≥ 1 leaves and the algorithms on it."""

from fewshotnas.search.common import SearchConfig, derive_genotype, masked_logits
from fewshotnas.search.engine import run_search, search_leaves
from fewshotnas.search.registry import ALGORITHMS, get_algorithm
from fewshotnas.search.result import LeafResult

__all__ = ["ALGORITHMS", "LeafResult", "SearchConfig", "derive_genotype", "get_algorithm", "masked_logits",
           "run_search", "search_leaves"]

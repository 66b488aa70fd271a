"""Splitting: min-cut partitions, the tree table and the level-by-level policy."""

from fewshotnas.split.mincut import Cut, min_cut
from fewshotnas.split.policy import NOSPLIT, RANDOM, SplitConfig, split_level
from fewshotnas.split.tree import leaf_masks, root_node, tree_from_frame, tree_to_frame

__all__ = ["NOSPLIT", "RANDOM", "Cut", "SplitConfig", "leaf_masks", "min_cut", "root_node", "split_level",
           "tree_from_frame", "tree_to_frame"]

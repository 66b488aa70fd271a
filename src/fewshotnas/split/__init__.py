"""Splitting: min-cut partitions, the tree table, one level's split and split distances."""

from fewshotnas.split.config import NOSPLIT, RANDOM, SplitConfig
from fewshotnas.split.distance import split_distance, split_distance_table, tree_splits
from fewshotnas.split.level import LevelSplit, scoring_network, split_level
from fewshotnas.split.mincut import Cut, min_cut
from fewshotnas.split.tree import leaf_masks, root_node, tree_from_frame, tree_to_frame

__all__ = ["NOSPLIT", "RANDOM", "Cut", "LevelSplit", "SplitConfig", "leaf_masks", "min_cut", "root_node",
           "scoring_network", "split_distance", "split_distance_table", "split_level", "tree_from_frame",
           "tree_splits", "tree_to_frame"]

"""Splitting metrics behind one registry (see :mod:`fewshotnas.metrics.registry`).

Importing this package registers every metric: the registry is a leaf module that
imports none of them."""

from fewshotnas.metrics import (  # noqa: F401  (each module registers its metric)
    gradientmatching,
    gradnorm,
    grasp,
    jacobcov,
    linear_regions,
    ntk,
    params,
    snip,
    synflow,
)
from fewshotnas.metrics.registry import METRICS, MetricContext, MetricSpec, get_metric, metric_names
from fewshotnas.metrics.similarity import similarity_matrix

__all__ = ["METRICS", "MetricContext", "MetricSpec", "get_metric", "metric_names", "similarity_matrix"]

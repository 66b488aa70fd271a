"""Splitting metrics behind one registry (see :mod:`fewshotnas.metrics.registry`)."""

from fewshotnas.metrics.registry import METRICS, MetricContext, distance, get_metric, metric_names

__all__ = ["METRICS", "MetricContext", "distance", "get_metric", "metric_names"]

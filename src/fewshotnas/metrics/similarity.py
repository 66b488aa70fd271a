"""The similarity matrix of a node's candidates, with the rule for degenerate scores."""

from __future__ import annotations

import numpy as np

from fewshotnas.metrics.registry import MetricSpec, Score, is_finite


def similarity_matrix(spec: MetricSpec, scores: list[Score], options: dict) -> np.ndarray:
    """Symmetric n×n similarities between the scores of n candidates (diagonal 0, unused).

    Degenerate scores (any NaN or ±inf) are far more alike each other, and far less alike every
    finite score, than any two finite scores are: with the finite pairs' similarities in
    [lo, hi], spread = hi − lo (1 when there are no such pairs or they are all equal) and
    far = n² · spread, two degenerate candidates get hi + far and a degenerate and a finite one
    lo − far. ``far`` outweighs every possible sum of finite pairs, so the min-cut keeps
    degenerate candidates together and apart from the rest whenever the number of groups allows."""
    n = len(scores)
    finite = [is_finite(s) for s in scores]
    sim = np.zeros((n, n))
    finite_pairs = []
    for i in range(n):
        for j in range(i + 1, n):
            if finite[i] and finite[j]:
                sim[i, j] = sim[j, i] = spec.similarity(scores[i], scores[j], options)
                finite_pairs.append(sim[i, j])
    if not all(finite):
        lo, hi = (min(finite_pairs), max(finite_pairs)) if finite_pairs else (0.0, 0.0)
        far = n * n * (hi - lo if hi > lo else 1.0)
        for i in range(n):
            for j in range(n):
                if i != j and not (finite[i] and finite[j]):
                    sim[i, j] = hi + far if finite[i] == finite[j] else lo - far
    return sim

"""Percentiles from histogram buckets, as Prometheus' ``histogram_quantile`` estimates them."""

from __future__ import annotations

import math
from collections.abc import Mapping


def quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The ``q`` quantile (0..1) of observations counted per bucket (upper bound → count, not
    cumulative), interpolated linearly within its bucket; None without observations. In the
    open last bucket the answer is the highest finite bound."""
    total = sum(buckets.values())
    if total <= 0:
        return None
    rank = q * total
    lower, seen = 0.0, 0.0
    bounds = sorted(buckets)
    for bound in bounds:
        count = buckets[bound]
        if seen + count >= rank and count > 0:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - seen) / count
        seen += count
        if not math.isinf(bound):
            lower = bound
    return lower

"""Bounded label values: past a number of distinct job types, the later ones count as ``other``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from jobqueue.store import JobTotal

OTHER = "other"


def kept_types(totals: Sequence[JobTotal], max_types: int) -> frozenset[str]:
    """The first ``max_types`` job types counted (by when they were first counted, then by
    name: the same on every replica); the rest are ``other``."""
    first: dict[str, tuple[float, str]] = {}
    for total in totals:
        seen = (total.since.timestamp(), total.type)
        first[total.type] = min(first.get(total.type, seen), seen)
    return frozenset(sorted(first, key=first.__getitem__)[:max_types])


Key = tuple[str, ...]


def folded(pairs: Iterable[tuple[Key, float]], kept: frozenset[str]) -> dict[Key, float]:
    """Values summed by key, where a key's second element (the job type) is ``other`` unless
    it is ``kept``."""
    sums: dict[Key, float] = {}
    for key, value in pairs:
        label = key[1] if key[1] in kept else OTHER
        bounded = (key[0], label, *key[2:])
        sums[bounded] = sums.get(bounded, 0) + value
    return sums

"""Bounds on one listing of the fleet: how many workers, and how many bytes, one answer holds."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["DEFAULT_PAGE_WORKERS", "MAX_PAGE_BYTES", "MAX_PAGE_WORKERS", "fitting"]

DEFAULT_PAGE_WORKERS = 100
MAX_PAGE_WORKERS = 1000
MAX_PAGE_BYTES = 3 * 1024 * 1024
"""Below gRPC's default 4 MiB receive limit, so every client can read any answer."""


def fitting(sizes: Sequence[int], max_bytes: int = MAX_PAGE_BYTES) -> int:
    """How many of the leading items, of these sizes, fit in ``max_bytes``; at least one, so
    a listing always moves on."""
    total = 0
    for count, size in enumerate(sizes):
        total += size
        if total > max_bytes:
            return max(count, 1)
    return len(sizes)

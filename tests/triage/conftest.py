"""Fixtures for the triage tests: the API tests' real SQLite broker."""

from __future__ import annotations

from tests.api.conftest import broker

__all__ = ["broker"]

"""Fixtures for the authentication tests: the API tests' real SQLite broker."""

from __future__ import annotations

from tests.api.conftest import broker

__all__ = ["broker"]

"""Tests of the broker backends."""

"""Tests of the worker registry backends."""

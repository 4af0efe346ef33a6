"""Conformance suites that every backend of a protocol runs: ``broker``, ``registry``."""

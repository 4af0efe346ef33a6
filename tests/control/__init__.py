"""Tests of the gRPC control plane."""

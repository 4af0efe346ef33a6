"""The performance and resilience benchmarks: each module runs one figure end to end."""

"""Fleet statistics over time for the dashboard's overview and ``jobqueue top``: throughput,
depth, wait and run percentiles and counts, read from the job store so history survives."""

from jobqueue.stats.overview import WINDOWS, Overview, OverviewReader
from jobqueue.stats.sampler import sampling_depth

__all__ = ["WINDOWS", "Overview", "OverviewReader", "sampling_depth"]

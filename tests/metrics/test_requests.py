"""The HTTP requests' tally: counts by route, method and status, latency buckets by route and
method, as the text exposition shows them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from jobqueue.metrics.requests import RequestTally


def exposed(tally: RequestTally) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample the registry renders: (name, sorted labels) to value."""
    registry = CollectorRegistry()
    registry.register(tally)
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_requests_are_counted_by_route_method_and_status() -> None:
    tally = RequestTally((0.01, 0.1))
    for status in (202, 202, 503):
        tally.observe(("/jobs", "POST", status), 0.005)
    tally.observe(("/jobs/{job_id}", "GET", 404), 0.002)
    found = exposed(tally)
    total = "jobqueue_http_requests_total"
    labels = (("method", "POST"), ("route", "/jobs"))
    assert found[(total, (*labels, ("status", "202")))] == 2
    assert found[(total, (*labels, ("status", "503")))] == 1
    assert found[(total, (("method", "GET"), ("route", "/jobs/{job_id}"), ("status", "404")))] == 1


def test_latency_buckets_are_cumulative_and_merge_the_statuses() -> None:
    tally = RequestTally((0.01, 0.1))
    for status, elapsed_s in ((202, 0.005), (202, 0.01), (503, 0.05), (202, 2.0)):
        tally.observe(("/jobs", "POST", status), elapsed_s)
    found = exposed(tally)
    name = "jobqueue_http_request_duration_seconds"
    labels = (("method", "POST"), ("route", "/jobs"))
    buckets = {le: found[(f"{name}_bucket", (("le", le), *labels))] for le in ("0.01", "0.1")}
    assert buckets == {"0.01": 2, "0.1": 3}  # a bound's own value falls in its bucket
    assert found[(f"{name}_bucket", (("le", "+Inf"), *labels))] == 4
    assert found[(f"{name}_count", labels)] == 4
    assert abs(found[(f"{name}_sum", labels)] - 2.065) < 1e-9


def test_both_families_are_present_before_any_request() -> None:
    assert exposed(RequestTally((0.1,))) == {}
    registry = CollectorRegistry()
    registry.register(RequestTally((0.1,)))
    text = generate_latest(registry).decode()
    assert "# TYPE jobqueue_http_requests_total counter" in text
    assert "# TYPE jobqueue_http_request_duration_seconds histogram" in text

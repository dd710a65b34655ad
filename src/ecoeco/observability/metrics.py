"""Prometheus metrics for the HTTP layer. Domain modules define their own next to their code."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("ecoeco_http_requests_total", "HTTP requests handled.", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "ecoeco_http_request_duration_seconds",
    "Time to produce the response head.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_IN_FLIGHT = Gauge("ecoeco_http_requests_in_flight", "Requests being handled now.")
DEPENDENCY_UP = Gauge(
    "ecoeco_dependency_up", "1 if the last readiness probe reached the dependency.", ["dependency"]
)

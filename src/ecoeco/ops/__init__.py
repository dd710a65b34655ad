"""Operational endpoints outside the versioned API: liveness, readiness, metrics."""

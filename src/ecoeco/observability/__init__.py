"""Logs, metrics and request correlation."""

"""Tier 3: task publishing and workers (RabbitMQ + Celery distributed, in-process embedded)."""

"""Observability: Prometheus metrics and request logs, as pure ASGI middleware."""

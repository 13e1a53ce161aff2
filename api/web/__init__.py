"""The HTTP edge: pure ASGI middleware around the application (ids, limits, CORS, headers)."""

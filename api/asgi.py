"""ASGI entry point for uvicorn and gunicorn: `api.asgi:app`."""

from api.main import create_app

app = create_app()

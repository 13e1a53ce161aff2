"""Serializers for rows: JSON pages, CSV and NDJSON streams."""

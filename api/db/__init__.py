"""Database access: engines, the registry of loaded releases and their data tables."""

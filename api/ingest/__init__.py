"""Write side: find releases, validate them with frictionless, build the root catalog."""

"""Blank nodes with labels derived from their content, so RDF output is stable between runs."""

from __future__ import annotations

import hashlib

from rdflib import BNode


def stable_node(*parts: str) -> BNode:
    """A blank node whose label depends only on `parts`, so output is stable between calls."""
    return BNode("n" + hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:24])


__all__ = ["stable_node"]

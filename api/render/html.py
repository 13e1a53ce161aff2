"""Server-rendered HTML pages: Jinja2 templates, Markdown descriptions, embedded JSON-LD."""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from api.metadata.urls import PATHS
from api.render.charts import legend_swatch

TEMPLATES = "templates"


@cache
def _markdown() -> MarkdownIt:
    # Raw HTML in a descriptor is shown as text, never passed through: descriptions are data.
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def markdown(text: str | None) -> Markup:
    """Markdown (CommonMark with tables, raw HTML disabled) as safe HTML."""
    return Markup(_markdown().render(text or ""))  # noqa: S704 - rendered with html disabled


def jsonld(document: dict[str, Any] | None) -> Markup:
    """A JSON-LD block: data, not script (no CSP exception needed)."""
    if document is None:
        return Markup("")
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
    # `</` would end the element early; `<` escaped as JSON keeps the data the same.
    text = text.replace("<", "\\u003c")
    return Markup(f'<script type="application/ld+json">\n{text}\n</script>')  # noqa: S704


def number(value: Any) -> str:
    """A number with thousands separators; other values as text."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@cache
def environment() -> Environment:
    """The template environment (autoescaped)."""
    env = Environment(
        loader=PackageLoader("api", TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["markdown"] = markdown
    env.filters["number"] = number
    # Assets are same-origin paths whatever the base URL: the CSP allows `'self'` only.
    env.globals["asset"] = PATHS.asset
    env.globals["swatch"] = lambda shape, colour: Markup(legend_swatch(shape, colour))  # noqa: S704
    return env


def render_page(template: str, **context: Any) -> str:
    """Render one page template with its context."""
    return environment().get_template(template).render(**context)

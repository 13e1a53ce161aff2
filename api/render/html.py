"""Plain server-rendered HTML pages with embedded schema.org JSON-LD."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

import orjson

from api.metadata.urls import PATHS, Links
from api.model import ReleaseInfo

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
line-height:1.5;color:#1b1b1b}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;
text-align:left;vertical-align:top}code{background:#f3f3f3;padding:0 .2rem}
"""


def _jsonld(document: dict[str, Any]) -> str:
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
    return '<script type="application/ld+json">\n' + text.replace("</", "<\\/") + "\n</script>"


def page(title: str, body: str, *, jsonld: dict[str, Any] | None = None) -> str:
    """A complete HTML document."""
    head = [
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style>",
    ]
    if jsonld is not None:
        head.append(_jsonld(jsonld))
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n'
        + "\n".join(head)
        + "\n</head>\n<body>\n"
        + body
        + "\n</body>\n</html>\n"
    )


def home_body(packages: Sequence[ReleaseInfo], *, links: Links) -> str:
    """The catalog home page: one entry per package."""
    items = "".join(
        f'<li><a href="{escape(links.page(r.package))}">{escape(r.title)}</a>'
        f" (version {escape(r.version)})</li>"
        for r in packages
    )
    return (
        "<h1>Open data catalog</h1>"
        "<p>Validated, versioned and citable data packages.</p>"
        f"<ul>{items}</ul>"
        f'<p>API: <a href="{escape(links.docs())}">docs</a> · '
        f'<a href="{escape(links.packages())}">{escape(PATHS.packages())}</a> · '
        f'<a href="{escape(links.catalog_page("jsonld"))}">DCAT</a> · '
        f'<a href="{escape(links.data_json())}">data.json</a></p>'
    )


def dataset_body(releases: Sequence[ReleaseInfo], *, links: Links, citation: str) -> str:
    """A package page: description, releases, resources with downloads, citation."""
    latest = releases[-1]
    package, version = latest.package, latest.version
    resources = "".join(
        f"<tr><td><code>{escape(r.name)}</code></td><td>{escape(r.title or '')}</td>"
        f"<td>{r.row_count:,}</td>"
        f'<td><a href="{escape(links.rows(package, version, r.name, "csv"))}">CSV</a> · '
        f'<a href="{escape(links.rows(package, version, r.name, "json"))}">JSON</a></td></tr>'
        for r in latest.resources
    )
    versions = "".join(
        f"<tr><td>{escape(r.version)}</td>"
        f"<td>{escape(r.published.isoformat() if r.published else '')}</td>"
        f"<td>{escape(r.changelog or '')}</td>"
        f'<td><a href="{escape(links.zip(r.package, r.version))}">zip</a></td></tr>'
        for r in reversed(releases)
    )
    licences = ", ".join(
        f'<a href="{escape(url)}">{escape(label)}</a>' if url else escape(label)
        for label, url in latest.licences
    )
    description = escape(str(latest.descriptor.get("description") or ""))
    return (
        f"<h1>{escape(latest.title)}</h1>"
        f"<p>Version {escape(latest.version)} · Licence: {licences}</p>"
        f"<p>{description}</p>"
        "<h2>Resources</h2><table><tr><th>name</th><th>title</th><th>rows</th>"
        f"<th>download</th></tr>{resources}</table>"
        "<h2>Releases</h2><table><tr><th>version</th><th>published</th><th>changes</th>"
        f"<th>download</th></tr>{versions}</table>"
        f"<h2>Cite</h2><p>{escape(citation)}</p>"
        f'<p><a href="{escape(links.descriptor(package, version))}">datapackage.json</a></p>'
    )

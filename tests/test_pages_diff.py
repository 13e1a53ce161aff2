"""The page of what changed between two releases, checked against the API's diff (both backends).

The page reads the same diff engine as `/v1/datasets/{package}/diff`; every change the API lists
must be on the page, with its old and new values side by side.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from markupsafe import escape

from tests.helpers import FLAGSHIP

pytestmark = pytest.mark.anyio

PAGE = f"/datasets/{FLAGSHIP}/diff"
API = f"/v1/datasets/{FLAGSHIP}/diff"
ENTRY = re.compile(
    r'<tbody class="change change-(\w+)">\s*<tr><th scope="rowgroup"[^>]*><a href="([^"]+)">'
    r"([^<]+)</a>(.*?)</tbody>",
    re.S,
)


def entries(page: str) -> dict[str, tuple[str, str, str]]:
    """Each change on the page by its key: (diff type, row page link, the entry's cells)."""
    return {key: (kind, href, cells) for kind, href, key, cells in ENTRY.findall(page)}


def text(value: Any) -> str:
    """A value as the page writes it, escaped as the templates escape it."""
    return str(escape(str(value)))


async def both(client: httpx.AsyncClient, params: dict[str, str]) -> tuple[str, dict[str, Any]]:
    page = await client.get(PAGE, params=params)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    api = await client.get(API, params=params)
    assert api.status_code == 200
    return page.text, api.json()


async def test_every_row_change_of_the_api_is_on_the_page_side_by_side(
    client: httpx.AsyncClient,
) -> None:
    params = {"from": "1.2.0", "to": "1.3.0", "resource": "figures", "_size": "1000"}
    page, api = await both(client, params)
    shown = entries(page)
    assert len(shown) == len(api["rows"]) > 0
    kinds = {record["diff_type"] for record in api["rows"]}
    assert kinds == {"added", "changed"}
    for record in api["rows"]:
        key = record["key"]["figure_id"]
        kind, href, cells = shown[key]
        assert kind == record["diff_type"]
        version = "1.2.0" if kind == "removed" else "1.3.0"
        assert href == f"http://testserver/datasets/{FLAGSHIP}/{version}/figures/{key}"
        values = {k: v for k, v in record.items() if k.startswith(("from_", "to_"))}
        for name, value in values.items():
            # A row added or removed lists the fields it has a value in; a change lists all.
            if value is None and kind != "changed":
                continue
            field = name.split("_", 1)[1]
            assert f"<code>{field}</code>" in cells, (key, field)
            if value is not None:
                assert text(value) in cells, (key, name)
        if kind == "changed":
            # Old and new values side by side, in the order of the columns.
            for field in {n.split("_", 1)[1] for n in values}:
                line = cells[cells.index(f"<code>{field}</code>") :]
                before = line.index('class="before"')
                after = line.index('class="after"')
                assert before < after
                old, new = record[f"from_{field}"], record[f"to_{field}"]
                if old is not None:
                    assert line.index(text(old), before) < after
                if new is not None:
                    assert text(new) in line[after:]
    added = next(r for r in api["rows"] if r["diff_type"] == "added")
    assert "not in 1.2.0" in shown[added["key"]["figure_id"]][2]


async def test_schema_changes_and_counts_match_the_api(client: httpx.AsyncClient) -> None:
    page, api = await both(client, {"from": "1.2.0", "to": "1.3.0"})
    assert api["schema_changes"]
    for change in api["schema_changes"]:
        assert f'<th scope="row">{text(change["message"])}</th>' in page
    for resource in api["resources"]:
        row = page[page.index(f">{resource['name']}</a></th>") :]
        row = row[: row.index("</tr>")]
        if resource["rows"] is None:
            assert "not compared" in row
            continue
        numbers = re.findall(r'<td class="num">([\d,]+)</td>', row)
        counts = resource["rows"]
        expected = [counts[k] for k in ("added", "removed", "changed", "unchanged")]
        assert [int(n.replace(",", "")) for n in numbers] == expected, resource["name"]
    assert f"<strong>{api['required_bump']}</strong>" in page


async def test_a_metadata_release_shows_its_edits_and_no_row_change(
    client: httpx.AsyncClient,
) -> None:
    page, api = await both(client, {"from": "1.3.0", "to": "1.3.1"})
    assert api["required_bump"] == "patch" and api["declared_bump"] == "patch"
    messages = [c["message"] for c in api["schema_changes"]]
    assert "'views' of the package edited" in messages
    for message in messages:
        assert text(message) in page
    assert entries(page) == {}
    assert "No row was added, removed or changed." in page
    # The long values (the description, the views) are folded behind their first words.
    assert "<details><summary>" in page and "running-totals" in page


async def test_pages_of_changes_follow_the_api_pages(client: httpx.AsyncClient) -> None:
    params = {"from": "1.2.0", "to": "1.3.0", "_size": "7"}
    page, api = await both(client, params)
    assert list(entries(page)) == [next(iter(r["key"].values())) for r in api["rows"]]
    following = re.search(r'<a href="http://testserver([^"]+)" rel="next">', page)
    assert following and api["next"]
    second = await client.get(following.group(1).replace("&amp;", "&"))
    api_second = (await client.get(API, params={**params, "_next": api["next"]})).json()
    keys = [",".join(str(v) for v in r["key"].values()) for r in api_second["rows"]]
    assert [k.replace(", ", ",") for k in entries(second.text)] == keys
    assert "First changes" in second.text


async def test_the_release_list_links_what_changed(client: httpx.AsyncClient) -> None:
    package = (await client.get(f"/datasets/{FLAGSHIP}")).text
    pairs = [("1.0.0", "1.1.0"), ("1.1.0", "1.2.0"), ("1.2.0", "1.3.0"), ("1.3.0", "1.3.1")]
    for older, newer in pairs:
        link = f"http://testserver{PAGE}?from={older}&amp;to={newer}"
        assert f'<a href="{link}">what changed</a>' in package
        assert (await client.get(link.replace("&amp;", "&"))).status_code == 200
    diff = (await client.get(PAGE, params={"from": "1.3.0", "to": "1.3.1"})).text
    assert f'href="http://testserver{API}?from=1.3.0&amp;to=1.3.1"' in diff


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"from": "1.2.0"}, 400, "to is required"),
        ({}, 400, "from is required"),
        ({"from": "9.9.9", "to": "1.3.0"}, 404, "9.9.9"),
        ({"from": "1.2.0", "to": "1.3.0", "resource": "nope"}, 404, "nope"),
        ({"from": "1.2.0", "to": "1.3.0", "_next": "bogus"}, 400, "_next"),
        ({"from": "1.2.0", "to": "1.3.0", "_size": "many"}, 400, "_size"),
    ],
)
async def test_a_bad_diff_query_is_a_page_not_json(
    client: httpx.AsyncClient, params: dict[str, str], status: int, words: str
) -> None:
    response = await client.get(PAGE, params=params)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert "<main" in response.text and words in response.text


async def test_pinned_diff_pages_are_cached_and_answer_head(client: httpx.AsyncClient) -> None:
    url = f"{PAGE}?from=1.2.0&to=1.3.0"
    first = await client.get(url)
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    again = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    head = await client.head(url)
    assert (head.status_code, head.content, head.headers["etag"]) == (
        200,
        b"",
        first.headers["etag"],
    )
    api = await client.get(f"{API}?from=1.2.0&to=1.3.0")
    assert api.headers["etag"] != first.headers["etag"]
    latest = await client.get(f"{PAGE}?from=1.3.0&to=latest")
    assert latest.status_code == 200 and "immutable" not in latest.headers["cache-control"]
    assert "What changed from 1.3.0 to 1.3.1" in latest.text

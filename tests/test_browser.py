"""The pages in a real browser: Debian's Chromium, driven by Playwright, against `opendata serve`.

Skipped, saying why, where Chromium, the Playwright package or axe-core is missing; CI installs
all three (`.ci/run`). Screenshots at 1280 and 390 px go to `tests/artefacts/browser/`.
"""

from __future__ import annotations

import csv
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.db.engine import writer_engine
from api.ingest.discover import find_releases
from api.ingest.load import ReleaseLoader
from tests.helpers import DATASETS, FLAGSHIP, ROOT
from tests.test_pages import CHARTS, LATEST, TALLY, charted_figures

CHROMIUM = Path(os.environ.get("OPENDATA_CHROMIUM", "/usr/bin/chromium"))
AXE = Path(
    os.environ.get(
        "OPENDATA_AXE_JS", ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
    )
)
ARTEFACTS = ROOT / "tests" / "artefacts" / "browser"
WIDTHS = (1280, 390)
START_TIMEOUT = 30.0

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None

REQUIRED = os.environ.get("OPENDATA_BROWSER_TESTS") == "required"  # CI: a missing part fails


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if sync_playwright is None:
        return "the playwright package is not installed"
    return None


def _missing_axe() -> str | None:
    return None if AXE.exists() else f"axe-core not found at {AXE} (npm install axe-core)"


def _skip_or_fail(reason: str | None) -> None:
    """Skip, saying why, where a part is missing; fail instead where CI requires the tests."""
    if reason:
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module", autouse=True)
def _browser_parts() -> None:
    _skip_or_fail(_missing())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`opendata serve` on a free port, serving the flagship and the chart fixture package."""
    database = tmp_path_factory.mktemp("browser") / "opendata.sqlite"
    url = f"sqlite:///{database}"
    engine = writer_engine(url)
    loader = ReleaseLoader(engine, quiet=True)
    for folder in (DATASETS, CHARTS):
        assert loader.load_all(find_releases(folder)).ok
    engine.dispose()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "OPENDATA_DATABASE_URL": url, "OPENDATA_BASE_URL": base}
    command = [str(Path(sys.executable).with_name("opendata")), "serve", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "opendata serve did not start"
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert sync_playwright is not None
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page that records every console error (a CSP violation is one)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    opened.errors = errors  # type: ignore[attr-defined]
    yield opened
    context.close()


def screenshots(page: Page, name: str) -> None:
    """Full-page screenshots at each width; the page never scrolls sideways."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTEFACTS / f"{name}-{width}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (name, width, overflow)
    page.set_viewport_size({"width": 1280, "height": 900})


PAGES = {
    "catalog": "/",
    "package": f"/datasets/{FLAGSHIP}",
    "chart-package": "/datasets/tally",
    "table": f"/datasets/{FLAGSHIP}/1.3.0/figures?metric=foreigners_deported&nationality=KR",
    "row": f"/datasets/{FLAGSHIP}/1.3.0/reports/freshnews_20251018",
    "embed": "/embed/tally/running-totals",
    "flagship-embed": f"/embed/{FLAGSHIP}/running-totals",
    "diff": f"/datasets/{FLAGSHIP}/diff?from=1.2.0&to=1.3.0&resource=figures",
    "diff-metadata": f"/datasets/{FLAGSHIP}/diff?from=1.3.0&to=1.3.1",
    "not-found": "/datasets/no-such-package",
}


@pytest.mark.parametrize("name", PAGES)
def test_pages_load_without_errors_and_fit_a_phone(site: str, page: Page, name: str) -> None:
    response = page.goto(site + PAGES[name])
    assert response is not None
    assert response.status == (404 if name == "not-found" else 200)
    assert page.locator("main").count() == 1
    errors = page.errors  # type: ignore[attr-defined]
    if name == "not-found":  # the browser reports the page's own 404 status
        errors = [e for e in errors if "404" not in e]
    assert errors == []
    screenshots(page, name)


def test_chart_has_one_titled_marker_per_figure(site: str, page: Page) -> None:
    page.goto(f"{site}/datasets/tally")
    with (TALLY / "data" / "totals.csv").open(encoding="utf-8") as handle:
        expected = [r for r in csv.DictReader(handle) if r["scope"] == "cumulative"]
    markers = page.locator("svg.chart a.marker")
    assert markers.count() == len(expected)
    titles = page.locator("svg.chart a.marker title").all_text_contents()
    assert len(titles) == len(expected) and all("as of" in t for t in titles)
    assert page.locator("svg.chart a.marker-ring").count() == sum(
        r["qualifier"] == "approximately" for r in expected
    )
    markers.first.click()
    assert "/datasets/tally/1.0.0/totals/" in page.url


def test_flagship_chart_draws_every_charted_figure(site: str, page: Page) -> None:
    page.goto(f"{site}/datasets/{FLAGSHIP}")
    expected = charted_figures()
    markers = page.locator("svg.chart a.marker")
    assert markers.count() == len(expected) > 0
    titles = page.locator("svg.chart a.marker title").all_text_contents()
    assert all("as of" in t and "source:" in t for t in titles)
    for qualifier, shape in (("approximately", "ring"), ("more_than", "up"), ("exact", "dot")):
        drawn = page.locator(f"svg.chart a.marker-{shape}").count()
        assert drawn == sum(r["qualifier"] == qualifier for r in expected) > 0, qualifier
    markers.first.click()
    assert f"/datasets/{FLAGSHIP}/{LATEST.name}/figures/" in page.url


def test_filter_form_lands_on_the_api_query_and_its_csv_has_the_rows(site: str, page: Page) -> None:
    page.goto(f"{site}/datasets/{FLAGSHIP}/1.3.0/figures")
    page.locator("form.filters details summary").click()
    page.fill("#v-metric", "foreigners_deported")
    page.fill("#v-nationality", "KR")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    query = "metric=foreigners_deported&nationality=KR"
    assert page.url == f"{site}/datasets/{FLAGSHIP}/1.3.0/figures?{query}"
    shown = page.locator("table.rows tbody th[scope=row]").all_text_contents()
    href = page.get_by_role("link", name="CSV", exact=True).get_attribute("href")
    assert href == f"{site}/v1/datasets/{FLAGSHIP}/1.3.0/figures.csv?{query}"
    download = page.request.get(href)
    rows = list(csv.DictReader(download.text().splitlines()))
    assert sorted(r["figure_id"] for r in rows) == sorted(shown) and shown


def test_what_changed_opens_the_diff_page_of_the_release(site: str, page: Page) -> None:
    page.goto(f"{site}/datasets/{FLAGSHIP}")
    release = page.locator("#releases tr").filter(
        has=page.locator("th", has_text=re.compile(r"^1\.3\.0$"))
    )
    release.get_by_role("link", name="what changed").click()
    page.wait_for_load_state()
    assert page.url == f"{site}/datasets/{FLAGSHIP}/diff?from=1.2.0&to=1.3.0"
    assert page.locator("h1").inner_text() == "What changed from 1.2.0 to 1.3.0"
    page.get_by_role("link", name="figures", exact=True).first.click()
    page.wait_for_load_state()
    assert page.url.endswith("diff?from=1.2.0&to=1.3.0&resource=figures")
    assert page.locator("tbody.change-changed td.before").count() > 0
    assert page.locator("tbody.change-added").count() > 0


def test_copy_button_is_shown_by_the_script(site: str, page: Page) -> None:
    page.goto(f"{site}/datasets/{FLAGSHIP}")
    assert page.locator("button.copy").first.is_visible()


@pytest.mark.parametrize("name", PAGES)
def test_axe_finds_no_serious_violations(site: str, browser: Browser, name: str) -> None:
    _skip_or_fail(_missing_axe())
    # axe is injected as a script element, which the pages' CSP rightly refuses: bypass it here.
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(site + PAGES[name])
        page.add_script_tag(path=str(AXE))
        result: dict[str, Any] = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    finally:
        context.close()
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []

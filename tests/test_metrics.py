"""Prometheus metrics at /metrics: route templates, rows and bytes per format, timeouts, loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from api.db.engine import reader_engine, time_limited
from api.errors import QueryTimeout
from tests.builders import field, write_release
from tests.helpers import DATASETS, FLAGSHIP
from tests.serve_process import opendata_serve
from tests.test_time_limit import LONG

ROWS_ROUTE = "/v1/datasets/{package}/{version}/{resource}"
PAGE = f"/v1/datasets/{FLAGSHIP}/1.2.0/figures"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, keyed by (sample name, labels)."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value, 0 when the series does not exist yet."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


@pytest.mark.anyio
async def test_requests_are_counted_per_route_template(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    for size in (1, 2, 3):
        assert (await client.get(PAGE, params={"_size": size})).status_code == 200
    assert (await client.get(f"/v1/datasets/{FLAGSHIP}/9.9.9/figures")).status_code == 404
    assert (await client.get("/no/such/path")).status_code == 404
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ok = {"method": "GET", "route": ROWS_ROUTE, "status": "200"}
    assert delta("opendata_http_requests_total", **ok) == 3
    assert delta("opendata_http_requests_total", **{**ok, "status": "404"}) == 1
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert delta("opendata_http_requests_total", **unmatched) == 1
    timed = {"method": "GET", "route": ROWS_ROUTE}
    assert delta("opendata_http_request_duration_seconds_count", **timed) == 4
    assert delta("opendata_http_request_duration_seconds_bucket", **timed, le="+Inf") == 4
    assert delta("opendata_rows_served_total", format="json") == 1 + 2 + 3
    routes = {dict(labels).get("route") for _, labels in after}
    assert not any(FLAGSHIP in str(route) for route in routes), "a raw path became a label"


@pytest.mark.anyio
async def test_head_and_refused_requests_are_counted_too(client: httpx.AsyncClient) -> None:
    """HEAD is counted as HEAD under its route; a request refused at the edge is counted."""
    before = await scrape(client)
    head = await client.head(PAGE)
    refused = await client.get(PAGE, params=[(f"p{n}", "1") for n in range(101)])
    after = await scrape(client)
    assert (head.status_code, head.content, refused.status_code) == (200, b"", 400)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("opendata_http_requests_total", method="HEAD", route=ROWS_ROUTE, status="200") == 1
    refused_labels = {"method": "GET", "route": "<unmatched>", "status": "400"}
    assert delta("opendata_http_requests_total", **refused_labels) == 1


@pytest.mark.anyio
async def test_rows_and_bytes_per_format(client: httpx.AsyncClient) -> None:
    params = {"metric": "suspects_detained", "_sort": "as_of"}
    before = await scrape(client)
    csv = await client.get(f"{PAGE}.csv", params=params, headers={"Accept-Encoding": "gzip"})
    ndjson = await client.get(f"{PAGE}.ndjson", params=params)
    whole = await client.get(f"{PAGE}.csv")
    workbook = await client.get(f"{PAGE}.xlsx", params=params)
    assert workbook.status_code == 200
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    filtered_rows = len(ndjson.text.splitlines())
    assert filtered_rows > 0
    whole_rows = len(whole.text.splitlines()) - 1  # the header
    assert delta("opendata_rows_served_total", format="ndjson") == filtered_rows
    assert delta("opendata_rows_served_total", format="csv") == filtered_rows + whole_rows
    assert delta("opendata_rows_served_total", format="xlsx") == filtered_rows
    # Bytes are counted as sent: the CSV went out gzipped, its count is the compressed body's.
    assert csv.headers["content-encoding"] == "gzip"
    assert csv.num_bytes_downloaded < len(csv.content)
    assert delta("opendata_response_bytes_total", format="csv") == (
        csv.num_bytes_downloaded + whole.num_bytes_downloaded
    )
    assert delta("opendata_response_bytes_total", format="ndjson") == ndjson.num_bytes_downloaded


@pytest.mark.anyio
async def test_query_timeouts_are_counted(
    client: httpx.AsyncClient, backend: str, flagship_url: str
) -> None:
    before = await scrape(client)
    engine = reader_engine(flagship_url)
    try:
        with engine.connect() as connection, pytest.raises(QueryTimeout):
            with time_limited(connection, 0.1):
                connection.exec_driver_sql(LONG[backend]).all()
    finally:
        engine.dispose()
    after = await scrape(client)
    assert value(after, "opendata_query_timeouts_total") - value(
        before, "opendata_query_timeouts_total"
    ) == 1


@pytest.mark.anyio
async def test_loads_are_counted(
    client: httpx.AsyncClient, backend: str, make_database: Any, tmp_path: Path
) -> None:
    from api.db.engine import writer_engine
    from api.ingest.discover import find_releases
    from api.ingest.load import ReleaseLoader

    schema = {"fields": [field("id", "integer")], "primaryKey": ["id"]}
    datasets = tmp_path / "datasets"
    write_release(datasets, "counted", "1.0.0", {"things": (schema, "id\n1\n2\n3\n")})
    before = await scrape(client)
    engine: sa.Engine = writer_engine(make_database(backend))
    try:
        ReleaseLoader(engine, quiet=True).load_all(find_releases(datasets))
        ReleaseLoader(engine, quiet=True).load_all(find_releases(datasets))  # already there
    finally:
        engine.dispose()
    after = await scrape(client)
    labels = {"package": "counted"}
    assert value(after, "opendata_rows_loaded_total", **labels) - value(
        before, "opendata_rows_loaded_total", **labels
    ) == 3
    assert value(after, "opendata_load_duration_seconds_count", **labels) - value(
        before, "opendata_load_duration_seconds_count", **labels
    ) == 1


@pytest.mark.slow
def test_workers_share_one_exposition(flagship_url: str, tmp_path: Path) -> None:
    """With several workers every scrape sums all of them, whichever worker answers it."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"samples of an earlier run")  # must be cleared
    requests = 12
    env = {"PROMETHEUS_MULTIPROC_DIR": str(folder)}
    with opendata_serve(flagship_url, datasets_dir=DATASETS, workers=2, env=env) as server:
        for _ in range(requests):
            # A new connection each time, so that any worker may answer.
            assert httpx.get(f"{server.url}{PAGE}", params={"_size": 1}).status_code == 200
        scrapes = [parse(httpx.get(f"{server.url}/metrics").text) for _ in range(4)]
        writers = {path.stem.rsplit("_", 1)[1] for path in folder.glob("counter_*.db")}
    assert "1" not in writers
    assert len(writers) == 2, f"expected one sample file per worker, got {sorted(writers)}"
    ok = {"method": "GET", "route": ROWS_ROUTE, "status": "200"}
    for samples in scrapes:
        assert value(samples, "opendata_http_requests_total", **ok) == requests
        assert value(samples, "opendata_rows_served_total", format="json") == requests


def test_load_writes_a_textfile(tmp_path: Path) -> None:
    """`opendata load --metrics-file` leaves the one-shot job's metrics for a textfile collector."""
    from typer.testing import CliRunner

    from api.cli import app

    schema = {"fields": [field("id", "integer")], "primaryKey": ["id"]}
    datasets = tmp_path / "datasets"
    write_release(datasets, "textfile", "1.0.0", {"things": (schema, "id\n1\n2\n")})
    target = tmp_path / "opendata_load.prom"
    database = f"sqlite:///{tmp_path / 'load.sqlite'}"
    arguments = ["load", "--quiet", "--database-url", database, "--datasets", str(datasets)]
    done = CliRunner().invoke(app, [*arguments, "--metrics-file", str(target)])
    assert done.exit_code == 0, done.output
    samples = parse(target.read_text(encoding="utf-8"))
    assert value(samples, "opendata_rows_loaded_total", package="textfile") == 2
    assert value(samples, "opendata_load_duration_seconds_count", package="textfile") == 1


def test_rows_are_counted_in_steps_and_at_the_end() -> None:
    """Counted a thousand at a time, and the rest when the stream ends or is closed early."""
    from api.obs.metrics import REGISTRY, count_rows

    def served() -> float:
        return REGISTRY.get_sample_value("opendata_rows_served_total", {"format": "test"}) or 0.0

    before = served()
    assert sum(1 for _ in count_rows("test", range(2503))) == 2503
    assert served() - before == 2503
    stream = count_rows("test", range(10_000))
    for _ in range(1500):
        next(stream)
    stream.close()  # a client that went away
    assert served() - before == 2503 + 1500

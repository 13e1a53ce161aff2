"""Mixed traffic against `opendata serve --workers 2`: every answer counted by status.

wrk plays a seeded list of URLs through bench/mixed.lua (pages with random filters, exports,
one-row lookups, metadata, the CKAN API, HTML pages, diffs, citations) for 60 s at 64
connections, on the flagship package and on the 1,000,000-row synthetic release, each in its own
SQLite file. Any answer that is neither 2xx nor 3xx is counted by status; the URLs the server
answered with a 4xx or 5xx are taken from its access log, and the distinct URLs are replayed one
by one with httpx to record each one's status. Exits 1 on any 5xx or socket error. The results go
to the `## Mixed traffic` section of bench/RESULTS.md.

    .venv/bin/python bench/load_test.py                   # both packages, 60 s each
    .venv/bin/python bench/load_test.py --quick           # 10 s each, nothing written
    .venv/bin/python bench/load_test.py --target flagship --duration 30 --connections 32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
from common import (
    OUT,
    ROOT,
    VENV_BIN,
    machine,
    run_measured,
    section_begin,
    section_end,
    sqlite_url,
    write_release,
    write_section,
)
from mixed_urls import Catalog, mixed_urls
from serve_databases import DEFAULT_ROWS, datasets_dir
from serve_servers import Server, free_port, running
from workload import Played, play, write_urls

RESULTS = ROOT / "bench" / "RESULTS.md"
FOLDER = OUT / "load-test"
ACCESS_LOGGER = "opendata.access"
REPLAY_CONCURRENCY = 8
REPLAY_PER_CLASS = 60


@dataclass(frozen=True)
class Target:
    """One package served from its own SQLite file."""

    name: str
    label: str
    datasets: Path
    database: Path


@dataclass
class Outcome:
    """One target's wrk run, the failures the server logged and the replay of its URLs."""

    target: Target
    played: Played
    urls: list[tuple[str, str]]
    logged: Counter[tuple[str, int]]
    samples: dict[tuple[str, int], list[str]]
    replayed: Counter[tuple[str, int]] | None = None
    replay_ms: dict[str, list[float]] | None = None


def targets(rows: int) -> dict[str, Target]:
    """The flagship (every release in datasets/) and the synthetic release of `rows` rows."""
    return {
        "flagship": Target("flagship", "cambodia-scam-crackdown (3 releases)", ROOT / "datasets",
                           OUT / "db" / "load-test-flagship.sqlite"),
        "synthetic": Target("synthetic", f"bench-synthetic 1.0.0 ({rows:,} rows)",
                            datasets_dir(rows), OUT / "db" / f"load-test-synthetic-{rows}.sqlite"),
    }


def load(target: Target) -> None:
    """`opendata load` into the target's file (a no-op when it is loaded already)."""
    target.database.parent.mkdir(parents=True, exist_ok=True)
    run = run_measured([VENV_BIN / "opendata", "load", "--quiet", "--datasets", target.datasets,
                        "--database-url", sqlite_url(str(target.database))])
    if run.returncode != 0:
        raise SystemExit(f"opendata load failed:\n{run.stdout}\n{run.stderr[-4000:]}")


def server(target: Target, workers: int) -> Server:
    """`opendata serve --workers N` on the target's file."""
    port = free_port()
    return Server(
        name=f"opendata-{target.name}",
        argv=[str(VENV_BIN / "opendata"), "serve", "--port", str(port), "--workers", str(workers)],
        env={**os.environ, "OPENDATA_DATABASE_URL": sqlite_url(str(target.database)),
             "OPENDATA_DATASETS_DIR": str(target.datasets),
             "OPENDATA_BASE_URL": f"http://127.0.0.1:{port}"},
        port=port, ready="/readyz", page="", total_key="", exports=(),
    )


def access_entries(log: Path) -> list[tuple[str, int]]:
    """The URL and status of every answer in the server's access log, read once."""
    found = (_access_entry(line) for line in log.read_text(errors="replace").splitlines())
    return [entry for entry in found if entry is not None]


def logged_failures(
    entries: list[tuple[str, int]], classes: dict[str, str]
) -> tuple[Counter[tuple[str, int]], dict[tuple[str, int], list[str]]]:
    """4xx and 5xx answers of the access log, by URL class and status, with samples."""
    counts: Counter[tuple[str, int]] = Counter()
    samples: dict[tuple[str, int], list[str]] = {}
    for url, status in entries:
        if status < 400:
            continue
        key = (classes.get(_normal(url), "unknown"), status)
        counts[key] += 1
        if len(samples.setdefault(key, [])) < 5 and url not in samples[key]:
            samples[key].append(url)
    return counts, samples


def _access_entry(line: str) -> tuple[str, int] | None:
    """The URL (path and query) and status of one JSON access line of the server, if it is one."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict) or entry.get("logger") != ACCESS_LOGGER:
        return None
    query = entry.get("query") or ""
    return f"{entry['path']}?{query}" if query else str(entry["path"]), int(entry["status"])


def _normal(path: str) -> str:
    """A path as the access log and the URL list both reduce to (percent-decoded)."""
    from urllib.parse import unquote

    return unquote(path)


def replay_list(
    urls: list[tuple[str, str]], logged: dict[tuple[str, int], list[str]], per_class: int
) -> list[tuple[str, str]]:
    """The URLs the server failed on, then the first `per_class` distinct URLs of each class."""
    picked = [(label, path) for (label, _), paths in logged.items() for path in paths]
    taken: Counter[str] = Counter()
    for label, path in dict.fromkeys(urls):
        if taken[label] < per_class:
            taken[label] += 1
            picked.append((label, path))
    return list(dict.fromkeys(picked))


async def replay(
    base_url: str, urls: list[tuple[str, str]], out: Path
) -> tuple[Counter[tuple[str, int]], dict[str, list[float]]]:
    """Fetch each URL once (8 at a time, uncompressed like wrk); write `class status ms url`."""
    distinct = list(dict.fromkeys(urls))
    statuses: Counter[tuple[str, int]] = Counter()
    times: dict[str, list[float]] = {}
    lines: list[str] = []
    gate = asyncio.Semaphore(REPLAY_CONCURRENCY)
    async with httpx.AsyncClient(base_url=base_url, timeout=120,
                                 headers={"Accept-Encoding": "identity"}) as client:  # as wrk

        async def one(label: str, path: str) -> None:
            async with gate:
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                    status = response.status_code
                    if status >= 400:
                        path = f"{path} ({_problem(response)})"
                except httpx.HTTPError as error:
                    status, path = 0, f"{path} ({type(error).__name__})"
                ms = (time.perf_counter() - started) * 1000
                statuses[(label, status)] += 1
                times.setdefault(label, []).append(ms)
                lines.append(f"{label}\t{status}\t{ms:.0f}\t{path}\n")

        await asyncio.gather(*(one(label, path) for label, path in distinct))
    out.write_text("".join(sorted(lines)))
    return statuses, times


def _problem(response: httpx.Response) -> str:
    """The `type` and `detail` of a problem+json answer, or its first bytes."""
    try:
        body = response.json()
        return f"{body.get('type')}: {body.get('detail')}"
    except ValueError:
        return response.text[:200]


def run_target(target: Target, args: argparse.Namespace) -> Outcome:
    """Load, generate the URLs, serve, play them with wrk; replay them when anything failed."""
    load(target)
    urls = mixed_urls(Catalog.read(target.database), count=args.urls, seed=args.seed)
    urls = [(label, path) for label, path in urls if label not in args.skip]
    url_file = write_urls(FOLDER / f"{target.name}.urls", urls)
    classes = {_normal(path): label for label, path in urls}
    srv = server(target, args.workers)
    log = OUT / "logs" / f"{srv.name.lower()}.log"
    with running(srv):
        played = play(srv.url(""), url_file, seconds=args.duration,
                      connections=args.connections, threads=args.threads, timeout=args.timeout)
        print(f"{target.label}: {played.requests:,} requests, {played.rps:,.1f} req/s,"
              f" p50 {played.p50_ms:.1f} ms, p99 {played.p99_ms:.1f} ms; non-2xx/3xx:"
              f" {played.failed_text()}; socket errors: {played.socket_text()}", flush=True)
        entries = access_entries(log)
        logged, samples = logged_failures(entries, classes)
        played = replace(played, statuses=dict(Counter(status for _, status in entries)))
        if sum(played.failed.values()) != played.errors["status"]:
            print(f"  the access log counts {sum(played.failed.values()):,} non-2xx/3xx answers,"
                  f" wrk {played.errors['status']:,}", flush=True)
        outcome = Outcome(target, played, urls, logged, samples)
        if played.failed or played.socket_errors or args.replay:
            picked = replay_list(urls, samples, args.replay_per_class)
            outcome.replayed, outcome.replay_ms = asyncio.run(
                replay(srv.url(""), picked, FOLDER / f"{target.name}-replay.tsv"))
    return outcome


# Reporting ---------------------------------------------------------------------------------------


def _counts(counter: Counter[tuple[str, int]], *, failures: bool) -> str:
    keys = [k for k in sorted(counter) if not failures or not 200 <= k[1] < 400]
    return "; ".join(f"{label} {status}: {counter[(label, status)]:,}" for label, status in keys)


def _times(times: dict[str, list[float]]) -> str:
    return ", ".join(f"{label} {statistics.median(ms):,.0f} / {max(ms):,.0f}"
                     for label, ms in sorted(times.items()))


def report(outcomes: list[Outcome], args: argparse.Namespace, command: str) -> str:
    """The generated part of the `## Mixed traffic` section."""
    info = machine()
    lines = [
        section_begin("Mixed traffic"),
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on commit `{info['code']}` with"
        f" `{command}`: `opendata serve --workers {args.workers}` on 127.0.0.1, one SQLite file"
        f" per package, `wrk -t{args.threads} -c{args.connections} -d{args.duration}s"
        f" --timeout={args.timeout}` with bench/mixed.lua over {args.urls:,} seeded URLs"
        f" (seed {args.seed}).",
        "",
        f"Machine: {info['cpu']}, nproc {info['nproc']}, {info['memory']} RAM, {info['os']},"
        f" Python {info['python']}, sqlite3 {info['sqlite3']}. Server and wrk share the machine;"
        f" load average (1, 5, 15 min) at the end of the run: {info['load']}.",
        "",
        "| package | requests | req/s | p50 ms | p99 ms | max ms | non-2xx/3xx by status |"
        " socket errors |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for o in outcomes:
        p = o.played
        lines.append(f"| {o.target.label} | {p.requests:,} | {p.rps:,.1f} | {p.p50_ms:,.1f} |"
                     f" {p.p99_ms:,.1f} | {p.max_ms:,.0f} | {p.failed_text()} |"
                     f" {p.socket_text()} |")
    lines += ["", "The URL lists, by class (share of the list, distinct URLs):", ""]
    for o in outcomes:
        shares = Counter(label for label, _ in o.urls)
        distinct = Counter(label for label, _ in set(o.urls))
        mix = ", ".join(f"{label} {n / len(o.urls):.0%} ({distinct[label]:,})"
                        for label, n in sorted(shares.items()))
        lines.append(f"- {o.target.label}: {mix}.")
    lines.append("")
    for o in outcomes:
        logged = _counts(o.logged, failures=True) or "none"
        lines.append(f"- {o.target.label}, 4xx/5xx in the server's access log, by class: {logged}.")
        for (label, status), urls in sorted(o.samples.items()):
            lines.append(f"  - {label} {status}: " + ", ".join(f"`{u}`" for u in urls))
        if o.replayed is not None:
            failed = _counts(o.replayed, failures=True) or "none"
            lines.append(f"  - replay, {REPLAY_CONCURRENCY} at a time, of the logged failures and"
                         f" the first {args.replay_per_class} distinct URLs of each class"
                         f" ({sum(o.replayed.values()):,} URLs,"
                         f" bench/out/load-test/{o.target.name}-replay.tsv): failures {failed};"
                         " median / max ms by class: " + _times(o.replay_ms or {}) + ".")
    verdict = all(not o.played.server_errors and not o.played.socket_errors for o in outcomes)
    lines += ["", f"Target (no 5xx, no socket error): **{'met' if verdict else 'missed'}**.",
              section_end("Mixed traffic")]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("flagship", "synthetic", "both"), default="both")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows of the synthetic")
    parser.add_argument("--duration", type=int, default=60, help="seconds of wrk per package")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument("--timeout", default="30s", help="wrk's per-request timeout")
    parser.add_argument("--urls", type=int, default=20_000, help="entries in the URL list")
    parser.add_argument("--seed", type=int, default=20260312)
    parser.add_argument("--replay", action="store_true", help="replay the URLs even if none failed")
    parser.add_argument("--replay-per-class", type=int, default=REPLAY_PER_CLASS,
                        help="distinct URLs of each class in the replay")
    parser.add_argument("--skip", action="append", default=[], metavar="CLASS",
                        help="leave this URL class out (repeatable), to find what fails")
    parser.add_argument("--quick", action="store_true", help="10 s a package, nothing written")
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md untouched")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.no_write = 10, True
    return args


def main(argv: list[str]) -> int:
    """Run each target, print and record the results; 1 on any 5xx or socket error."""
    args = parse_args(argv)
    command = shlex.join(["python", "bench/load_test.py", *argv])
    chosen = targets(args.rows)
    names = ("flagship", "synthetic") if args.target == "both" else (args.target,)
    if "synthetic" in names:
        write_release(chosen["synthetic"].datasets, args.rows)
    outcomes = [run_target(chosen[name], args) for name in names]
    generated = report(outcomes, args, command)
    print()
    print(generated)
    if not args.no_write:
        write_section(RESULTS, "Mixed traffic", generated)
        print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    bad = any(o.played.server_errors or o.played.socket_errors for o in outcomes)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Time `opendata load` of a synthetic release against sqlite3 .import and frictionless.

Each contender runs as its own process on a fresh database; the wall time and the peak RSS of
that process are recorded, and the medians go to the `## Load` section of bench/RESULTS.md.

    .venv/bin/python bench/load.py                  # 1,000,000 rows, 3 runs each
    .venv/bin/python bench/load.py --quick          # 100,000 rows, 1 run, nothing written
    .venv/bin/python bench/load.py --profile        # cProfile of `opendata load`, top entries
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import (
    OUT,
    RESOURCE,
    ROOT,
    VENV_BIN,
    Run,
    SyntheticRelease,
    count_rows,
    machine,
    median,
    run_measured,
    scratch_postgres,
    section_begin,
    section_end,
    sqlite_file,
    sqlite_url,
    write_release,
    write_section,
)

RESULTS = ROOT / "bench" / "RESULTS.md"
DEFAULT_ROWS = 1_000_000
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PYTHON = VENV_BIN / "python"

FLOOR_TABLE = (
    f"CREATE TABLE {RESOURCE} (id INTEGER PRIMARY KEY, reported_on DATE, province TEXT,"
    " nationality TEXT, category TEXT, people INTEGER, sites INTEGER, note TEXT)"
)
PUBLISH = (
    "import sys, frictionless\n"
    "frictionless.Package(sys.argv[1]).publish(sys.argv[2])\n"
)
REPORT = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "from api.db.engine import writer_engine\n"
    "from api.ingest.discover import find_releases\n"
    "from api.ingest.load import ReleaseLoader\n"
    "engine = writer_engine(sys.argv[2])\n"
    "summary = ReleaseLoader(engine, quiet=True).load_all(find_releases(Path(sys.argv[1])))\n"
    "engine.dispose()\n"
    "print(json.dumps(summary.refused[0][2] if summary.refused else None))\n"
)
PHASES = (
    "import sys, time\n"
    "from collections import Counter\n"
    "started = time.perf_counter()\n"
    "import sqlalchemy as sa\n"
    "import api.ingest.load as load\n"
    "from api.cli import app\n"
    "spent = Counter({'start-up (imports)': time.perf_counter() - started})\n"
    "def timed(owner, name, label):\n"
    "    real = getattr(owner, name)\n"
    "    def wrapper(*args, **kwargs):\n"
    "        began = time.perf_counter()\n"
    "        try:\n"
    "            return real(*args, **kwargs)\n"
    "        finally:\n"
    "            spent[label] += time.perf_counter() - began\n"
    "    setattr(owner, name, wrapper)\n"
    "timed(load, 'validate_descriptor', 'descriptor and schema (frictionless)')\n"
    "timed(load, 'insert_rows', 'inserts (executemany / COPY)')\n"
    "timed(sa.Index, 'create', 'indexes, built after the rows')\n"
    "timed(load, 'store_file', 'file stored in chunks + sha256')\n"
    "timed(load.ReleaseLoader, '_load_resource', 'resource')\n"
    "timed(load.ReleaseLoader, '_load_rows', 'release')\n"
    "try:\n"
    "    app(['load', '--quiet', '--datasets', sys.argv[1], '--database-url', sys.argv[2]])\n"
    "except SystemExit as exc:\n"
    "    if exc.code:\n"
    "        raise\n"
    "total = time.perf_counter() - started\n"
    "resource, release = spent.pop('resource'), spent.pop('release')\n"
    "inside = ('inserts (executemany / COPY)', 'indexes, built after the rows',\n"
    "          'file stored in chunks + sha256')\n"
    "io = sum(spent[label] for label in inside)\n"
    "spent['read + cast (csv + frictionless cell readers)'] = resource - io\n"
    "spent['commit, registry, FK check'] = release - resource\n"
    "spent['other (CLI, discovery)'] = total - sum(spent.values())\n"
    "for label, seconds in spent.most_common():\n"
    "    print(f'| {label} | {seconds:.2f} | {100 * seconds / total:.0f} % |')\n"
    "print(f'| total | {total:.2f} | 100 % |')\n"
)
PROFILE = (
    "import sys\n"
    "from api.cli import app\n"
    "try:\n"
    "    app(['load', '--quiet', '--datasets', sys.argv[1], '--database-url', sys.argv[2]])\n"
    "except SystemExit as exc:\n"
    "    if exc.code:\n"
    "        raise\n"
)


@dataclass(frozen=True)
class Contender:
    """One way of getting the release into a database, run as a child process."""

    name: str
    argv: Callable[[SyntheticRelease, str], list[str]]
    database: Callable[[str], AbstractContextManager[str]]
    check: Callable[[SyntheticRelease, str, Run], None]


@dataclass
class Timings:
    """Every run of one contender."""

    contender: str
    runs: list[Run] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """Median wall time."""
        return median([r.seconds for r in self.runs])

    @property
    def peak_mb(self) -> float:
        """Largest peak RSS over the runs."""
        return max(r.peak_rss_mb for r in self.runs)


def datasets_dir(rows: int) -> Path:
    """Where the release of `rows` rows is written: bench/out/datasets for the default size."""
    return OUT / "datasets" if rows == DEFAULT_ROWS else OUT / f"rows-{rows}" / "datasets"


# Checks ------------------------------------------------------------------------------------------


def _fail(name: str, run: Run, why: str) -> None:
    raise SystemExit(f"{name}: {why}\n--- stdout\n{run.stdout[-2000:]}\n--- stderr\n"
                     f"{run.stderr[-4000:]}")


def _check_table(name: str) -> Callable[[SyntheticRelease, str, Run], None]:
    def check(release: SyntheticRelease, database: str, run: Run) -> None:
        if run.returncode != 0:
            _fail(name, run, f"exit status {run.returncode}")
        if (count := count_rows(database, RESOURCE)) != release.rows:
            _fail(name, run, f"{count} rows in the database, expected {release.rows}")

    return check


def _check_valid(release: SyntheticRelease, _database: str, run: Run) -> None:
    if run.returncode != 0 or not json.loads(run.stdout)["valid"]:
        _fail("frictionless validate", run, "the synthetic release is not valid")
    if json.loads(run.stdout)["tasks"][0]["stats"]["rows"] != release.rows:
        _fail("frictionless validate", run, "wrong row count")


def _check_loaded(release: SyntheticRelease, _database: str, run: Run) -> None:
    if run.returncode != 0 or f"{release.rows:,} rows" not in run.stdout:
        _fail("opendata load", run, "the release was not loaded")


# Contenders --------------------------------------------------------------------------------------


def _sqlite_import(release: SyntheticRelease, database: str) -> list[str]:
    return ["sqlite3", database, FLOOR_TABLE,
            f".import --csv --skip 1 {release.csv} {RESOURCE}"]


def _validate(release: SyntheticRelease, _database: str) -> list[str]:
    return [str(VENV_BIN / "frictionless"), "validate", "--json", str(release.descriptor)]


def _publish(release: SyntheticRelease, database: str) -> list[str]:
    return [str(PYTHON), "-c", PUBLISH, str(release.descriptor), sqlite_url(database)]


def _load_argv(release: SyntheticRelease, url: str) -> list[str]:
    return [str(VENV_BIN / "opendata"), "load", "--quiet", "--datasets", str(release.datasets),
            "--database-url", url]


def _load_sqlite(release: SyntheticRelease, database: str) -> list[str]:
    return _load_argv(release, sqlite_url(database))


def contenders(postgres: str | None) -> list[Contender]:
    """The contenders, cheapest first; PostgreSQL only when a server answers."""
    found = [
        Contender("sqlite3 .import", _sqlite_import, lambda _: sqlite_file("floor"),
                  _check_table("sqlite3 .import")),
        Contender("frictionless validate", _validate, lambda _: nullcontext(""), _check_valid),
        Contender("frictionless publish (sqlite)", _publish, lambda _: sqlite_file("publish"),
                  _check_table("frictionless publish")),
        Contender("opendata load (sqlite)", _load_sqlite, lambda _: sqlite_file("load"),
                  _check_loaded),
    ]
    if postgres is not None:
        found.append(Contender("opendata load (postgresql)", _load_argv,
                               lambda url: scratch_postgres(url), _check_loaded))
    return found


def run_contender(contender: Contender, release: SyntheticRelease, postgres: str | None) -> Run:
    """One run of one contender on a fresh database."""
    with contender.database(postgres or "") as database:
        run = run_measured(contender.argv(release, database))
        contender.check(release, database, run)
    return run


def postgres_url(requested: str | None) -> str | None:
    """The admin URL when the server answers, else None (the row is left out)."""
    if requested is None:
        return None
    try:
        with scratch_postgres(requested):
            return requested
    except Exception as exc:  # any failure means that no server answers here
        print(f"PostgreSQL row left out: {type(exc).__name__}: {exc}".splitlines()[0])
        return None


# The invalid copy --------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvalidCheck:
    """`opendata load` on a release with one bad cell, against `frictionless validate`."""

    bad_row: int
    load: Run
    validate: Run
    same_errors: bool
    same_messages: bool
    errors: list[dict[str, Any]]


def _errors(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [*report.get("errors", []), *(e for t in report.get("tasks", []) for e in t["errors"])]


def _printed_errors(stdout: str) -> list[str]:
    """The `  - message` entries of `opendata load`, with the console's line wrapping undone."""
    body = stdout.split("\ndatabase: ", 1)[0]
    entries = re.split(r"^  - ", body, flags=re.MULTILINE)[1:]
    return [" ".join(entry.split()) for entry in entries]


def check_invalid(rows: int) -> InvalidCheck:
    """Load a copy with one bad cell near the end; compare the refusal with frictionless."""
    bad_row = max(1, rows - 10)
    release = write_release(OUT / f"invalid-{rows}" / "datasets", rows, bad_row=bad_row)
    with sqlite_file("invalid") as database:
        load = run_measured(_load_sqlite(release, database))
    validate = run_measured(_validate(release, ""))
    with sqlite_file("invalid-report") as database:
        report_run = run_measured([str(PYTHON), "-c", REPORT, str(release.datasets),
                                   sqlite_url(database)])
    expected = _errors(json.loads(validate.stdout))
    refused = json.loads(report_run.stdout or "null")
    got = _errors(refused) if refused else []
    printed = _printed_errors(load.stdout)
    return InvalidCheck(
        bad_row=bad_row,
        load=load,
        validate=validate,
        same_errors=bool(expected) and got == expected,
        same_messages=load.returncode == 1
        and printed == [" ".join(e["message"].split()) for e in expected][:20],
        errors=expected,
    )


# Reporting ---------------------------------------------------------------------------------------


def table(timings: list[Timings]) -> list[str]:
    """The results table in Markdown, with the derived validate + publish row."""
    by_name = {t.contender: t for t in timings}
    floor = by_name["sqlite3 .import"].seconds
    ours = by_name["opendata load (sqlite)"].seconds
    rows: list[tuple[str, float, float, int]] = [
        (t.contender, t.seconds, t.peak_mb, len(t.runs)) for t in timings]
    validate, publish = by_name["frictionless validate"], by_name["frictionless publish (sqlite)"]
    rows.insert(3, ("frictionless validate + publish (sum)", validate.seconds + publish.seconds,
                    max(validate.peak_mb, publish.peak_mb), len(publish.runs)))
    lines = ["| contender | median s | x sqlite3 .import | x opendata load | peak RSS MB | runs |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, seconds, peak, runs in rows:
        lines.append(f"| {name} | {seconds:.2f} | {seconds / floor:.1f} | {seconds / ours:.2f} |"
                     f" {peak:.0f} | {runs} |")
    return lines


def section(args: argparse.Namespace, timings: list[Timings], scale: list[Timings],
            invalid: InvalidCheck | None, command: str) -> str:
    """The generated part of the `## Load` section."""
    info = machine()
    lines = [
        section_begin("Load"),
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on commit `{info['code']}`"
        f" with `{command}`"
        f" ({args.rows:,} rows, median of {args.repeat} runs, each on a fresh database).",
        "",
        f"Machine: {info['cpu']}, nproc {info['nproc']}, {info['memory']} RAM, {info['os']},"
        f" Python {info['python']}, sqlite3 {info['sqlite3']}.",
        "",
        *table(timings),
        "",
        "Peak RSS of `opendata load (sqlite)` by row count (median seconds, largest peak):",
        "",
        "| rows | median s | peak RSS MB |",
        "|---:|---:|---:|",
        *(f"| {int(t.contender):,} | {t.seconds:.2f} | {t.peak_mb:.0f} |" for t in scale),
    ]
    if invalid is not None:
        lines += [
            "",
            f"Invalid copy (record {invalid.bad_row:,} has `people = -1`, sealed again):"
            f" `opendata load` exits {invalid.load.returncode} after {invalid.load.seconds:.1f} s"
            f" (peak {invalid.load.peak_rss_mb:.0f} MB); `frictionless validate` takes"
            f" {invalid.validate.seconds:.1f} s. Error list identical to frictionless's:"
            f" **{'yes' if invalid.same_errors else 'NO'}**; messages printed by the CLI"
            f" identical: **{'yes' if invalid.same_messages else 'NO'}**"
            f" ({len(invalid.errors)} error(s): "
            + ", ".join(f"`{e['type']}` row {e.get('rowNumber')} field {e.get('fieldName')}"
                        for e in invalid.errors[:3])
            + ").",
        ]
    lines.append(section_end("Load"))
    return "\n".join(lines)


def _pythonpath() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


# Main --------------------------------------------------------------------------------------------


def profile(release: SyntheticRelease) -> None:
    """Split one `opendata load` into phases (wall clock), then run it under cProfile."""
    import pstats

    phases, out, script = OUT / "phases.py", OUT / "load.prof", OUT / "profile_load.py"
    phases.write_text(PHASES)
    script.write_text(PROFILE)
    with sqlite_file("phases") as database:
        run = run_measured([str(PYTHON), str(phases), str(release.datasets),
                            sqlite_url(database)], env=_pythonpath())
    if run.returncode != 0:
        _fail("phases", run, "the timed load failed")
    print("| phase of `opendata load` (sqlite) | s | share |\n|---|---:|---:|")
    print("".join(line for line in run.stdout.splitlines(True) if line.startswith("|")), end="")
    with sqlite_file("profile") as database:
        run = run_measured([str(PYTHON), "-m", "cProfile", "-o", str(out), str(script),
                            str(release.datasets), sqlite_url(database)], env=_pythonpath())
    if run.returncode != 0:
        _fail("profile", run, "the profiled load failed")
    print(f"\nprofiled load: {run.seconds:.1f} s under cProfile; profile in {out}")
    stats = pstats.Stats(str(out))
    stats.sort_stats("tottime").print_stats(25)


def measure_scale(loader: Contender, args: argparse.Namespace, full: Timings) -> list[Timings]:
    """`opendata load` at a quarter and at twice the row count, next to the full run."""
    scale = []
    for rows in (args.rows // 4, args.rows, args.rows * 2):
        if rows == args.rows:
            scale.append(Timings(str(rows), full.runs))
            continue
        release = write_release(datasets_dir(rows), rows)
        timing = Timings(str(rows))
        for _ in range(args.repeat):
            timing.runs.append(run_contender(loader, release, None))
        print(f"  {rows:>9,} rows  opendata load (sqlite)  {timing.seconds:7.2f} s"
              f"  {timing.peak_mb:6.0f} MB", flush=True)
        scale.append(timing)
    return scale


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows in the release")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender (median)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 100,000 rows, one run, RESULTS.md untouched")
    parser.add_argument("--postgres", default=os.environ.get("OPENDATA_BENCH_POSTGRES_URL",
                                                              DEFAULT_POSTGRES),
                        help="admin URL; a scratch database is created and dropped per run")
    parser.add_argument("--no-postgres", action="store_true", help="leave PostgreSQL out")
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md untouched")
    parser.add_argument("--profile", action="store_true",
                        help="only profile `opendata load` of the release and print the top")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.repeat, args.no_write = 100_000, 1, True
    return args


def main(argv: list[str]) -> None:
    """Generate the release, run every contender, print and record the results."""
    args = parse_args(argv)
    command = shlex.join(["python", "bench/load.py", *argv])
    release = write_release(datasets_dir(args.rows), args.rows)
    print(f"release: {release.release} ({args.rows:,} rows, {release.csv.stat().st_size:,} bytes)")
    if args.profile:
        profile(release)
        return
    postgres = None if args.no_postgres else postgres_url(args.postgres)
    found = contenders(postgres)
    timings = [Timings(c.name) for c in found]
    for round_ in range(args.repeat):
        for contender, timing in zip(found, timings, strict=True):
            run = run_contender(contender, release, postgres)
            timing.runs.append(run)
            print(f"  run {round_ + 1}/{args.repeat}  {contender.name:<32} {run.seconds:7.2f} s"
                  f"  {run.peak_rss_mb:6.0f} MB", flush=True)
    scale = measure_scale(found[3], args, timings[3])
    invalid = check_invalid(args.rows)
    generated = section(args, timings, scale, invalid, command)
    print()
    print(generated)
    if not (invalid.same_errors and invalid.same_messages):
        raise SystemExit("opendata load did not give frictionless's report for the invalid copy")
    if not args.no_write:
        write_section(RESULTS, "Load", generated)
        print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])

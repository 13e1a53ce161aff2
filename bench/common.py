"""Shared benchmark helpers: a sealed synthetic release, a timed peak-memory runner, the machine."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
VENV_BIN = ROOT / ".venv" / "bin"
PACKAGE = "bench-synthetic"
VERSION = "1.0.0"
RESOURCE = "cases"
SEED = 20250601
GENERATOR_REVISION = 3  # 3: the resource declares x-indexes
"""Bump when the generated content changes, so cached packages are rewritten."""

KH_PROVINCES = tuple(f"KH-{n}" for n in range(1, 26))
"""The 25 ISO 3166-2:KH province codes."""

NATIONALITIES = (
    "CN", "VN", "TH", "ID", "MY", "MM", "LA", "PH", "KR", "JP", "TW", "IN", "BD", "PK",
    "NP", "LK", "NG", "KE", "UG", "GH", "ET", "BR", "TR", "RU", "UA", "GE", "KZ", "US",
)
CATEGORIES = ("detained", "deported", "rescued", "charged", "released")
NOTE_WORDS = (
    "raid", "compound", "sealed", "transfer", "court", "hotline", "embassy", "shelter",
    "interview", "follow-up", "border", "checkpoint", "casino", "tower", "block",
)
FIRST_DAY = date(2025, 6, 1)
DAYS = 304  # 2025-06-01 .. 2026-03-31

SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "id", "type": "integer", "title": "Record id",
         "constraints": {"required": True, "minimum": 1}},
        {"name": "reported_on", "type": "date", "title": "Reported on",
         "constraints": {"required": True}},
        {"name": "province", "type": "string", "title": "Province (ISO 3166-2:KH)",
         "constraints": {"required": True, "enum": list(KH_PROVINCES)}},
        {"name": "nationality", "type": "string", "title": "Nationality (ISO 3166-1 alpha-2)",
         "constraints": {"required": True, "pattern": "[A-Z]{2}"}},
        {"name": "category", "type": "string", "title": "Category",
         "constraints": {"required": True, "enum": list(CATEGORIES)}},
        {"name": "people", "type": "integer", "title": "People", "constraints": {"minimum": 0}},
        {"name": "sites", "type": "integer", "title": "Sites", "constraints": {"minimum": 0}},
        {"name": "note", "type": "string", "title": "Note"},
    ],
    "primaryKey": ["id"],
    "missingValues": [""],
}
FIELD_NAMES = [f["name"] for f in SCHEMA["fields"]]


@dataclass(frozen=True)
class SyntheticRelease:
    """One sealed release folder of the synthetic package."""

    datasets: Path
    release: Path
    csv: Path
    rows: int

    @property
    def descriptor(self) -> Path:
        """The release's `datapackage.json`."""
        return self.release / "datapackage.json"


@dataclass(frozen=True)
class Run:
    """Wall time, peak resident memory and output of one child process."""

    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def _quoted(text: str) -> str:
    return f'"{text}"' if "," in text else text


def _lines(rows: int, seed: int) -> Iterator[str]:
    rnd = random.Random(seed)
    days = [(FIRST_DAY + timedelta(days=d)).isoformat() for d in range(DAYS)]
    yield ",".join(FIELD_NAMES)
    for key in range(1, rows + 1):
        sites = "" if rnd.random() < 0.02 else str(rnd.randrange(50))
        words = " ".join(rnd.choices(NOTE_WORDS, k=rnd.randint(1, 4)))
        note = f"{words}, ref {rnd.randrange(100_000)}" if rnd.random() < 0.1 else words
        yield (
            f"{key},{rnd.choice(days)},{rnd.choice(KH_PROVINCES)},{rnd.choice(NATIONALITIES)},"
            f"{rnd.choice(CATEGORIES)},{rnd.randrange(5000)},{sites},{_quoted(note)}"
        )


def _seal(release: Path, csv_path: Path, rows: int) -> None:
    data_hash = hashlib.sha256()
    with csv_path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            data_hash.update(chunk)
    descriptor = {
        "name": PACKAGE,
        "title": "Synthetic crackdown records (benchmark)",
        "version": VERSION,
        "created": "2026-01-01T00:00:00Z",
        "licenses": [{"name": "CC0-1.0", "path": "https://creativecommons.org/publicdomain/zero/1.0/",
                      "title": "CC0 1.0"}],
        "resources": [
            {
                "name": RESOURCE,
                "path": f"data/{RESOURCE}.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "bytes": csv_path.stat().st_size,
                "hash": f"sha256:{data_hash.hexdigest()}",
                "description": f"{rows:,} seeded synthetic rows.",
                "schema": SCHEMA,
                "x-indexes": [["province", "reported_on"]],  # a province's pages by date
            }
        ],
    }
    (release / "datapackage.json").write_text(json.dumps(descriptor, indent=2) + "\n")


def write_release(
    datasets: Path, rows: int, *, seed: int = SEED, bad_row: int | None = None
) -> SyntheticRelease:
    """Write (or reuse) a sealed, seeded release of `rows` rows under `datasets`.

    With `bad_row`, that row's `people` cell is `-1`, which breaks `minimum: 0`; the release is
    still sealed (bytes and hash match the file), so the bad cell is the only problem.
    """
    release = datasets / PACKAGE / VERSION
    csv_path = release / "data" / f"{RESOURCE}.csv"
    stamp = release / ".stamp"
    key = json.dumps([GENERATOR_REVISION, rows, seed, bad_row])
    if stamp.is_file() and stamp.read_text() == key and csv_path.is_file():
        return SyntheticRelease(datasets, release, csv_path, rows)
    if release.exists():
        shutil.rmtree(release)
    csv_path.parent.mkdir(parents=True)
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        for number, line in enumerate(_lines(rows, seed)):
            if number == bad_row:
                cells = line.split(",")
                cells[FIELD_NAMES.index("people")] = "-1"
                line = ",".join(cells)
            handle.write(line + "\n")
    _seal(release, csv_path, rows)
    stamp.write_text(key)
    return SyntheticRelease(datasets, release, csv_path, rows)


def run_measured(
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
    stdin: Path | None = None,
) -> Run:
    """Run one child process; return its wall time and its own peak RSS (from wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        source = stdin.open("rb") if stdin is not None else subprocess.DEVNULL
        try:
            started = time.perf_counter()
            process = subprocess.Popen(
                [os.fspath(a) for a in argv], stdin=source, stdout=out, stderr=err,
                cwd=cwd, env=dict(env) if env is not None else None,
            )
            _pid, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - started
        finally:
            if stdin is not None:
                source.close()  # type: ignore[union-attr]
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            seconds=seconds,
            peak_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
            returncode=process.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence."""
    return statistics.median(values)


def fresh_sqlite(label: str) -> Path:
    """A path for a new SQLite database under bench/out/db (any old file removed)."""
    folder = OUT / "db"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{label}.sqlite"
    remove_sqlite(path)
    return path


def remove_sqlite(path: Path) -> None:
    """Delete a SQLite file and its WAL and shared-memory companions."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def sqlite_file(label: str) -> Iterator[str]:
    """A fresh SQLite file under bench/out/db for one run, removed afterwards."""
    path = fresh_sqlite(label)
    try:
        yield str(path)
    finally:
        remove_sqlite(path)


def sqlite_url(path: str) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


def count_rows(path: str, table: str) -> int:
    """Rows of one table of a SQLite file (a run that wrote nothing fails the benchmark)."""
    with sqlite3.connect(path) as connection:
        return int(connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


@contextmanager
def scratch_postgres(admin_url: str) -> Iterator[str]:
    """Create an empty PostgreSQL database next to `admin_url`; drop it afterwards."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def section_begin(heading: str) -> str:
    """The marker opening the generated part of a `## heading` section of RESULTS.md."""
    return f"<!-- {heading.lower()}:begin -->"


def section_end(heading: str) -> str:
    """The marker closing the generated part of a `## heading` section of RESULTS.md."""
    return f"<!-- {heading.lower()}:end -->"


def write_section(results: Path, heading: str, generated: str) -> None:
    """Put `generated` (markers included) in the `## heading` section; keep everything else.

    A run replaces only the text between the section's markers, so notes written around it
    stay; a missing section is added at the end.
    """
    begin, end = section_begin(heading), section_end(heading)
    text = results.read_text() if results.is_file() else "# Benchmark results\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + generated + rest.split(end, 1)[1]
    elif f"\n## {heading}\n" in text:
        text = text.replace(f"\n## {heading}\n", f"\n## {heading}\n\n{generated}\n", 1)
    else:
        text = text.rstrip() + f"\n\n## {heading}\n\n{generated}\n"
    results.write_text(text)


def machine() -> dict[str, str]:
    """CPU model, core count, memory, OS and Python version of this machine, and the commit."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{mem_kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        memory = "unknown"
    sqlite_version = subprocess.run(
        ["sqlite3", "--version"], capture_output=True, text=True, check=False
    ).stdout.split(" ")[0]
    return {
        "cpu": model,
        "nproc": str(os.cpu_count()),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite3": sqlite_version,
        "load": ", ".join(f"{v:.1f}" for v in os.getloadavg()),
        "code": subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            capture_output=True, text=True, check=False, cwd=ROOT,
        ).stdout.strip() or "unknown",
    }

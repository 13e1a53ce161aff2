"""Play a list of URLs with wrk and bench/mixed.lua: answers by status, socket errors, latency."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from common import CATEGORIES, DAYS, FIRST_DAY, KH_PROVINCES, ROOT

LUA = ROOT / "bench" / "mixed.lua"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
SOCKET_ERRORS = ("connect", "read", "write", "timeout")


@dataclass(frozen=True)
class Played:
    """What one wrk run over a URL list saw."""

    command: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[int, int]
    errors: dict[str, int]
    answered: int
    exact: int
    output: str

    @property
    def rps(self) -> float:
        """Answers a second (wrk's `Requests/sec`)."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> dict[int, int]:
        """Every answer that is neither 2xx nor 3xx, counted by status (0: status unknown).

        Without TOTAL_KEY the script counts no statuses (see bench/mixed.lua): until the caller
        fills `statuses` from the server's log, wrk's own count stands under status 0.
        """
        if not self.statuses and self.errors.get("status"):
            return {0: self.errors["status"]}
        return {s: n for s, n in sorted(self.statuses.items()) if not 200 <= s < 400}

    @property
    def server_errors(self) -> int:
        """Answers with a 5xx status."""
        return sum(n for s, n in self.failed.items() if s >= 500 or s == 0)

    @property
    def socket_errors(self) -> int:
        """wrk's socket errors: connect, read, write and timeout together."""
        return sum(self.errors[kind] for kind in SOCKET_ERRORS)

    def failed_text(self) -> str:
        """`404: 3, 503: 12`, or `none`."""
        return ", ".join(f"{s}: {n:,}" for s, n in self.failed.items()) or "none"

    def socket_text(self) -> str:
        """`connect 0, read 0, write 0, timeout 0`."""
        return ", ".join(f"{kind} {self.errors[kind]:,}" for kind in SOCKET_ERRORS)


def write_urls(path: Path, entries: Sequence[tuple[str, str]]) -> Path:
    """Write `class<TAB>path` lines for mixed.lua."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{label}\t{url}\n" for label, url in entries))
    return path


def play(
    base_url: str,
    urls: Path,
    *,
    seconds: int,
    connections: int,
    threads: int = 2,
    timeout: str = "30s",
    total_key: str | None = None,
) -> Played:
    """Run `wrk -s bench/mixed.lua` over the URL list; parse the script's RESULT line."""
    argv = [WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", f"--timeout={timeout}",
            "--latency", "-s", str(LUA), base_url]
    env = {**os.environ, "URLS": str(urls), "THREADS": str(threads),
           "TOTAL_KEY": total_key or ""}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    found = re.search(r"^RESULT (\{.*\})$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result = json.loads(found[1])
    command = " ".join(
        [f"URLS={urls.relative_to(ROOT)}", f"THREADS={threads}"]
        + ([f"TOTAL_KEY={total_key}"] if total_key else [])
        + ["wrk", *argv[1:-3], "-s", "bench/mixed.lua", base_url]
    )
    return Played(
        command=command,
        requests=int(result["requests"]),
        seconds=result["duration_us"] / 1e6,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        max_ms=result["max_us"] / 1000,
        statuses={int(s): int(n) for s, n in result["statuses"].items()},
        errors={k: int(v) for k, v in result["errors"].items()},
        answered=int(result["answered"]),
        exact=int(result["exact"]),
        output=done.stdout,
    )


# The varied workload of bench/serve.py ------------------------------------------------------------

VARIED_SORTS = (  # (opendata `_sort`, Datasette parameter); None keeps the primary-key order
    None, ("reported_on", "_sort=reported_on"), ("-reported_on", "_sort_desc=reported_on"),
    ("people", "_sort=people"), ("-people", "_sort_desc=people"), ("-id", "_sort_desc=id"),
)


def varied_pages(count: int, seed: int) -> list[tuple[str, str]]:
    """`count` distinct filtered pages of the synthetic release, as (opendata, Datasette) queries.

    Each has an equality on one or two indexed columns (province, category), most a date window
    of 1 to 90 days, a sort (or none), a `_size` from 100 to 1000 and sometimes a facet; the two
    query strings ask for the same rows in each server's grammar.
    """
    rnd = random.Random(seed)
    found: dict[str, str] = {}
    while len(found) < count:
        equal = rnd.choice((["province"], ["category"], ["province", "category"],
                            ["province", "category"]))
        ours: list[tuple[str, str]] = []
        theirs: list[tuple[str, str]] = []
        for column in equal:
            value = rnd.choice(KH_PROVINCES if column == "province" else CATEGORIES)
            ours.append((column, value))
            theirs.append((column, value))
        if rnd.random() < 0.85:
            days = rnd.randint(1, 90)
            start = FIRST_DAY + timedelta(days=rnd.randrange(DAYS - days + 1))
            end = start + timedelta(days=days - 1)
            ours.append(("reported_on__between", f"{start}..{end}"))
            theirs += [("reported_on__gte", str(start)), ("reported_on__lte", str(end))]
        sort = rnd.choice(VARIED_SORTS)
        if sort is not None:
            ours.append(("_sort", sort[0]))
            name, value = sort[1].split("=")
            theirs.append((name, value))
        size = str(rnd.randint(100, 1000))
        ours.append(("_size", size))
        theirs.append(("_size", size))
        if rnd.random() < 0.15:
            facet = rnd.choice(("category", "province"))
            ours.append(("_facet", facet))
            theirs.append(("_facet", facet))
        found.setdefault(urlencode(ours), urlencode(theirs))
    return list(found.items())

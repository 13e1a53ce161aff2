"""Play a list of URLs with wrk and bench/mixed.lua: answers by status, socket errors, latency."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from common import ROOT

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
        """Every answer that is neither 2xx nor 3xx, counted by status."""
        return {s: n for s, n in sorted(self.statuses.items()) if not 200 <= s < 400}

    @property
    def server_errors(self) -> int:
        """Answers with a 5xx status."""
        return sum(n for s, n in self.statuses.items() if s >= 500)

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

"""Server CPU per request: the repeated page of serve.py's (a) and the rendered CSV export.

Reads the server process's own `utime + stime` from /proc around the requests, so the other
load on the machine does not count; compares two versions of the code fairly on a busy machine.
Start `opendata serve` on the 1M-row release first (bench/serve.py's data), then:

    .venv/bin/python bench/cpu_per_request.py http://127.0.0.1:8350 PID [REQUESTS]
"""

from __future__ import annotations

import os
import statistics
import sys

import httpx

PAGE = (
    "/v1/datasets/bench-synthetic/1.0.0/cases.json?province=KH-12"
    "&reported_on__between=2025-09-01..2025-11-30&_sort=reported_on&_size=100"
)
EXPORT = "/v1/datasets/bench-synthetic/1.0.0/cases.csv?_sort=id"


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str]) -> None:
    """Print the CPU of one page request (averaged) and of one export (median of 3)."""
    base, pid = argv[0], int(argv[1])
    requests = int(argv[2]) if len(argv) > 2 else 2000
    headers = {"Accept-Encoding": "identity"}
    with httpx.Client(base_url=base, timeout=120, headers=headers) as client:
        client.get(PAGE).raise_for_status()
        before = cpu_seconds(pid)
        for _ in range(requests):
            client.get(PAGE).raise_for_status()
        page_ms = (cpu_seconds(pid) - before) / requests * 1000
        exports = []
        for _ in range(3):
            before = cpu_seconds(pid)
            client.get(EXPORT).raise_for_status()
            exports.append(cpu_seconds(pid) - before)
    print(f"page: {page_ms:.2f} ms CPU per request over {requests:,};"
          f" export: {statistics.median(exports):.2f} s CPU (median of 3)")


if __name__ == "__main__":
    main(sys.argv[1:])

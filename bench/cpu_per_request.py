"""Server CPU per request: the repeated page of serve.py's (a) and the rendered CSV export.

Reads the server process's own `utime + stime` from /proc around the requests, so the other
load on the machine does not count; compares two versions of the code fairly on a busy machine.
Start `opendata serve` on the 1M-row release first (bench/serve.py's data), then:

    .venv/bin/python bench/cpu_per_request.py http://127.0.0.1:8350 PID [REQUESTS]
    .venv/bin/python bench/cpu_per_request.py http://127.0.0.1:8350 PID --urls FILE [COUNT]

With `--urls`, FILE holds `class<TAB>path` lines (as bench/mixed.lua reads them): COUNT of
its distinct paths (300 by default, a seeded sample) are fetched one at a time, and the mean
and the dearest of their CPU costs are printed.
"""

from __future__ import annotations

import os
import random
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


def per_url(base: str, pid: int, urls: str, count: int) -> None:
    """Print the mean and the dearest server CPU of `count` distinct URLs of a list."""
    with open(urls, encoding="utf-8") as handle:
        paths = sorted({line.rstrip("\n").split("\t")[-1] for line in handle if line.strip()})
    chosen = random.Random(1).sample(paths, min(count, len(paths)))
    costs = []
    with httpx.Client(base_url=base, timeout=120, headers={"Accept-Encoding": "identity"}) as c:
        for path in chosen:
            before = cpu_seconds(pid)
            status = c.get(path).status_code
            costs.append((cpu_seconds(pid) - before, status, path))
    costs.sort(reverse=True)
    failed = sum(1 for _, status, _ in costs if not 200 <= status < 400)
    print(f"{len(costs)} URLs: {statistics.mean(c for c, _, _ in costs) * 1000:.0f} ms CPU on"
          f" average, {failed} non-2xx/3xx; dearest:")
    for cost, status, path in costs[:5]:
        print(f"  {cost * 1000:6.0f} ms  {status}  {path}")


def main(argv: list[str]) -> None:
    """Print the CPU of one page request (averaged) and of one export (median of 3)."""
    base, pid = argv[0], int(argv[1])
    if len(argv) > 2 and argv[2] == "--urls":
        per_url(base, pid, argv[3], int(argv[4]) if len(argv) > 4 else 300)
        return
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

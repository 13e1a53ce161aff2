"""EXPLAIN of the benchmark's queries: the SQL opendata runs for each query shape, and its plans.

The SQL comes from the engine itself: each URL is read by `parse_row_query` against the table
spec the server would use (`api.db.releases.Catalog`), and its page select, bounded total and
facets are built as `api.db.rows.RowReader` builds them, then compiled with literal values. On
SQLite the page select of a large table is the one the stored counts choose
(`api.query.access`) where they cover its filters; any other query runs as planned and, past
its CPU budget, again as a scan of the table (`api.query.scan`), so both plans are recorded.
PostgreSQL runs every query as planned.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import sqlalchemy as sa
from common import OUT, PACKAGE, RESOURCE, VERSION

from api.config import Settings
from api.db.engine import reader_engine
from api.db.releases import Catalog
from api.db.rows import FACET_SIZE, INLINE_MAX_ROWS, PLANNED_CPU_SECONDS
from api.db.sqltypes import rollup_table_name
from api.model import TableSpec
from api.query import RowQuery, build_facet, build_select, parse_row_query
from api.query.access import cheapest_access
from api.query.build import build_bounded_count, build_count
from api.query.scan import Access

PLANS = OUT / "serve-plans.md"
REPEATED = "repeated URL (a)"


@dataclass(frozen=True)
class Explained:
    """One statement on one database: its SQL and plan, and on SQLite those of its scan."""

    sql: str
    plan: list[str]
    scan_sql: str | None = None
    scan_plan: list[str] | None = None


@dataclass
class Shape:
    """The URLs of one query shape: filtered columns with their operators, the sort, the facet."""

    filters: str
    sort: str
    facet: str | None
    sample: str
    count: int = 0
    statements: dict[str, dict[str, Explained]] = field(default_factory=dict)
    """statement (`page`, `total`, `facet X`) -> database label -> what it explained."""

    @property
    def label(self) -> str:
        """`province =, reported_on between; sort reported_on,id; facet category`."""
        facet = f"; facet {self.facet}" if self.facet else ""
        return f"{self.filters}; sort {self.sort}{facet}"


class Explainer:
    """Builds and explains the statements of a rows query on one database."""

    def __init__(self, label: str, url: str) -> None:
        self.label = label
        self.engine = reader_engine(url)
        self.spec: TableSpec = Catalog(self.engine).table_spec(PACKAGE, VERSION, RESOURCE)
        self.settings = Settings(database_url=url)
        # As `RowReader._may_scan`: only a large table on SQLite falls back to a scan.
        self.scans = self.engine.dialect.name == "sqlite" and self.spec.row_count > INLINE_MAX_ROWS

    def query(self, query_string: str) -> RowQuery:
        """The query string read as the page route reads it."""
        return parse_row_query(self.spec, parse_qsl(query_string),
                               default_size=self.settings.default_page_size,
                               max_size=self.settings.max_page_size)

    def chosen(self, query: RowQuery) -> Access:
        """The access the stored counts choose for the page (False: SQLite's own plan)."""
        if not self.scans:
            return False

        async def count(counted: RowQuery) -> int:
            if not counted.filters:
                return self.spec.row_count
            with self.engine.connect() as connection:
                return int(connection.execute(build_count(self.spec, counted)).scalar_one())

        choice = asyncio.run(cheapest_access(self.spec, query, count, size=query.size))
        return False if choice is None else choice.access

    def statements(self, query: RowQuery) -> dict[str, Callable[[bool], sa.Select[Any]]]:
        """What a JSON page runs: the page select, its bounded total, one select per facet.

        Each value builds the select given whether it must scan; the page select, not scanning,
        is the one the stored counts choose where they can.
        """
        bound = self.settings.count_budget_rows + 1
        access = self.chosen(query)
        found: dict[str, Callable[[bool], sa.Select[Any]]] = {
            "page": lambda scan: build_select(self.spec, query, limit=query.size + 1,
                                              stored=True, scan=scan or access).select,
            "total": lambda scan: build_bounded_count(self.spec, query, bound, scan=scan),
        }
        for column in query.facets:
            found[f"facet {column}"] = lambda scan, column=column: build_facet(
                self.spec, query, column, limit=FACET_SIZE + 1, scan=scan)
        return found

    def sql(self, select: sa.Select[Any]) -> str:
        """The select as this database runs it, with its values written in."""
        return str(select.compile(dialect=self.engine.dialect,
                                  compile_kwargs={"literal_binds": True}))

    def plan(self, sql: str) -> list[str]:
        """`EXPLAIN QUERY PLAN` on SQLite (as an indented tree), `EXPLAIN` on PostgreSQL."""
        with self.engine.connect() as connection:
            if not self.scans:
                return [row[0] for row in connection.exec_driver_sql(f"EXPLAIN {sql}")]
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
        depth: dict[int, int] = {0: -1}
        lines = []
        for node, parent, _, detail in rows:
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + detail)
        return lines

    def explain(self, build: Callable[[bool], sa.Select[Any]]) -> Explained:
        """The statement as planned and, on SQLite, as a scan."""
        sql = self.sql(build(False))
        if not self.scans:
            return Explained(sql, self.plan(sql))
        scan = self.sql(build(True))
        return Explained(sql, self.plan(sql), scan, self.plan(scan))


def _filters(query: RowQuery) -> str:
    return ", ".join(f"{f.column} {'=' if f.op == 'exact' else f.op}" for f in query.filters)


def shapes(repeated: str, varied: Sequence[str], explainer: Explainer) -> list[Shape]:
    """The repeated URL of (a), then the varied list grouped by shape, most common first."""
    found: dict[tuple[str, str, str | None], Shape] = {}
    for query_string in varied:
        query = explainer.query(query_string)
        sort = ",".join(str(key) for key in query.sort)
        key = (_filters(query), sort, query.facets[0] if query.facets else None)
        shape = found.setdefault(key, Shape(*key, sample=query_string))
        shape.count += 1
    query = explainer.query(repeated)
    sort = ",".join(str(key) for key in query.sort)
    first = Shape(f"{REPEATED}: {_filters(query)}", sort, None, repeated, 0)
    return [first, *sorted(found.values(), key=lambda shape: (-shape.count, shape.label))]


def explain_all(shapes: Iterable[Shape], explainers: Sequence[Explainer]) -> None:
    """Fill in each shape's statements, explained on every database."""
    for shape in shapes:
        for explainer in explainers:
            query = explainer.query(shape.sample)
            for name, build in explainer.statements(query).items():
                shape.statements.setdefault(name, {})[explainer.label] = explainer.explain(build)


def _node(line: str) -> str:
    """One plan line, shortened: PostgreSQL's costs and SQLite's `USING ... INDEX` wording."""
    line = re.sub(r"\s+\(cost=[^)]*\)", "", line.strip()).removeprefix("-> ").strip()
    return line.replace("USING COVERING INDEX", "COVERING").replace("USING INDEX", "USING")


def compact(plan: list[str] | None, table: str, *, postgres: bool) -> str:
    """A plan on one line: SQLite's steps, or PostgreSQL's nodes without their details."""
    if plan is None:
        return ""
    nodes = [plan[0], *(line for line in plan[1:] if "->" in line)] if postgres else plan
    text = (" → " if postgres else "; ").join(_node(line) for line in nodes)
    text = text.replace(rollup_table_name(table), "C")
    return text.replace(table, "T").replace("|", "\\|")


@dataclass
class Row:
    """One row of the compact table: a statement, the filters it runs under, its plans."""

    statement: str
    filters: str
    plans: tuple[str, str, str]  # SQLite as planned, SQLite as a scan, PostgreSQL
    sorts: list[str] = field(default_factory=list)
    count: int = 0

    @property
    def shape(self) -> str:
        """The filters, and the sorts of a page select."""
        return f"{self.filters}; sort {', '.join(self.sorts)}" if self.sorts else self.filters


def _plans(sample: Shape, name: str, sqlite: Explainer, postgres: Explainer | None
           ) -> tuple[str, str, str]:
    mine = sample.statements[name][sqlite.label]
    theirs = sample.statements[name].get(postgres.label) if postgres else None
    own = sqlite.spec.table.name
    pg = "n/a"
    if theirs is not None and postgres is not None:
        pg = compact(theirs.plan, postgres.spec.table.name, postgres=True)
    return (compact(mine.plan, own, postgres=False), compact(mine.scan_plan, own, postgres=False),
            pg)


def rows(shapes: Sequence[Shape], sqlite: Explainer, postgres: Explainer | None) -> list[Row]:
    """The distinct statements, each with the share of URLs that run it.

    The page select depends on the filters and the sort, the total on the filters alone, a
    facet on the filters and its column; the page selects of one set of filters whose plans are
    the same on both databases share a row, their sorts listed.
    """
    found: dict[tuple[str, str, str], tuple[int, Shape]] = {}
    for shape in shapes:
        for name in shape.statements:
            sort = shape.sort if name == "page" else ""
            count, sample = found.get((name, shape.filters, sort), (0, shape))
            found[(name, shape.filters, sort)] = (count + shape.count, sample)
    merged: dict[tuple[str, str, tuple[str, str, str]], Row] = {}
    for (name, filters, sort), (count, sample) in found.items():
        plans = _plans(sample, name, sqlite, postgres)
        row = merged.setdefault((name, filters, plans), Row(name, filters, plans))
        row.count += count
        if sort:
            row.sorts.append(sort)
    order = {"page": 0, "total": 1}
    return sorted(merged.values(), key=lambda row: (not row.filters.startswith(REPEATED),
                                                    order.get(row.statement, 2), -row.count))


def table(shapes: Sequence[Shape], sqlite: Explainer, postgres: Explainer | None) -> list[str]:
    """The compact table of the RESULTS block: one row per distinct statement and plan."""
    total = sum(shape.count for shape in shapes)
    budget = f"{PLANNED_CPU_SECONDS * 1000:.0f} ms"
    lines = [f"| statement | query shape | share of the list | SQLite as run |"
             f" SQLite as a scan (past {budget} of CPU) | PostgreSQL |",
             "|---|---|---:|---|---|---|"]
    for row in rows(shapes, sqlite, postgres):
        share = "every request" if row.filters.startswith(REPEATED) else f"{row.count / total:.1%}"
        lines.append(f"| {row.statement} | {row.shape} | {share} | {' | '.join(row.plans)} |")
    return lines


def _fenced(lines: Iterable[str]) -> list[str]:
    return ["```", *lines, "```"]


def write_plans(shapes: Sequence[Shape], path: Path = PLANS) -> Path:
    """Every shape with its sample URL, and each statement's SQL and plans, as Markdown."""
    total = sum(shape.count for shape in shapes)
    out = ["# Plans of the serve benchmark's queries", ""]
    for shape in shapes:
        share = "every request of (a)" if shape.filters.startswith(REPEATED) else (
            f"{shape.count:,} of {total:,} URLs ({shape.count / total:.1%})")
        out += [f"## {shape.label}", "", f"{share}; sample: `?{shape.sample}`", ""]
        for name, explained in shape.statements.items():
            for label, found in explained.items():
                out += [f"### {name} on {label}", "", *_fenced([found.sql]), "",
                        "Plan:", "", *_fenced(found.plan), ""]
                if found.scan_sql is not None and found.scan_plan is not None:
                    out += ["As a scan:", "", *_fenced([found.scan_sql]), "",
                            *_fenced(found.scan_plan), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out))
    return path


def record_plans(repeated: str, varied: Sequence[str], sqlite_url: str,
                 postgres_url: str | None) -> list[str]:
    """Explain every shape, write bench/out/serve-plans.md; return the table and its preamble."""
    sqlite = Explainer("SQLite", sqlite_url)
    postgres = Explainer("PostgreSQL", postgres_url) if postgres_url else None
    try:
        found = shapes(repeated, varied, sqlite)
        explain_all(found, [sqlite, *([postgres] if postgres else [])])
    finally:
        for explainer in (sqlite, postgres):
            if explainer is not None:
                explainer.engine.dispose()
    path = write_plans(found)
    print(f"plans of {len(found) - 1} query shapes written to {path}")
    left_out = "" if postgres else " (n/a: PostgreSQL was left out)"
    return [
        f"**Plans.** The SQL opendata runs for the URL of (a) and for each of the"
        f" {len(found) - 1} query shapes of the varied list (built by the engine from a sample"
        " URL of the shape, values written in; `T` is the table, `C` its stored counts), with"
        " SQLite's `EXPLAIN QUERY"
        " PLAN` as run (a page whose filters the stored counts cover is read along the route they"
        " choose, any other statement as SQLite plans it) and as the scan a planned one falls"
        f" back to, and PostgreSQL's `EXPLAIN`{left_out}."
        " The page"
        " select depends on the filters and the sort, the total and the facets on the filters;"
        " the share is that of the varied list's URLs that run the statement. Every shape's SQL"
        f" and full plans: `bench/out/{path.name}` (written by every run).",
        "",
        *table(found, sqlite, postgres),
        "",
    ]

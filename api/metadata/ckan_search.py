"""``package_search`` over CKAN package dicts, with the subset of Solr syntax harvesters send.

Search is done in Python over the package dicts (a catalog holds few packages): ``q`` words are
scored against title, tags, name and notes; ``q`` and ``fq`` ``field:value`` terms become
predicates, with wildcards, negation and ranges on the metadata dates (including Solr date math).
"""

from __future__ import annotations

import calendar
import fnmatch
import json
import re
from collections.abc import Callable, Sequence
from datetime import MAXYEAR, MINYEAR, UTC, datetime, timedelta
from typing import Any

from api.errors import plain, quoted
from api.metadata.ckan import CkanValidationError
from api.metadata.facts import utc
from api.timestamps import parse_timestamp

DEFAULT_ROWS = 10
MAX_ROWS = 1000
DEFAULT_SORT = "score desc, metadata_modified desc"
SORTABLE = (
    "id",
    "name",
    "title_string",
    "metadata_created",
    "metadata_modified",
    "score",
    "num_resources",
    "num_tags",
)
_TOKEN = re.compile(
    r'(?P<sign>[+-]?)(?P<field>[A-Za-z_]+):(?P<value>"(?:[^"\\]|\\.)*"|[\[{][^\]}]*[\]}]|[^\s+]+)'
    r'|"(?P<phrase>[^"]*)"|(?P<word>[^\s+]+)'
)
_RANGE = re.compile(r"^([\[{])\s*(\S+)\s+TO\s+(\S+)\s*([\]}])$")
_MATH = re.compile(r"([/+-])(\d*)([A-Z]+?)S?(?=[/+-]|$)")
_TEXT_FIELDS = {"title": 3, "tags": 2, "name": 2, "notes": 1}
_DATE_FIELDS = ("metadata_modified", "metadata_created")
_UNITS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}
_CALENDAR = ("YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND")
FILTER_FIELDS = (
    "id",
    "name",
    "title",
    "notes",
    "version",
    "state",
    "tags",
    "license_id",
    "organization",
    "groups",
    "res_format",
    "dataset_type",
    *_DATE_FIELDS,
)
Predicate = Callable[[dict[str, Any]], bool]


def _field_values(package: dict[str, Any], field: str) -> list[str]:
    """The values Solr would index for `field` (several for multi-valued fields)."""
    if field == "tags":
        return [t["name"] for t in package["tags"]]
    if field == "organization":
        return [package["organization"]["name"]] if package["organization"] else []
    if field == "groups":
        return [g["name"] for g in package["groups"]]
    if field == "res_format":
        return [r["format"] for r in package["resources"]]
    value = package.get("type" if field == "dataset_type" else field)
    return [] if value is None else [str(value)]


def _solr_date(text: str, now: datetime) -> datetime | None:
    """An ISO timestamp or Solr date math (``NOW-1DAY``, ``NOW/DAY+7DAYS``); ``*`` is None."""
    if text == "*":
        return None
    if not text.startswith("NOW"):
        try:
            return utc(parse_timestamp(text))
        except ValueError as exc:
            raise CkanValidationError("fq", f"Invalid date: {plain(text)}") from exc
    moment, rest = now, text[3:]
    if _MATH.sub("", rest) or any(u not in _CALENDAR for _, _, u in _MATH.findall(rest)):
        raise CkanValidationError("fq", f"Invalid date math: {plain(text)}")
    for op, amount, unit in _MATH.findall(rest):
        if op == "/":
            keep = _CALENDAR.index(unit) + 1
            y, mo, d, h, mi, sec = [
                moment.year,
                moment.month,
                moment.day,
                moment.hour,
                moment.minute,
                moment.second,
            ][:keep] + [1, 1, 1, 0, 0, 0][keep:]
            moment = datetime(y, mo, d, h, mi, sec, tzinfo=UTC)
        elif unit in _UNITS:
            moment += timedelta(seconds=int(amount or 1) * _UNITS[unit] * (-1 if op == "-" else 1))
        else:
            step = int(amount or 1) * (12 if unit == "YEAR" else 1) * (-1 if op == "-" else 1)
            year, month = divmod(moment.year * 12 + moment.month - 1 + step, 12)
            last_day = calendar.monthrange(year, month + 1)[1] if MINYEAR <= year <= MAXYEAR else 31
            moment = moment.replace(year=year, month=month + 1, day=min(moment.day, last_day))
    return moment


def _date_bound(text: str, now: datetime) -> datetime | None:
    """`_solr_date`, with a date beyond the calendar reported as a bad filter."""
    try:
        return _solr_date(text, now)
    except (ValueError, OverflowError) as exc:
        raise CkanValidationError("fq", f"Date out of range: {plain(text)}") from exc


def _matcher(field: str, raw: str, now: datetime) -> Predicate:
    if field not in FILTER_FIELDS:
        raise CkanValidationError(
            "fq", f"Unknown field: {plain(field)}; supported: {', '.join(FILTER_FIELDS)}"
        )
    bounds = _RANGE.match(raw)
    if bounds is None:
        try:
            value = str(json.loads(raw)) if raw.startswith('"') else raw
        except json.JSONDecodeError as exc:
            raise CkanValidationError("fq", f"Cannot parse quoted value: {plain(raw)}") from exc
        if field in ("title", "notes"):
            return _text_matcher(field, value.lower())
        if value == "*":
            return lambda p: bool(_field_values(p, field))
        return lambda p: any(fnmatch.fnmatchcase(v, value) for v in _field_values(p, field))
    if field not in _DATE_FIELDS:
        raise CkanValidationError("fq", f"Ranges work on {' and '.join(_DATE_FIELDS)} only")
    low, high = _date_bound(bounds[2], now), _date_bound(bounds[3], now)
    closed = (bounds[1] == "[", bounds[4] == "]")

    def in_range(package: dict[str, Any]) -> bool:
        value = utc(datetime.fromisoformat(package[field]))
        above = low is None or value > low or (closed[0] and value == low)
        below = high is None or value < high or (closed[1] and value == high)
        return above and below

    return in_range


def _text_matcher(field: str, value: str) -> Predicate:
    """Words of a text field: a substring, or with `*`/`?` a wildcard over each word."""
    if not any(char in value for char in "*?"):
        return lambda p: value in str(p.get(field) or "").lower()
    return lambda p: any(
        fnmatch.fnmatchcase(word, value)
        for word in re.findall(r"\w+", str(p.get(field) or "").lower())
    )


def _negate(predicate: Predicate) -> Predicate:
    return lambda package: not predicate(package)


def _parse(text: str, param: str, now: datetime) -> tuple[list[Predicate], list[str]]:
    """Split `text` into ``field:value`` filters (AND-ed, ``-`` negates) and free words."""
    filters: list[Predicate] = []
    words: list[str] = []
    for token in _TOKEN.finditer(text):
        field = token["field"]
        if field and (param == "fq" or field in FILTER_FIELDS):
            match = _matcher(field, token["value"], now)
            filters.append(_negate(match) if token["sign"] == "-" else match)
        elif token["word"] in ("AND", "&&"):
            continue
        elif token["word"] in ("OR", "||"):
            raise CkanValidationError(param, "OR is not supported: every term must match")
        elif param == "fq":
            raise CkanValidationError("fq", f"Cannot parse filter: {plain(token[0])}")
        else:
            words.append((token["phrase"] or token[0]).lower())
    return filters, [w for w in words if w]


def _score(package: dict[str, Any], words: list[str]) -> float:
    if not words:
        return 1.0
    total = 0.0
    for word in words:
        hits = [
            weight
            for field, weight in _TEXT_FIELDS.items()
            if any(word in v.lower() for v in _field_values(package, field))
        ]
        if not hits:
            return 0.0
        total += sum(hits)
    return total


def _sort_keys(sort: str) -> list[tuple[str, bool]]:
    keys = []
    for part in sort.split(","):
        bits = part.split()
        if len(bits) != 2 or bits[0] not in SORTABLE or bits[1].lower() not in ("asc", "desc"):
            raise CkanValidationError(
                "sort",
                f"Invalid sort: {quoted(part.strip())}; use '<field> asc|desc' with field one"
                f" of {', '.join(SORTABLE)}",
            )
        keys.append((bits[0], bits[1].lower() == "desc"))
    return keys


def search_packages(
    dicts: Sequence[dict[str, Any]],
    *,
    q: str | None = None,
    fq: str | None = None,
    rows: int = DEFAULT_ROWS,
    start: int = 0,
    sort: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The ``package_search`` result.

    :param q: words matched case-insensitively in title, notes, tags and name (all must match);
        ``*:*`` or empty matches everything; ``field:value`` terms act as in `fq`.
    :param fq: ``field:value`` terms, AND-ed (space or ``+`` separated), ``-`` to negate,
        quoted values, ``*`` wildcards, and ``[a TO b]`` / ``{a TO b}`` ranges on the
        metadata dates (ISO timestamps, ``NOW-1DAY`` style date math, ``*`` open ends).
    :param rows: page size; more than 1000 is capped at 1000 as CKAN does.
    """
    if rows < 0:
        raise CkanValidationError("rows", "Must be a natural number")
    if start < 0:
        raise CkanValidationError("start", "Must be a natural number")
    moment = utc(now or datetime.now(UTC))
    order = sort or DEFAULT_SORT
    keys = _sort_keys(order)
    query = "" if q in (None, "", "*:*", "*") else str(q)
    filters, words = _parse(query, "q", moment)
    more, _ = _parse(fq or "", "fq", moment)
    filters += more
    scored = [(p, _score(p, words)) for p in dicts if all(f(p) for f in filters)]
    scored = [(p, score) for p, score in scored if score > 0]
    for field, descending in reversed(keys):

        def key(item: tuple[dict[str, Any], float], field: str = field) -> Any:
            if field == "score":
                return item[1]
            if field == "title_string":
                return str(item[0]["title"]).lower()
            return item[0][field]

        scored.sort(key=key, reverse=descending)
    page = [p for p, _ in scored[start : start + min(rows, MAX_ROWS)]]
    return {"count": len(scored), "facets": {}, "results": page, "sort": order, "search_facets": {}}


__all__ = ["search_packages"]

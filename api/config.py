"""One typed settings object for the whole service (environment prefix ``OPENDATA_``)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Settings read from ``OPENDATA_*`` environment variables (or a ``.env`` file)."""

    model_config = SettingsConfigDict(env_prefix="OPENDATA_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'opendata.sqlite'}",
        description="SQLAlchemy URL of the database (SQLite file or postgresql+psycopg://...).",
    )
    datasets_dir: Path = Field(
        default=PROJECT_ROOT / "datasets",
        description="Folder holding one sub-folder per package, one per immutable release.",
    )
    base_url: str | None = Field(
        default=None,
        description=(
            "Public base URL of absolute links (descriptors, `next_url`, `Link` headers, pages,"
            " DCAT, CKAN, sitemaps), e.g. `https://data.example.org`; unset, links follow the"
            " scheme and host each request was sent to (`X-Forwarded-Proto` and"
            " `X-Forwarded-Host` from a trusted proxy)."
        ),
    )
    default_page_size: int = Field(default=100, ge=1, description="Rows per JSON page by default.")
    max_page_size: int = Field(default=1000, ge=1, description="Largest `_size` accepted.")
    query_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Time limit for one query (pages, counts, facets, each read of rows of a diff, an"
            " export until its first rows); past it the answer is a 503 `query-timeout` problem."
        ),
    )
    request_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Time limit for all the queries of one request together (a page, its count and"
            " facets; a diff, a CSV diff to its last row); past it the answer is a 503"
            " `query-timeout` problem."
        ),
    )
    db_connect_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description=(
            "Longest wait for a new database connection (PostgreSQL connect_timeout, whole"
            " seconds, at least 2; SQLite busy timeout); past it the answer is a 503"
            " `database-unavailable` problem."
        ),
    )
    db_pool_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Longest wait for a free pooled connection before a 503 `database-unavailable`."
        ),
    )
    db_concurrency: int = Field(
        default=4,
        ge=1,
        description=(
            "Most blocking database calls (queries off the event loop, export openings, diffs)"
            " one worker runs at once; more wait their turn, first come first served, and a"
            " query's time limit starts when it runs."
        ),
    )
    facet_timeout_seconds: float = Field(
        default=1.0,
        gt=0,
        description=(
            "Time limit of one `_facet` count; a facet past it is left out of the page and"
            " named in `facets_timed_out` (the page is still answered)."
        ),
    )
    max_facets: int = Field(
        default=5,
        ge=0,
        description="Most `_facet` columns of one JSON page; more is a 400 `too-many-facets`.",
    )
    max_problem_errors: int = Field(
        default=20,
        ge=1,
        description=(
            "Most `errors[]` entries a problem document lists; `errors_omitted` counts the rest."
        ),
    )
    latest_max_age: int = Field(
        default=300, ge=0, description="Cache-Control max-age in seconds for `latest` URLs."
    )
    count_budget_rows: int = Field(
        default=100_000,
        ge=1,
        description=(
            "Most matching rows a JSON page counts by default; past it `total` is this number"
            " with `total_is_exact` false (more than `total` match). `_count=exact` counts all."
        ),
    )
    page_count_seconds: float = Field(
        default=5.0,
        gt=0,
        description=(
            "Longest wait of a table page for the exact count of its matching rows (within the"
            " query limit); past it the page shows the bounded count as more than N rows."
        ),
    )
    xlsx_max_rows: int = Field(
        default=100_000,
        ge=1,
        le=1_048_575,  # an Excel sheet holds 1,048,576 rows, one of them the header
        description=(
            "Most rows an `.xlsx` download holds (at most 1048575, Excel's limit); a larger"
            " selection is a 413 `export-too-large` problem that links the same rows as CSV."
        ),
    )
    reference_max_rows: int = Field(
        default=1000,
        ge=0,
        description=(
            "A foreign-key column whose referenced table has at most this many rows refuses a"
            " filter value the table does not hold (a 400 naming the table); 0 turns it off."
        ),
    )
    load_batch_size: int = Field(
        default=20_000, ge=100, description="Rows per INSERT batch when loading a release."
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default=["127.0.0.1"],
        description=(
            "IP addresses or CIDR networks (comma-separated) of the proxies whose"
            " `X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Host` and `X-Request-ID`"
            " headers are believed."
        ),
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1,
        description="Largest request body (by Content-Length or as read); past it, a 413 problem.",
    )
    max_header_bytes: int = Field(
        default=16_384,
        ge=1024,
        description=(
            "Largest total of request header names and values; past it, a 431 problem (and"
            " `opendata serve` drops a request head far beyond it before it is read)."
        ),
    )
    max_query_bytes: int = Field(
        default=8_192, ge=256, description="Longest query string; past it, a 414 problem."
    )
    max_query_params: int = Field(
        default=100,
        ge=1,
        description="Most query parameters in one request; past it, a 400 problem.",
    )
    workers: int = Field(
        default=1, ge=1, description="Worker processes `opendata serve` starts (`--workers`)."
    )
    graceful_shutdown_seconds: int = Field(
        default=30,
        ge=1,
        description=(
            "On SIGTERM, how long running requests (an export) may take to finish while new"
            " connections are refused; past it they are cut."
        ),
    )

    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description=(
            "Server logs: `json` (one object per line, one per request), `text`, or `auto`:"
            " text on a terminal, JSON otherwise."
        ),
    )

    @field_validator("base_url")
    @classmethod
    def _public_base(cls, value: str | None) -> str | None:
        # Every link starts with it: a typo would break them all, so refuse it at start-up.
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an http:// or https:// URL; got {value!r}")
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError(f"base_url takes no user, query or fragment; got {value!r}")
        return value.rstrip("/")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        # A typo must not trust the whole Internet, nor silently trust nobody: refuse it.
        return [str(ipaddress.ip_network(item)) for item in value]

    @field_validator("max_page_size")
    @classmethod
    def _max_page_size(cls, value: int) -> int:
        if value > 10_000:
            raise ValueError("max_page_size above 10000 would let one request hold too much")
        return value


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings, read once."""
    return Settings()

"""The registry of loaded releases: SQLModel tables owned by the loader, read by the API."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class Package(SQLModel, table=True):
    """A data package that has at least one loaded release."""

    __tablename__ = "od_packages"

    name: str = Field(primary_key=True)
    first_loaded_at: datetime


class Release(SQLModel, table=True):
    """One immutable release; the row is written last, so its presence means 'complete'."""

    __tablename__ = "od_releases"
    __table_args__ = (sa.UniqueConstraint("package", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    package: str = Field(foreign_key="od_packages.name", index=True)
    version: str
    major: int
    minor: int
    patch: int
    prerelease: str = ""
    published: date | None = None
    loaded_at: datetime
    content_hash: str
    descriptor: str = Field(sa_type=sa.Text)
    changelog: str | None = Field(default=None, sa_type=sa.Text)


class Resource(SQLModel, table=True):
    """A tabular resource of a release and the physical table holding its rows."""

    __tablename__ = "od_resources"
    __table_args__ = (sa.UniqueConstraint("release_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="od_releases.id", index=True)
    name: str
    position: int
    table_name: str = Field(unique=True)
    row_count: int
    bytes: int | None = None
    hash: str | None = None
    title: str | None = None
    description: str | None = Field(default=None, sa_type=sa.Text)
    primary_key: str = Field(sa_type=sa.Text)


class FieldDef(SQLModel, table=True):
    """A Table Schema field of a loaded resource."""

    __tablename__ = "od_fields"

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(foreign_key="od_resources.id", index=True)
    position: int
    name: str
    type: str
    format: str | None = None
    descriptor: str = Field(sa_type=sa.Text)


class ValidationRecord(SQLModel, table=True):
    """The frictionless report of a release, stored as it was at load time."""

    __tablename__ = "od_validation_reports"

    release_id: int = Field(foreign_key="od_releases.id", primary_key=True)
    valid: bool
    report: str = Field(sa_type=sa.Text)


class ResourceChunk(SQLModel, table=True):
    """The published file of a resource, byte for byte, in ordered chunks."""

    __tablename__ = "od_resource_chunks"

    resource_id: int = Field(foreign_key="od_resources.id", primary_key=True)
    seq: int = Field(primary_key=True)
    data: bytes = Field(sa_type=sa.LargeBinary)


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table behind a registry model."""
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table


REGISTRY_TABLES = [t for t in SQLModel.metadata.sorted_tables if t.name.startswith("od_")]


# Published files are stored as they are: compressing each chunk costs most of the time spent
# storing them, and CSV downloads are gzipped on the way out anyway. Only when the table is
# created: the ALTER takes an exclusive lock, which a running download would make a load wait for.
_UNCOMPRESSED = sa.DDL(  # type: ignore[no-untyped-call]
    "ALTER TABLE od_resource_chunks ALTER COLUMN data SET STORAGE EXTERNAL"
)
sa.event.listen(
    table_of(ResourceChunk), "after_create", _UNCOMPRESSED.execute_if(dialect="postgresql")
)


def create_registry(connection: sa.Connection) -> None:
    """Create the registry tables that do not exist yet."""
    SQLModel.metadata.create_all(connection, tables=REGISTRY_TABLES)

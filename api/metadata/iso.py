"""Countries (ISO 3166-1) and languages (ISO 639) as the standards list them, for every package.

Names and codes come from pycountry (the iso-codes tables). A country's extent comes from
`country_extents.csv`: the bounding box of its Natural Earth 1:50m map subunits (public domain;
`ne_50m_admin_0_map_subunits`, as tabulated by the country-bounding-boxes package), joined per
ISO 3166-1 alpha-3 code (Natural Earth's `PSX` is Palestine, `PSE`) and rounded outward to 0.1
degree, so it is approximate and never smaller than the outline at that scale. Four countries
too small to be drawn at 1:50m have no row: BVT, GIB, TUV, UMI.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pycountry

EXTENTS_FILE = Path(__file__).with_name("country_extents.csv")


@dataclass(frozen=True)
class Extent:
    """A bounding box in WGS 84 decimal degrees."""

    west: float
    south: float
    east: float
    north: float

    @property
    def schema_org_box(self) -> str:
        """The box as schema.org's ``GeoShape`` spells it: south west north east."""
        return " ".join(f"{value:g}" for value in (self.south, self.west, self.north, self.east))


@dataclass(frozen=True)
class Country:
    """An ISO 3166-1 country: its short English name, two-letter code and extent if known."""

    name: str
    alpha_2: str
    extent: Extent | None


@dataclass(frozen=True)
class Language:
    """An ISO 639 language: its English name and BCP 47 tag (ISO 639-1 code, else 639-3)."""

    name: str
    tag: str


@cache
def _extents() -> dict[str, Extent]:
    with EXTENTS_FILE.open(newline="", encoding="utf-8") as handle:
        return {
            row["code"]: Extent(
                float(row["west"]), float(row["south"]), float(row["east"]), float(row["north"])
            )
            for row in csv.DictReader(handle)
        }


@cache
def countries() -> dict[str, Country]:
    """Every ISO 3166-1 country by its three-letter code."""
    extents = _extents()
    return {
        entry.alpha_3: Country(
            name=getattr(entry, "common_name", None) or entry.name,
            alpha_2=entry.alpha_2,
            extent=extents.get(entry.alpha_3),
        )
        for entry in pycountry.countries
    }


@cache
def languages() -> dict[str, Language]:
    """Every ISO 639-3 language (which holds the 639-2/T codes) by its three-letter code."""
    return {
        entry.alpha_3: Language(name=entry.name, tag=getattr(entry, "alpha_2", entry.alpha_3))
        for entry in pycountry.languages
    }


def country(alpha_3: str) -> Country | None:
    """The country with this three-letter code (any case), else None."""
    return countries().get(alpha_3.upper())


def language(alpha_3: str) -> Language | None:
    """The language with this three-letter code (any case), else None."""
    return languages().get(alpha_3.lower())

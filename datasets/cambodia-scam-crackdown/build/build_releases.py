#!/usr/bin/env python3
"""Build the releases of the cambodia-scam-crackdown data package from the research fact sheet.

Usage (from the project root):

    .venv/bin/python datasets/cambodia-scam-crackdown/build/build_releases.py [--research DIR]
        [--check] [--force]

The output is deterministic: the same research input gives byte-identical files. Releases are
immutable, so an existing release folder that would change is an error unless --force is given;
--check writes nothing and fails when any output differs from what is on disk.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import frictionless
from release_metadata import RELEASES
from render_release import cut, render_changelog, render_release
from research_tables import FIGURE_KEYS, BuildError, Row, build_tables, read_csv

HERE = Path(__file__).resolve().parent
PACKAGE_DIR = HERE.parent
PROJECT_ROOT = PACKAGE_DIR.parent.parent
DEFAULT_RESEARCH = HERE / "research"
EXPECTED_FIGURES = 478


def check_figures(research: Path, figures: list[Row]) -> None:
    """Check that every research figure is in the final release once, with its source kept.

    A field that build/corrections.csv re-codes (a metric, a note) is compared with its
    correction instead; the value, qualifier, dates and report of a figure are never corrected.
    """
    source = read_csv(research / "figures.csv")
    if len(source) != EXPECTED_FIGURES or len(figures) != len(source):
        raise BuildError(
            f"figures in {len(source)}, out {len(figures)}, expected {EXPECTED_FIGURES}"
        )
    fixes: dict[str, dict[str, str]] = {}
    for fix in read_csv(HERE / "corrections.csv"):
        if fix["resource"] == "figures":
            fixes.setdefault(fix["key"], {})[fix["field"]] = fix["value"]
    for before, after in zip(source, figures, strict=True):
        fixed = fixes.get(after["figure_id"], {})
        if fixed.keys() & {"report_id", "value", "qualifier", "period_start", "as_of"}:
            raise BuildError(f"{after['figure_id']}: a correction may not touch the reported value")
        if (
            any(fixed.get(key, before[key]) != after[key] for key in FIGURE_KEYS)
            or before["province"] != after["provinces"]
            or not after["notes"].startswith(fixed.get("notes", before["notes"]))
        ):
            raise BuildError(f"{after['figure_id']} does not match its research row")


def validate(folder: Path) -> list[str]:
    """Validate a release folder with frictionless and return its errors, flattened."""
    report = frictionless.Package(str(folder / "datapackage.json")).validate()
    return (
        [
            f"{row[0]} {row[1]} {row[2]}: {row[3]}"
            for row in report.flatten(["taskName", "rowNumber", "fieldName", "message"])
        ]
        if not report.valid
        else []
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--research",
        type=Path,
        default=DEFAULT_RESEARCH,
        help="folder of the research fact sheet (default: build/research, a copy of the "
        "research the package is built from)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=PACKAGE_DIR,
        help="package folder to write (default: the folder above build/)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; fail if any output differs from the files on disk",
    )
    parser.add_argument(
        "--force", action="store_true", help="rewrite release folders that already exist and differ"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build, validate and write (or check) every release and the changelog."""
    args = parse_args(argv)
    tables = build_tables(args.research)
    released = [(release, cut(tables, release)) for release in RELEASES]
    check_figures(args.research, released[-1][1]["figures"])
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        staged = Path(scratch)
        for release, release_tables in released:
            for path, content in render_release(release_tables, release).items():
                target = staged / release.version / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            problems += [
                f"{release.version} {error}" for error in validate(staged / release.version)
            ]
            counts = ", ".join(f"{name} {len(rows)}" for name, rows in release_tables.items())
            sys.stdout.write(f"{release.version} (cut {release.cut}): {counts}\n")
        (staged / "CHANGELOG.md").write_bytes(render_changelog(released))
        if problems:
            sys.stderr.write("\n".join(problems) + "\n")
            return 1
        return install(staged, args.output, check=args.check, force=args.force)


def same_tree(left: Path, right: Path) -> bool:
    """Return whether two folders hold the same files with the same bytes."""
    if not right.is_dir():
        return False
    files = sorted(p.relative_to(left) for p in left.rglob("*") if p.is_file())
    others = sorted(p.relative_to(right) for p in right.rglob("*") if p.is_file())
    return files == others and all(
        (left / f).read_bytes() == (right / f).read_bytes() for f in files
    )


def install(staged: Path, output: Path, *, check: bool, force: bool) -> int:
    """Copy the staged releases and changelog into place, keeping published releases intact."""
    status = 0
    for release in RELEASES:
        source, target = staged / release.version, output / release.version
        if same_tree(source, target):
            sys.stdout.write(f"{release.version}: unchanged\n")
            continue
        if check or (target.exists() and not force):
            reason = "differs from the build" if target.exists() else "is missing"
            sys.stderr.write(f"{release.version}: {target} {reason}\n")
            status = 1
            continue
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target)
        sys.stdout.write(f"{release.version}: written to {target}\n")
    changelog = staged / "CHANGELOG.md"
    current = output / "CHANGELOG.md"
    if not current.is_file() or current.read_bytes() != changelog.read_bytes():
        if check:
            sys.stderr.write(f"{current} differs from the build\n")
            status = 1
        else:
            shutil.copyfile(changelog, current)
    return status


if __name__ == "__main__":
    raise SystemExit(main())

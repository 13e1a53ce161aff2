"""The keyset predicate behind cursor pages and the diff's primary-key streams."""

from __future__ import annotations

import itertools

import sqlalchemy as sa

from api.query.cursor import keyset_predicate

METADATA = sa.MetaData()
PAIRS = sa.Table("pairs", METADATA, sa.Column("a", sa.Integer), sa.Column("b", sa.Integer))
ROWS = list(itertools.product(range(3), range(3)))


def _after(key: tuple[int, int]) -> list[tuple[int, int]]:
    columns = [PAIRS.c.a, PAIRS.c.b]
    where = keyset_predicate(2, lambda i: columns[i] == key[i], lambda i: columns[i] > key[i])
    engine = sa.create_engine("sqlite://")
    with engine.begin() as connection:
        METADATA.create_all(connection)
        connection.execute(sa.insert(PAIRS), [{"a": a, "b": b} for a, b in ROWS])
        found = connection.execute(sa.select(PAIRS.c.a, PAIRS.c.b).where(where)).all()
    return sorted((int(a), int(b)) for a, b in found)


def test_rows_after_a_key_in_lexicographic_order() -> None:
    for key in [(0, 0), (1, 1), (1, 2), (2, 2), (-1, 5)]:
        assert _after(key) == [row for row in ROWS if row > key]


def test_positions_with_no_row_beyond_are_left_out() -> None:
    columns = [PAIRS.c.a, PAIRS.c.b]
    where = keyset_predicate(
        2, lambda i: columns[i] == 1, lambda i: None if i == 0 else columns[i] > 1
    )
    assert (
        str(where.compile(compile_kwargs={"literal_binds": True})) == "pairs.a = 1 AND pairs.b > 1"
    )


def test_no_position_at_all_matches_nothing() -> None:
    where = keyset_predicate(1, lambda _i: sa.true(), lambda _i: None)
    assert str(where.compile(compile_kwargs={"literal_binds": True})) == "false"

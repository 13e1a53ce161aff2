"""The locked LRU behind prepared queries, cached counts and facets, and snapshot documents."""

from __future__ import annotations

import threading

import pytest

from api.lru import LockedLRU


def test_get_is_none_until_put() -> None:
    cache: LockedLRU[str, int] = LockedLRU(2)
    assert cache.get("a") is None
    cache.put("a", 1)
    assert cache.get("a") == 1


def test_the_least_recently_used_goes_first() -> None:
    cache: LockedLRU[str, int] = LockedLRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    assert len(cache) == 2


def test_put_again_replaces_and_refreshes() -> None:
    cache: LockedLRU[str, int] = LockedLRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 10)
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b")) == (10, None)


def test_get_or_build_builds_once_per_key_and_keeps_none() -> None:
    cache: LockedLRU[str, int | None] = LockedLRU(4)
    built: list[str] = []

    def build(key: str, value: int | None) -> int | None:
        built.append(key)
        return value

    assert cache.get_or_build("a", lambda: build("a", None)) is None
    assert cache.get_or_build("a", lambda: build("a", 1)) is None
    assert cache.get_or_build("b", lambda: build("b", 2)) == 2
    assert built == ["a", "b"]


def test_a_failed_build_keeps_nothing() -> None:
    cache: LockedLRU[str, int] = LockedLRU(2)

    def fail() -> int:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        cache.get_or_build("a", fail)
    assert len(cache) == 0


def test_threads_sharing_it_never_exceed_the_size() -> None:
    cache: LockedLRU[int, int] = LockedLRU(8)

    def work(offset: int) -> None:
        for number in range(offset, offset + 500):
            cache.put(number, number)
            cache.get(number - 3)

    threads = [threading.Thread(target=work, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 8

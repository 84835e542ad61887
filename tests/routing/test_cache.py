"""ByteBoundedCache: least recently used entries go first, bounded by the bytes they stand for."""

from __future__ import annotations

import pytest

from src.routing.cache import DEFAULT_BUDGET, ByteBoundedCache

# Each step: ("put", key, size) or ("get", key).
Step = tuple[str, str] | tuple[str, str, int]


def held(budget: int, steps: list[Step]) -> set[str]:
    """The keys still held after the steps."""
    cache = ByteBoundedCache[str](budget)
    for step in steps:
        if step[0] == "put":
            cache.put(step[1], f"value of {step[1]}", step[2])  # type: ignore[misc]
        else:
            cache.get(step[1])
    return {key for key in "abcdez" if cache.get(key) == f"value of {key}"}


@pytest.mark.parametrize(
    ("budget", "steps", "kept"),
    [
        # within the budget, everything is kept
        (10, [("put", "a", 3), ("put", "b", 3), ("put", "c", 4)], {"a", "b", "c"}),
        # one byte over: the oldest goes
        (10, [("put", "a", 3), ("put", "b", 3), ("put", "c", 5)], {"b", "c"}),
        # a read makes an entry recent, so the other one goes
        (10, [("put", "a", 3), ("put", "b", 3), ("get", "a"), ("put", "c", 5)], {"a", "c"}),
        # a miss changes nothing
        (10, [("put", "a", 3), ("put", "b", 3), ("get", "z"), ("put", "c", 5)], {"b", "c"}),
        # as many as it takes go, oldest first
        (10, [("put", "a", 2), ("put", "b", 2), ("put", "c", 2), ("put", "d", 9)], {"d"}),
        (10, [("put", "a", 2), ("put", "b", 2), ("put", "c", 2), ("put", "d", 5)], {"b", "c", "d"}),
        # the bytes count, not the entries: many small ones fit where one big one did
        (10, [("put", key, 1) for key in "abcd"] + [("put", "e", 6)], {"a", "b", "c", "d", "e"}),
        # an entry exactly the budget is kept, alone
        (10, [("put", "a", 3), ("put", "b", 10)], {"b"}),
        # an entry larger than the budget is not kept, and pushes nothing out
        (10, [("put", "a", 3), ("put", "b", 11)], {"a"}),
        (10, [("put", "b", 11)], set()),
        (0, [("put", "a", 1)], set()),
        (0, [("put", "a", 0)], {"a"}),
        # putting a key again replaces it, its old size no longer counted
        (10, [("put", "a", 6), ("put", "a", 6), ("put", "b", 4)], {"a", "b"}),
        (10, [("put", "a", 6), ("put", "b", 4), ("put", "a", 2), ("put", "c", 4)], {"a", "b", "c"}),
        # and makes it recent
        (10, [("put", "a", 3), ("put", "b", 3), ("put", "a", 3), ("put", "c", 5)], {"a", "c"}),
    ],
)
def test_eviction(budget: int, steps: list[Step], kept: set[str]) -> None:
    assert held(budget, steps) == kept


def test_values_are_returned_as_stored() -> None:
    cache = ByteBoundedCache[tuple[int, ...]](100)
    value = (1, 2, 3)
    cache.put("k", value, 10)
    assert cache.get("k") is value
    assert cache.get("missing") is None


def test_the_default_budget_is_4_mib() -> None:
    assert DEFAULT_BUDGET == 4 * 1024 * 1024
    cache = ByteBoundedCache[int]()
    cache.put("a", 1, DEFAULT_BUDGET)
    cache.put("b", 2, 1)
    assert (cache.get("a"), cache.get("b")) == (None, 2)

"""The usage store's reads: summaries by key, model, backend or day, and a key's spend."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from src.usage.store import UsageStore
from tests.usage.record_helpers import T0, make_record

DAY = 86400.0

DATASET = [
    make_record(time=T0, key_name="alice", cost_usd=0.01),
    make_record(time=T0 + 3600, key_name="alice", prompt_tokens=20, completion_tokens=10, cost_usd=None),
    make_record(time=T0 + DAY, key_name="alice", route=None, requested_model="nope", status=404,
                prompt_tokens=None, completion_tokens=None, reasoning_tokens=None, cached_tokens=None, cost_usd=None),
    make_record(time=T0 + DAY + 60, key_name="bob", route="local:llama3", prompt_tokens=100, completion_tokens=50,
                reasoning_tokens=7, cached_tokens=30, cost_usd=None),
    make_record(time=T0 + 2 * DAY, key_name="bob", route="openrouter:anthropic/claude-sonnet-4", status=500,
                prompt_tokens=0, completion_tokens=0, cost_usd=0.5),
]  # fmt: skip


@pytest.fixture
def filled(tmp_path: Path) -> UsageStore:
    store = UsageStore(tmp_path / "u.db")

    async def fill() -> None:
        await store.start()
        for rec in DATASET:
            store.record(rec)
        await store.close()

    asyncio.run(fill())
    return store


def table(summary: dict) -> list[tuple]:
    return [
        (r["group"], r["requests"], r["errors"], r["prompt_tokens"], r["completion_tokens"], r["reasoning_tokens"],
         r["cached_tokens"], None if r["cost_usd"] is None else round(r["cost_usd"], 9))
        for r in summary["rows"]
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("group_by", "since", "key_name", "expected"),
    [
        ("key", None, None, [("bob", 2, 1, 100, 50, 7, 30, 0.5), ("alice", 3, 1, 30, 15, 0, 0, 0.01)]),
        ("model", None, None, [
            ("anthropic/claude-sonnet-4", 1, 1, 0, 0, 0, 0, 0.5), ("openai/gpt-4o", 2, 0, 30, 15, 0, 0, 0.01),
            ("llama3", 1, 0, 100, 50, 7, 30, None), ("nope", 1, 1, 0, 0, 0, 0, None)]),
        ("backend", None, None, [
            ("openrouter", 3, 1, 30, 15, 0, 0, 0.51), (None, 1, 1, 0, 0, 0, 0, None),
            ("local", 1, 0, 100, 50, 7, 30, None)]),
        ("day", None, None, [
            ("2024-05-01", 2, 0, 30, 15, 0, 0, 0.01), ("2024-05-02", 2, 1, 100, 50, 7, 30, None),
            ("2024-05-03", 1, 1, 0, 0, 0, 0, 0.5)]),
        # one key only
        ("day", None, "alice", [("2024-05-01", 2, 0, 30, 15, 0, 0, 0.01), ("2024-05-02", 1, 1, 0, 0, 0, 0, None)]),
        ("key", None, "carol", []),
        # since is inclusive
        ("key", T0 + 3600, None, [("bob", 2, 1, 100, 50, 7, 30, 0.5), ("alice", 2, 1, 20, 10, 0, 0, None)]),
        ("model", T0 + 3600, "alice", [("nope", 1, 1, 0, 0, 0, 0, None), ("openai/gpt-4o", 1, 0, 20, 10, 0, 0, None)]),
        ("backend", T0 + 3 * DAY, None, []),
    ],
)  # fmt: skip
def test_summary(filled: UsageStore, group_by: str, since: float | None, key_name: str | None, expected: list) -> None:
    summary = filled.summary(since, group_by, key_name)
    assert (summary["group_by"], table(summary)) == (group_by, expected)
    totals = summary["totals"]
    for field in ("requests", "errors", "prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens"):
        assert totals[field] == sum(row[field] for row in summary["rows"])
    costs = [row["cost_usd"] for row in summary["rows"] if row["cost_usd"] is not None]
    assert totals["cost_usd"] == (pytest.approx(sum(costs)) if costs else None)


def test_summary_since_is_iso(filled: UsageStore) -> None:
    assert filled.summary(T0, "key")["since"] == "2024-05-01T00:00:00Z"
    assert filled.summary(None, "key")["since"] is None


def test_summary_rejects_unknown_group(filled: UsageStore) -> None:
    with pytest.raises(ValueError, match="unknown group_by 'user'"):
        filled.summary(None, "user")


@pytest.mark.parametrize(
    ("key_name", "since", "expected"),
    [("alice", None, 0.01), ("alice", T0 + 1, 0.0), ("bob", None, 0.5), ("bob", T0 + 2 * DAY, 0.5),
     ("bob", T0 + 2 * DAY + 1, 0.0), ("carol", None, 0.0)],
)  # fmt: skip
def test_spent(filled: UsageStore, key_name: str, since: float | None, expected: float) -> None:
    assert filled.key_history(key_name, since, 20)[0] == pytest.approx(expected)


def test_key_history_gives_the_latest_known_costs_oldest_first(tmp_path: Path) -> None:
    store = UsageStore(tmp_path / "u.db")

    async def fill() -> None:
        await store.start()
        for i, cost in enumerate((0.1, None, 0.3, 0.2, 0.4)):
            store.record(make_record(time=T0 + i, cost_usd=cost))
        store.record(make_record(time=T0 + 9, cost_usd=9.0, key_name="bob"))
        await store.close()

    asyncio.run(fill())
    assert store.key_history("alice", None, 3) == (pytest.approx(1.0), [0.3, 0.2, 0.4])
    assert store.key_history("alice", T0 + 3, 20) == (pytest.approx(0.6), [0.1, 0.3, 0.2, 0.4])

"""The usage stores' reads, on SQLite and on PostgreSQL alike: summaries by key, model, backend or day,
and a key's spend and recent costs; and both stores' answers to the same records are the same."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from src.usage.record import UsageRecord
from src.usage.store import GROUPS, UsageStore
from tests.fakes.postgres import fresh_database, run_sync
from tests.usage.record_helpers import T0, make_record
from tests.usage.store_helpers import Db, PostgresDb, SqliteDb, db_fixture  # noqa: F401

pytestmark = pytest.mark.anyio
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


def filled_store(db: Db, records: list[UsageRecord]) -> UsageStore:
    """A closed store of `db` that wrote `records` (on a loop of its own, as a proxy that ran before)."""
    store = db.store()

    async def fill() -> None:
        await store.start()
        for rec in records:
            store.record(rec)
        await store.close()

    run_sync(fill)
    return store


@pytest.fixture
def filled(db: Db) -> UsageStore:
    return filled_store(db, DATASET)


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
async def test_summary(
    filled: UsageStore, group_by: str, since: float | None, key_name: str | None, expected: list
) -> None:
    summary = await filled.summary(since, group_by, key_name)
    assert (summary["group_by"], table(summary)) == (group_by, expected)
    totals = summary["totals"]
    for field in ("requests", "errors", "prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens"):
        assert totals[field] == sum(row[field] for row in summary["rows"])
        assert type(totals[field]) is int
    costs = [row["cost_usd"] for row in summary["rows"] if row["cost_usd"] is not None]
    assert totals["cost_usd"] == (pytest.approx(sum(costs)) if costs else None)


async def test_summary_since_is_iso(filled: UsageStore) -> None:
    assert (await filled.summary(T0, "key"))["since"] == "2024-05-01T00:00:00Z"
    assert (await filled.summary(None, "key"))["since"] is None


async def test_summary_rejects_unknown_group(filled: UsageStore) -> None:
    with pytest.raises(ValueError, match="unknown group_by 'user'"):
        await filled.summary(None, "user")


@pytest.mark.parametrize(
    ("key_name", "since", "expected"),
    [("alice", None, 0.01), ("alice", T0 + 1, 0.0), ("bob", None, 0.5), ("bob", T0 + 2 * DAY, 0.5),
     ("bob", T0 + 2 * DAY + 1, 0.0), ("carol", None, 0.0)],
)  # fmt: skip
async def test_spent(filled: UsageStore, key_name: str, since: float | None, expected: float) -> None:
    spent, _ = await filled.key_history(key_name, since, 20)
    assert spent == pytest.approx(expected) and type(spent) is float


async def test_key_history_gives_the_latest_known_costs_oldest_first(db: Db) -> None:
    records = [make_record(time=T0 + i, cost_usd=cost) for i, cost in enumerate((0.1, None, 0.3, 0.2, 0.4))]
    records += [make_record(time=T0 + 4, cost_usd=0.7), make_record(time=T0 + 9, cost_usd=9.0, key_name="bob")]
    store = filled_store(db, records)
    spent, recent = await store.key_history("alice", None, 3)
    assert spent == pytest.approx(1.7) and recent == [0.2, 0.4, 0.7]  # the two at the same time: in their order
    spent, recent = await store.key_history("alice", T0 + 3, 20)
    assert spent == pytest.approx(1.3) and recent == [0.1, 0.3, 0.2, 0.4, 0.7]


# Ties everywhere (same cost, same count), text that sorts one way bytewise and another by a
# language's rules (`B` < `_b` < `a` bytewise; `_b` < `a` < `B` in en-US), groups that are NULL,
# unknown costs, and days that start and end at UTC midnight.
PARITY = [
    make_record(time=T0 + i * 21_601.5, key_name=key, route=route, requested_model=model, status=status,
                cost_usd=cost, prompt_tokens=i, completion_tokens=2 * i)
    for i, (key, route, model, status, cost) in enumerate(itertools.product(
        ["B", "_b", "a", "Zed"], [None, "openrouter:x/Y", "local:x/y", "Local:a"], ["m", "M"], [200, 429],
        [None, 0.25],
    ))
] + [make_record(time=T0 + 3 * DAY - 0.001, key_name="a", cost_usd=0.25), make_record(time=T0 + 3 * DAY, key_name="a")]  # fmt: skip


async def test_both_stores_give_the_same_answers(tmp_path: Path, postgres_url: str) -> None:
    sqlite = filled_store(SqliteDb(tmp_path / "u.db"), PARITY)
    postgres = filled_store(PostgresDb(fresh_database(postgres_url)), PARITY)
    for group_by, since, key in itertools.product(GROUPS, [None, T0 + DAY, T0 + 3 * DAY], [None, "a", "B", "nobody"]):
        expected, got = await sqlite.summary(since, group_by, key), await postgres.summary(since, group_by, key)
        assert _rounded(got) == _rounded(expected), (group_by, since, key)
    for key, since in itertools.product(["B", "_b", "a", "Zed"], [None, T0 + DAY]):
        spent, recent = await sqlite.key_history(key, since, 5)
        pg_spent, pg_recent = await postgres.key_history(key, since, 5)
        assert pg_spent == pytest.approx(spent) and pg_recent == recent


def _rounded(summary: dict[str, Any]) -> dict[str, Any]:
    def fix(values: dict[str, Any]) -> dict[str, Any]:
        cost = values["cost_usd"]
        return {**values, "cost_usd": None if cost is None else round(cost, 9)}

    return {**summary, "totals": fix(summary["totals"]), "rows": [fix(row) for row in summary["rows"]]}

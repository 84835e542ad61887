"""The SQLite usage store: batched writes off the event loop, and the summaries read back."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import orjson
import pytest

from src.usage import schema
from src.usage.record import Attempt, UsageRecord
from src.usage.store import UsageStore
from tests.usage.record_helpers import T0, make_record

pytestmark = pytest.mark.anyio
DAY = 86400.0


def rows(path: Path, sql: str = "SELECT * FROM requests ORDER BY id") -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def wait_for(condition: object, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_round_trip(tmp_path: Path) -> None:
    store = UsageStore(tmp_path / "u.db")
    await store.start()
    first = make_record(
        attempts=(Attempt("openrouter:openai/gpt-4o", 429, "status_429", 12.5), Attempt("local:llama3:8b", 200, "ok", 80.0)),
        route="local:llama3:8b", reasoning_tokens=3, cached_tokens=4, ttft_ms=33.0, stream=True, user_agent=None,
    )  # fmt: skip
    failed = make_record(route=None, status=502, prompt_tokens=None, completion_tokens=None, cost_usd=None,
                         attempts=(Attempt("openrouter:x", None, "timeout", 600000.0),))  # fmt: skip
    store.record(first)
    store.record(failed)
    await store.close()
    one, two = rows(tmp_path / "u.db")
    assert dict(one) | {"id": 0} == {
        "id": 0, "time": T0, "key_name": "alice", "user_agent": None, "frontend": "openai",
        "requested_model": "gpt-4o", "route": "local:llama3:8b", "backend": "local", "model": "llama3:8b",
        "status": 200, "prompt_tokens": 10, "completion_tokens": 5, "reasoning_tokens": 3, "cached_tokens": 4,
        "cost_usd": 0.01, "latency_ms": 120.0, "ttft_ms": 33.0, "stream": 1, "attempts": one["attempts"],
    }  # fmt: skip
    assert orjson.loads(one["attempts"]) == [
        {"route": "openrouter:openai/gpt-4o", "status": 429, "outcome": "status_429", "latency_ms": 12.5},
        {"route": "local:llama3:8b", "status": 200, "outcome": "ok", "latency_ms": 80.0},
    ]
    assert (two["route"], two["backend"], two["status"], two["cost_usd"], two["prompt_tokens"]) == (
        None, None, 502, None, None)  # fmt: skip
    assert orjson.loads(two["attempts"]) == [
        {"route": "openrouter:x", "status": None, "outcome": "timeout", "latency_ms": 600000.0}
    ]


async def test_close_writes_everything_still_queued(tmp_path: Path) -> None:
    store = UsageStore(tmp_path / "u.db", flush_interval=60, batch_size=1000)
    await store.start()
    for i in range(5):
        store.record(make_record(time=T0 + i))
    await asyncio.sleep(0.05)
    assert store.written == 0  # neither 60 s nor 1000 records yet
    await store.close()
    assert (store.written, store.batches) == (5, 1)
    assert len(rows(tmp_path / "u.db")) == 5
    store.record(make_record())  # after close: not kept, and no error
    await store.close()
    assert len(rows(tmp_path / "u.db")) == 5


async def test_batches_by_size(tmp_path: Path) -> None:
    store = UsageStore(tmp_path / "u.db", flush_interval=60, batch_size=200)
    await store.start()
    for i in range(450):
        store.record(make_record(time=T0 + i))
    await wait_for(lambda: store.written >= 200)  # a full batch is written at once, with all that waits
    await asyncio.sleep(0.05)
    settled = store.written
    assert 450 - settled < 200  # only fewer than a batch is left to wait for the interval
    await asyncio.sleep(0.05)
    assert store.written == settled
    await store.close()
    assert store.written == 450


async def test_batches_by_time(tmp_path: Path) -> None:
    store = UsageStore(tmp_path / "u.db", flush_interval=0.15, batch_size=1000)
    await store.start()
    for i in range(10):
        store.record(make_record(time=T0 + i))
    await wait_for(lambda: store.written == 10)
    assert store.batches == 1
    await store.close()


async def test_thousand_records_and_records_before_start(tmp_path: Path) -> None:
    store = UsageStore(tmp_path / "u.db")
    store.record(make_record(key_name="early"))  # queued before start: written once started
    await store.start()
    for i in range(999):
        store.record(make_record(time=T0 + i, key_name=f"k{i % 7}"))
    await store.close()
    assert store.written == 1000
    assert store.summary(None, "key")["totals"]["requests"] == 1000
    assert rows(tmp_path / "u.db", "SELECT COUNT(*) FROM requests WHERE key_name = 'early'")[0][0] == 1


@pytest.mark.parametrize("count", [1, schema.ROWS_PER_INSERT, schema.ROWS_PER_INSERT + 1, 3 * schema.ROWS_PER_INSERT + 7])
def test_a_batch_is_written_in_multi_row_inserts_in_order(tmp_path: Path, count: int) -> None:
    statements = schema.insert_statements([schema.row_of(make_record(time=T0 + i)) for i in range(count)])
    assert len(statements) == -(-count // schema.ROWS_PER_INSERT)
    assert all(len(values) <= 999 for _, values in statements)
    conn = schema.connect(tmp_path / "u.db")
    for sql, values in statements:
        conn.execute(sql, values)
    conn.close()
    assert [row["time"] for row in rows(tmp_path / "u.db")] == [T0 + i for i in range(count)]


async def test_flush_waits_for_the_queue(tmp_path: Path) -> None:
    store = UsageStore(tmp_path / "u.db", flush_interval=60)
    await store.start()
    store.record(make_record(cost_usd=0.25))
    await store.flush()
    assert store.spent("alice", None) == 0.25
    await store.close()


async def test_close_without_start_still_writes(tmp_path: Path) -> None:
    store = UsageStore(tmp_path / "u.db")
    store.record(make_record())
    await store.close()
    assert len(rows(tmp_path / "u.db")) == 1


@pytest.mark.parametrize(
    "failure",
    [sqlite3.OperationalError("disk I/O error"), sqlite3.DatabaseError("database disk image is malformed")],
    ids=["operational", "database"],
)
async def test_failed_batch_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception) -> None:
    real, calls = schema.row_of, []

    def flaky(rec: UsageRecord) -> tuple[object, ...]:
        calls.append(rec)
        if len(calls) == 1:
            raise failure
        return real(rec)

    monkeypatch.setattr(schema, "row_of", flaky)
    store = UsageStore(tmp_path / "u.db", flush_interval=0.02)
    await store.start()
    store.record(make_record())
    store.record(make_record())
    await wait_for(lambda: store.written == 2)
    await store.close()
    assert len(rows(tmp_path / "u.db")) == 2


@pytest.mark.parametrize("batch_size", [1, 3, 200])
@pytest.mark.parametrize(
    "refused",
    [{"prompt_tokens": 2**64}, {"user_agent": {"not": "text"}}],  # past SQLite's INTEGER; a type it cannot bind
    ids=["too-large", "wrong-type"],
)
async def test_a_record_sqlite_refuses_is_dropped_and_the_rest_are_kept(
    tmp_path: Path, batch_size: int, refused: dict[str, object]
) -> None:
    store = UsageStore(tmp_path / "u.db", flush_interval=0.02, batch_size=batch_size)
    await store.start()
    store.record(make_record(requested_model="before"))
    store.record(make_record(requested_model="refused", **refused))
    store.record(make_record(requested_model="after"))
    await store.flush()
    store.record(make_record(requested_model="later"))
    await store.close()
    assert [row["requested_model"] for row in rows(tmp_path / "u.db")] == ["before", "after", "later"]
    assert store.written == 3


async def test_a_database_failure_while_isolating_a_bad_record_keeps_the_rest_for_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real, calls = schema.row_of, []

    def failing(rec: UsageRecord) -> tuple[object, ...]:
        calls.append(rec.requested_model)
        if rec.requested_model == "bad":
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        if rec.requested_model == "locked" and calls.count("locked") == 1:  # its first write, alone
            raise sqlite3.OperationalError("database is locked")
        return real(rec)

    monkeypatch.setattr(schema, "row_of", failing)
    store = UsageStore(tmp_path / "u.db", flush_interval=0.02, batch_size=3)
    await store.start()
    store.record(make_record(requested_model="bad"))
    store.record(make_record(requested_model="locked"))
    store.record(make_record(requested_model="good"))
    await wait_for(lambda: store.written == 2)  # "locked" and "good" on the next try, "bad" never
    await store.close()
    assert [row["requested_model"] for row in rows(tmp_path / "u.db")] == ["locked", "good"]
    assert calls.count("bad") == 2  # once in the batch, once alone: then dropped, not retried


async def test_flush_after_close_returns_at_once(tmp_path: Path) -> None:
    store = UsageStore(tmp_path / "u.db")
    await store.start()
    store.record(make_record())
    await store.close()
    await asyncio.wait_for(store.flush(), 1.0)
    assert len(rows(tmp_path / "u.db")) == 1


async def test_flush_racing_close_ends(tmp_path: Path) -> None:
    store = UsageStore(tmp_path / "u.db", flush_interval=60)
    await store.start()
    store.record(make_record())
    closing = asyncio.ensure_future(store.close())
    await asyncio.sleep(0)  # close() has queued its stop; this flush comes after it
    await asyncio.wait_for(asyncio.gather(store.flush(), closing), 3.0)
    assert len(rows(tmp_path / "u.db")) == 1


async def test_disabled_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = UsageStore(None)
    assert not store.enabled
    await store.start()
    store.record(make_record())
    await store.flush()
    await store.close()
    assert store.summary(None, "model") == {
        "since": None, "group_by": "model", "rows": [],
        "totals": {"requests": 0, "errors": 0, "prompt_tokens": 0, "completion_tokens": 0, "reasoning_tokens": 0,
                   "cached_tokens": 0, "cost_usd": None},
    }  # fmt: skip
    assert store.spent("alice", None) == 0.0
    assert list(tmp_path.iterdir()) == []


def test_reading_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    store = UsageStore(tmp_path / "none.db")
    assert store.summary(T0, "day")["totals"]["requests"] == 0
    assert store.spent("alice", None) == 0.0
    assert not (tmp_path / "none.db").exists()


async def test_schema_version_is_written_in_wal_mode(tmp_path: Path) -> None:
    store = UsageStore(tmp_path / "u.db")
    await store.start()
    await store.close()
    assert rows(tmp_path / "u.db", "PRAGMA user_version")[0][0] == schema.SCHEMA_VERSION == 1
    assert rows(tmp_path / "u.db", "PRAGMA journal_mode")[0][0] == "wal"
    indexes = {r[0] for r in rows(tmp_path / "u.db", "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"requests_time", "requests_key_time"} <= indexes


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(schema.SchemaError, match=r"schema version 99 is newer than this Switchyard supports \(1\)"):
        await UsageStore(path).start()
    with pytest.raises(schema.SchemaError, match="newer"):
        UsageStore(path).summary(None, "key")
    assert rows(path, "PRAGMA user_version")[0][0] == 99


async def test_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(schema.SchemaError, match="not a usage database"):
        await UsageStore(path).start()


def test_migrate_steps_once(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "u.db", isolation_level=None)
    assert schema.migrate(conn) == schema.SCHEMA_VERSION
    assert schema.migrate(conn) == schema.SCHEMA_VERSION  # nothing left to do, and no error
    conn.close()


def test_failed_migration_leaves_the_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("boom")

    monkeypatch.setattr(schema, "MIGRATIONS", (broken,))
    conn = sqlite3.connect(tmp_path / "u.db", isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="boom"):
        schema.migrate(conn)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'half_done'").fetchone()[0] == 0
    conn.close()


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
    assert filled.spent(key_name, since) == pytest.approx(expected)

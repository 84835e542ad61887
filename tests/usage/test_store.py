"""The SQLite usage store: batched writes off the event loop (reads: test_store_reads.py; schema: test_schema.py)."""

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
from tests.usage.store_helpers import rows, written

pytestmark = pytest.mark.anyio


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch the store commits: it builds each batch's inserts once, in one transaction."""
    real, sizes = schema.insert_statements, []

    def counting(batch: list[tuple[object, ...]]) -> list[tuple[str, list[object]]]:
        sizes.append(len(batch))
        return real(batch)

    monkeypatch.setattr(schema, "insert_statements", counting)
    return sizes


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
        "cost_usd": 0.01, "latency_ms": 120.0, "ttft_ms": 33.0, "stream": 1, "attempts": one["attempts"], "upstream_key": None,
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


async def test_close_writes_everything_still_queued(tmp_path: Path, commits: list[int]) -> None:
    store = UsageStore(tmp_path / "u.db", flush_interval=60, batch_size=1000)
    await store.start()
    for i in range(5):
        store.record(make_record(time=T0 + i))
    await asyncio.sleep(0.05)
    assert written(tmp_path / "u.db") == 0 and commits == []  # neither 60 s nor 1000 records yet
    await store.close()
    assert commits == [5]  # one batch
    assert len(rows(tmp_path / "u.db")) == 5
    store.record(make_record())  # after close: not kept, and no error
    await store.close()
    assert len(rows(tmp_path / "u.db")) == 5


async def test_batches_by_size(tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    store = UsageStore(path, flush_interval=60, batch_size=200)
    await store.start()
    for i in range(450):
        store.record(make_record(time=T0 + i))
    await wait_for(lambda: written(path) >= 200)  # a full batch is written at once, with all that waits
    await asyncio.sleep(0.05)
    settled = written(path)
    assert 450 - settled < 200  # only fewer than a batch is left to wait for the interval
    await asyncio.sleep(0.05)
    assert written(path) == settled
    await store.close()
    assert written(path) == 450


async def test_batches_by_time(tmp_path: Path, commits: list[int]) -> None:
    store = UsageStore(tmp_path / "u.db", flush_interval=0.15, batch_size=1000)
    await store.start()
    for i in range(10):
        store.record(make_record(time=T0 + i))
    await wait_for(lambda: written(tmp_path / "u.db") == 10)
    assert commits == [10]
    await store.close()


async def test_thousand_records_and_records_before_start(tmp_path: Path) -> None:
    store = UsageStore(tmp_path / "u.db")
    store.record(make_record(key_name="early"))  # queued before start: written once started
    await store.start()
    for i in range(999):
        store.record(make_record(time=T0 + i, key_name=f"k{i % 7}"))
    await store.close()
    assert written(tmp_path / "u.db") == 1000
    assert store.summary(None, "key")["totals"]["requests"] == 1000
    assert rows(tmp_path / "u.db", "SELECT COUNT(*) FROM requests WHERE key_name = 'early'")[0][0] == 1


async def test_flush_waits_for_the_queue(tmp_path: Path) -> None:
    store = UsageStore(tmp_path / "u.db", flush_interval=60)
    await store.start()
    store.record(make_record(cost_usd=0.25))
    await store.flush()
    assert store.key_history("alice", None, 20) == (0.25, [0.25])
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
    await wait_for(lambda: written(tmp_path / "u.db") == 2)
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
    await wait_for(lambda: written(tmp_path / "u.db") == 2)  # "locked" and "good" on the next try, "bad" never
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
    assert store.key_history("alice", None, 20) == (0.0, [])
    assert list(tmp_path.iterdir()) == []


def test_reading_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    store = UsageStore(tmp_path / "none.db")
    assert store.summary(T0, "day")["totals"]["requests"] == 0
    assert store.key_history("alice", None, 20) == (0.0, [])
    assert not (tmp_path / "none.db").exists()

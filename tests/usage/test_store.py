"""The usage stores' writes, on SQLite and on PostgreSQL alike: batches off the event loop, retries,
refused records, idempotent records (reads: test_store_reads.py; schemas: test_schema.py and
test_postgres_schema.py; what is PostgreSQL's own: test_postgres_store.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import pytest

from src.usage import schema
from src.usage.record import Attempt, UsageRecord
from src.usage.store import open_store
from tests.usage.record_helpers import T0, make_record
from tests.usage.store_helpers import Db, db_fixture, usage_log_fixture  # noqa: F401

pytestmark = pytest.mark.anyio


async def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_round_trip(db: Db) -> None:
    store = db.store()
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
    one, two = db.rows()
    assert one | {"id": 0} == {
        "id": 0, "time": T0, "key_name": "alice", "user_agent": None, "frontend": "openai",
        "requested_model": "gpt-4o", "route": "local:llama3:8b", "backend": "local", "model": "llama3:8b",
        "status": 200, "prompt_tokens": 10, "completion_tokens": 5, "reasoning_tokens": 3, "cached_tokens": 4,
        "cost_usd": 0.01, "latency_ms": 120.0, "ttft_ms": 33.0, "stream": 1, "attempts": one["attempts"],
        "upstream_key": None, "request_id": first.request_id,
    }  # fmt: skip
    assert orjson.loads(one["attempts"]) == [
        {"route": "openrouter:openai/gpt-4o", "status": 429, "outcome": "status_429", "latency_ms": 12.5},
        {"route": "local:llama3:8b", "status": 200, "outcome": "ok", "latency_ms": 80.0},
    ]
    assert (two["route"], two["backend"], two["status"], two["cost_usd"], two["prompt_tokens"], two["request_id"]) == (
        None, None, 502, None, None, failed.request_id)  # fmt: skip
    assert orjson.loads(two["attempts"]) == [
        {"route": "openrouter:x", "status": None, "outcome": "timeout", "latency_ms": 600000.0}
    ]
    assert len(first.request_id) == 32 and first.request_id != failed.request_id


async def test_close_writes_everything_still_queued(db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    commits = db.commits(monkeypatch)
    store = db.store(flush_interval=60, batch_size=1000)
    await store.start()
    for i in range(5):
        store.record(make_record(time=T0 + i))
    await asyncio.sleep(0.05)
    assert db.written() == 0 and commits == []  # neither 60 s nor 1000 records yet
    await store.close()
    assert commits == [5]  # one batch
    assert db.written() == 5
    store.record(make_record())  # after close: not kept, and no error
    await store.close()
    assert db.written() == 5


async def test_batches_by_size(db: Db) -> None:
    store = db.store(flush_interval=60, batch_size=200)
    await store.start()
    for i in range(450):
        store.record(make_record(time=T0 + i))
    await wait_for(lambda: db.written() >= 200)  # a full batch is written at once, with all that waits
    await asyncio.sleep(0.05)
    settled = db.written()
    assert 450 - settled < 200  # only fewer than a batch is left to wait for the interval
    await asyncio.sleep(0.05)
    assert db.written() == settled
    await store.close()
    assert db.written() == 450


async def test_batches_by_time(db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    commits = db.commits(monkeypatch)
    store = db.store(flush_interval=0.15, batch_size=1000)
    await store.start()
    for i in range(10):
        store.record(make_record(time=T0 + i))
    await wait_for(lambda: db.written() == 10)
    assert commits == [10]
    await store.close()


async def test_thousand_records_and_records_before_start(db: Db) -> None:
    store = db.store()
    store.record(make_record(key_name="early"))  # queued before start: written once started
    await store.start()
    for i in range(999):
        store.record(make_record(time=T0 + i, key_name=f"k{i % 7}"))
    await store.close()
    assert db.written() == 1000
    assert (await store.summary(None, "key"))["totals"]["requests"] == 1000
    assert [row["key_name"] for row in db.rows()].count("early") == 1


async def test_flush_waits_for_the_queue(db: Db) -> None:
    store = db.store(flush_interval=60)
    await store.start()
    store.record(make_record(cost_usd=0.25))
    await store.flush()
    assert await store.key_history("alice", None, 20) == (0.25, [0.25])
    await store.close()


async def test_close_without_start_still_writes(db: Db) -> None:
    store = db.store()
    store.record(make_record())
    await store.close()
    assert db.written() == 1


async def test_a_batch_written_twice_counts_once(db: Db, usage_log: pytest.LogCaptureFixture) -> None:
    batch = [make_record(time=T0 + i, cost_usd=0.5) for i in range(3)]
    store = db.store(flush_interval=60)
    await store.start()
    for rec in batch:
        store.record(rec)
    await store.flush()
    new = make_record(time=T0 + 9, cost_usd=0.5)
    for rec in (*batch, *batch, new):  # again, twice within one batch, beside a new one
        store.record(rec)
    await store.close()
    assert [row["request_id"] for row in db.rows()] == [rec.request_id for rec in (*batch, new)]
    assert (await store.summary(None, "key"))["totals"]["requests"] == 4
    assert await store.key_history("alice", None, 20) == (2.0, [0.5, 0.5, 0.5, 0.5])
    assert "dropped" not in usage_log.text  # skipped as written already, not refused


async def test_a_batch_whose_commit_landed_but_seemed_to_fail_is_retried_and_counts_once(
    db: Db, monkeypatch: pytest.MonkeyPatch, usage_log: pytest.LogCaptureFixture
) -> None:
    store = db.store(flush_interval=0.02)
    lost = db.lose_an_acknowledgement(store, monkeypatch)
    await store.start()
    for i in range(3):
        store.record(make_record(time=T0 + i))
    await store.flush()  # the first write "failed": the batch is kept and written again
    await wait_for(lambda: lost == [3] and db.written() == 3)
    store.record(make_record(time=T0 + 3))
    await store.close()
    assert [row["time"] for row in db.rows()] == [T0, T0 + 1, T0 + 2, T0 + 3]
    assert "cannot write 3 records, will retry" in usage_log.text and "dropped" not in usage_log.text


@pytest.mark.parametrize("fault", ["transient", "broken"])
async def test_failed_batch_is_retried(db: Db, monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    real, calls = schema.row_of, []

    def flaky(rec: UsageRecord) -> tuple[object, ...]:
        calls.append(rec)
        if len(calls) == 1:
            raise db.faults[fault]
        return real(rec)

    monkeypatch.setattr(schema, "row_of", flaky)  # the one module both stores build rows with
    store = db.store(flush_interval=0.02)
    await store.start()
    store.record(make_record())
    store.record(make_record())
    await wait_for(lambda: db.written() == 2)
    await store.close()
    assert db.written() == 2 and len(calls) == 3  # the batch failed at its first record, then was written whole


@pytest.mark.parametrize("batch_size", [1, 3, 200])
@pytest.mark.parametrize(
    "refused",
    [{"prompt_tokens": 2**64}, {"user_agent": {"not": "text"}}],  # past a 64-bit integer; a type it cannot bind
    ids=["too-large", "wrong-type"],
)
async def test_a_record_the_database_refuses_is_dropped_and_the_rest_are_kept(
    db: Db, batch_size: int, refused: dict[str, object], usage_log: pytest.LogCaptureFixture
) -> None:
    store = db.store(flush_interval=0.02, batch_size=batch_size)
    await store.start()
    store.record(make_record(requested_model="before"))
    store.record(make_record(requested_model="refused", **refused))
    store.record(make_record(requested_model="after"))
    await store.flush()
    store.record(make_record(requested_model="later"))
    await store.close()
    assert [row["requested_model"] for row in db.rows()] == ["before", "after", "later"]
    assert "1 records cannot be written and are dropped: refused (" in usage_log.text


async def test_a_database_failure_while_isolating_a_bad_record_keeps_the_rest_for_retry(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    real, calls = schema.row_of, []

    def failing(rec: UsageRecord) -> tuple[object, ...]:
        calls.append(rec.requested_model)
        if rec.requested_model == "bad":
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        if rec.requested_model == "locked" and calls.count("locked") == 1:  # its first write, alone
            raise db.faults["transient"]
        return real(rec)

    monkeypatch.setattr(schema, "row_of", failing)
    store = db.store(flush_interval=0.02, batch_size=3)
    await store.start()
    store.record(make_record(requested_model="bad"))
    store.record(make_record(requested_model="locked"))
    store.record(make_record(requested_model="good"))
    await wait_for(lambda: db.written() == 2)  # "locked" and "good" on the next try, "bad" never
    await store.close()
    assert [row["requested_model"] for row in db.rows()] == ["locked", "good"]
    assert calls.count("bad") == 2  # once in the batch, once alone: then dropped, not retried


async def test_flush_after_close_returns_at_once(db: Db) -> None:
    store = db.store()
    await store.start()
    store.record(make_record())
    await store.close()
    await asyncio.wait_for(store.flush(), 1.0)
    assert db.written() == 1


async def test_flush_racing_close_ends(db: Db) -> None:
    store = db.store(flush_interval=60)
    await store.start()
    store.record(make_record())
    closing = asyncio.ensure_future(store.close())
    await asyncio.sleep(0)  # close() has queued its stop; this flush comes after it
    await asyncio.wait_for(asyncio.gather(store.flush(), closing), 3.0)
    assert db.written() == 1


async def test_disabled_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store(None)
    assert not store.enabled
    await store.start()
    store.record(make_record())
    await store.flush()
    await store.close()
    assert await store.summary(None, "model") == {
        "since": None, "group_by": "model", "rows": [],
        "totals": {"requests": 0, "errors": 0, "prompt_tokens": 0, "completion_tokens": 0, "reasoning_tokens": 0,
                   "cached_tokens": 0, "cost_usd": None},
    }  # fmt: skip
    assert await store.key_history("alice", None, 20) == (0.0, [])
    assert list(tmp_path.iterdir()) == []


async def test_reading_a_missing_sqlite_file_creates_nothing(tmp_path: Path) -> None:
    store = open_store(tmp_path / "none.db")
    assert (await store.summary(T0, "day"))["totals"]["requests"] == 0
    assert await store.key_history("alice", None, 20) == (0.0, [])
    assert not (tmp_path / "none.db").exists()

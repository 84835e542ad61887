"""What is the PostgreSQL store's own: a server it cannot reach or log into (never showing the URL's
password), reads that create nothing, text PostgreSQL cannot hold, connections the server drops,
and the pool it owns."""

from __future__ import annotations

import asyncio
import time

import pytest

from src.usage.store import UsageDatabaseError, open_store
from tests.fakes.postgres import PASSWORD, free_port, fresh_database, query
from tests.usage.record_helpers import T0, make_record
from tests.usage.store_helpers import PostgresDb, usage_log_fixture  # noqa: F401

pytestmark = pytest.mark.anyio


@pytest.fixture
def db(postgres_url: str) -> PostgresDb:
    return PostgresDb(fresh_database(postgres_url))


def connections(db: PostgresDb) -> int:
    """The connections to the test's database, other than the one asking."""
    sql = "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    return int(query(db.url, sql)[0]["n"])


async def test_a_server_it_cannot_reach_is_one_line_without_the_password() -> None:
    port = free_port()
    url = f"postgresql://switchyard:{PASSWORD}@127.0.0.1:{port}/usage"
    store = open_store(url)
    for attempt in (store.start(), store.summary(None, "key"), store.key_history("a", None, 1)):
        with pytest.raises(UsageDatabaseError, match="^cannot connect: ") as failed:
            await attempt
        assert PASSWORD not in str(failed.value) and "\n" not in str(failed.value)
    assert open_store(url).name == f"postgresql://switchyard:***@127.0.0.1:{port}/usage"


async def test_a_wrong_password_is_refused_without_showing_it(db: PostgresDb) -> None:
    url = db.url.replace(PASSWORD, "wrong-password-123")
    with pytest.raises(UsageDatabaseError, match="password authentication failed") as failed:
        await open_store(url).summary(None, "key")
    assert "wrong-password-123" not in str(failed.value)


async def test_reading_an_empty_database_creates_nothing(db: PostgresDb) -> None:
    store = open_store(db.url)
    assert (await store.summary(T0, "day"))["totals"]["requests"] == 0
    assert await store.key_history("alice", None, 20) == (0.0, [])
    assert query(db.url, "SELECT COUNT(*) AS n FROM pg_tables WHERE schemaname = 'public'") == [{"n": 0}]


async def test_text_with_nul_is_kept(db: PostgresDb) -> None:
    store = open_store(db.url)
    await store.start()
    store.record(make_record(requested_model="gpt\x00-4o", user_agent="ua\x00", route="openrouter:x\x00y"))
    await store.close()
    [row] = db.rows()
    assert (row["requested_model"], row["user_agent"], row["model"]) == ("gpt\ufffd-4o", "ua\ufffd", "x\ufffdy")
    assert '"route":"openrouter:x\\u0000y"' in row["attempts"]  # JSON text: the escape is plain ASCII


async def test_the_writer_outlives_the_server_dropping_its_connections(db: PostgresDb) -> None:
    store = open_store(db.url, flush_interval=0.02)
    await store.start()
    store.record(make_record(time=T0))
    await store.flush()
    query(db.url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE datname = current_database() AND pid <> pg_backend_pid()")  # fmt: skip
    store.record(make_record(time=T0 + 1))
    deadline = time.monotonic() + 5
    while db.written() < 2:
        assert time.monotonic() < deadline, "the record after the drop was never written"
        await asyncio.sleep(0.02)
    assert (await store.summary(None, "key"))["totals"]["requests"] == 2
    await store.close()


async def test_close_closes_the_pool_and_reads_still_work(db: PostgresDb) -> None:
    store = open_store(db.url)
    await store.start()
    store.record(make_record(cost_usd=0.5))
    await store.flush()
    assert 1 <= connections(db) <= 4  # the pool: small, and the store's own
    await store.close()
    assert connections(db) == 0
    assert await store.key_history("alice", None, 20) == (0.5, [0.5])  # on a connection of its own
    assert connections(db) == 0


async def test_a_record_after_close_is_not_kept(db: PostgresDb, usage_log: pytest.LogCaptureFixture) -> None:
    store = open_store(db.url)
    await store.start()
    await store.close()
    store.record(make_record(requested_model="late"))
    assert "usage store is closed: a record of late was not kept" in usage_log.text
    assert db.written() == 0


async def test_records_that_cannot_be_written_by_close_are_reported_lost(
    db: PostgresDb, usage_log: pytest.LogCaptureFixture
) -> None:
    store = open_store(db.url, flush_interval=60)
    await store.start()
    query(db.url, "ALTER TABLE requests RENAME TO requests_elsewhere")  # the server fails every write now
    store.record(make_record())
    await store.close()
    assert "cannot write 1 records, will retry" in usage_log.text
    assert "1 records could not be written and are lost" in usage_log.text

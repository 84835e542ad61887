"""The PostgreSQL usage database's schema: the same columns and versions as SQLite's, the
`schema_version` table, migrations that step once (even when several processes start together),
and databases it must not touch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from src.usage import schema
from src.usage.schema import SchemaError
from src.usage.store import open_store
from src.usage.stores import postgres_schema
from tests.fakes.postgres import fresh_database
from tests.usage.record_helpers import make_record
from tests.usage.store_helpers import rows

pytestmark = pytest.mark.anyio


@pytest.fixture
def url(postgres_url: str) -> str:
    return fresh_database(postgres_url)


@pytest.fixture
async def conn(url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(url)
    yield connection
    await connection.close()


async def versions(conn: asyncpg.Connection) -> list[int]:
    return [row["version"] for row in await conn.fetch("SELECT version FROM schema_version ORDER BY version")]


async def test_a_new_database_gets_the_same_columns_and_version_as_sqlite(
    url: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    store = open_store(url)
    await store.start()
    await store.close()
    assert await versions(conn) == [1, 2, 3] and postgres_schema.SCHEMA_VERSION == schema.SCHEMA_VERSION
    columns = await conn.fetch(
        "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_name = 'requests' "
        "ORDER BY ordinal_position"
    )
    schema.connect(tmp_path / "u.db").close()
    sqlite_columns = rows(tmp_path / "u.db", "PRAGMA table_info(requests)")
    assert [c["column_name"] for c in columns] == [c["name"] for c in sqlite_columns]
    assert {c["column_name"] for c in columns if c["is_nullable"] == "NO"} == {
        "id", "time", "key_name", "frontend", "requested_model", "status", "latency_ms", "stream", "attempts",
        "request_id",
    }  # fmt: skip
    indexes = {
        r["indexname"]: r["indexdef"] for r in await conn.fetch("SELECT * FROM pg_indexes WHERE tablename = 'requests'")
    }
    assert {"requests_time", "requests_key_time", "requests_request_id"} <= indexes.keys()
    assert indexes["requests_request_id"].startswith("CREATE UNIQUE INDEX")


async def test_migrate_steps_once(conn: asyncpg.Connection) -> None:
    assert await postgres_schema.migrate(conn, "db") == postgres_schema.SCHEMA_VERSION
    assert await postgres_schema.migrate(conn, "db") == postgres_schema.SCHEMA_VERSION  # nothing left to do
    assert await versions(conn) == [1, 2, 3]


async def test_processes_starting_together_migrate_once(url: str, conn: asyncpg.Connection) -> None:
    stores = [open_store(url) for _ in range(4)]
    await asyncio.gather(*(store.start() for store in stores))
    await asyncio.gather(*(store.close() for store in stores))
    assert await versions(conn) == [1, 2, 3]


async def test_a_newer_schema_is_refused(url: str, conn: asyncpg.Connection) -> None:
    await postgres_schema.migrate(conn, "db")
    await conn.execute("INSERT INTO schema_version (version) VALUES (99)")
    message = r"schema version 99 is newer than this Switchyard supports \(3\)"
    with pytest.raises(SchemaError, match=message) as refused:
        await open_store(url).start()
    assert "pg-test-secret" not in str(refused.value) and ":***@" in str(refused.value)  # it names the database
    with pytest.raises(SchemaError, match=message):
        await open_store(url).summary(None, "key")
    assert await versions(conn) == [1, 2, 3, 99]


async def test_a_database_with_another_requests_table_is_refused(url: str, conn: asyncpg.Connection) -> None:
    await conn.execute("CREATE TABLE requests (id serial PRIMARY KEY, body text)")
    with pytest.raises(SchemaError, match="not a usage database"):
        await open_store(url).start()
    with pytest.raises(SchemaError, match="not a usage database"):
        await open_store(url).key_history("alice", None, 20)
    assert await conn.fetchval("SELECT to_regclass('schema_version')") is None


async def test_a_failed_migration_leaves_the_version(conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = ("CREATE TABLE half_done (x integer)", "SELECT no_such_function()")
    monkeypatch.setattr(postgres_schema, "MIGRATIONS", (postgres_schema.MIGRATIONS[0], broken))
    monkeypatch.setattr(postgres_schema, "SCHEMA_VERSION", 2)
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await postgres_schema.migrate(conn, "db")
    assert await versions(conn) == [1]
    assert await conn.fetchval("SELECT to_regclass('half_done')") is None


async def test_a_version_2_database_gets_request_ids_and_keeps_one_record_per_id(
    url: str, conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:  # a database as a Switchyard of schema version 2 left it
        patched.setattr(postgres_schema, "MIGRATIONS", postgres_schema.MIGRATIONS[:2])
        patched.setattr(postgres_schema, "SCHEMA_VERSION", 2)
        await postgres_schema.migrate(conn, "db")
    columns = await conn.fetch("SELECT column_name FROM information_schema.columns WHERE table_name = 'requests'")
    assert "request_id" not in {c["column_name"] for c in columns}  # as in SQLite's version 2
    for _ in range(2):
        await conn.execute("INSERT INTO requests (time, key_name, frontend, requested_model, status, latency_ms, stream,"
                           " attempts) VALUES (1, 'alice', 'openai', 'm', 200, 1.0, 0, '[]')")  # fmt: skip
    rec = make_record()
    store = open_store(url)
    await store.start()
    for _ in range(2):
        store.record(rec)
        await store.flush()
    await store.close()
    ids = [row["request_id"] for row in await conn.fetch("SELECT request_id FROM requests ORDER BY id")]
    assert ids == ["legacy-1", "legacy-2", rec.request_id] and await versions(conn) == [1, 2, 3]
    with pytest.raises(asyncpg.NotNullViolationError):
        await conn.execute("INSERT INTO requests (time, key_name, frontend, requested_model, status, latency_ms, stream,"
                           " attempts) VALUES (1, 'alice', 'openai', 'm', 200, 1.0, 0, '[]')")  # fmt: skip

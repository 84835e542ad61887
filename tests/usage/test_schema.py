"""The SQLite usage database's schema: multi-row inserts, the version, WAL mode and migrations
(PostgreSQL's: test_postgres_schema.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from src.usage import schema
from src.usage.store import open_store
from tests.usage.record_helpers import T0, make_record
from tests.usage.store_helpers import rows

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "count", [1, schema.ROWS_PER_INSERT, schema.ROWS_PER_INSERT + 1, 3 * schema.ROWS_PER_INSERT + 7]
)
def test_a_batch_is_written_in_multi_row_inserts_in_order(tmp_path: Path, count: int) -> None:
    statements = schema.insert_statements([schema.row_of(make_record(time=T0 + i)) for i in range(count)])
    assert len(statements) == -(-count // schema.ROWS_PER_INSERT)
    assert all(len(values) <= 999 for _, values in statements)
    conn = schema.connect(tmp_path / "u.db")
    for sql, values in statements:
        conn.execute(sql, values)
    conn.close()
    assert [row["time"] for row in rows(tmp_path / "u.db")] == [T0 + i for i in range(count)]


async def test_schema_version_is_written_in_wal_mode(tmp_path: Path) -> None:
    store = open_store(tmp_path / "u.db")
    await store.start()
    await store.close()
    assert rows(tmp_path / "u.db", "PRAGMA user_version")[0][0] == schema.SCHEMA_VERSION == 3
    assert rows(tmp_path / "u.db", "PRAGMA journal_mode")[0][0] == "wal"
    indexes = {r[0] for r in rows(tmp_path / "u.db", "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"requests_time", "requests_key_time", "requests_request_id"} <= indexes


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(schema.SchemaError, match=r"schema version 99 is newer than this Switchyard supports \(3\)"):
        await open_store(path).start()
    with pytest.raises(schema.SchemaError, match="newer"):
        await open_store(path).summary(None, "key")
    assert rows(path, "PRAGMA user_version")[0][0] == 99


async def test_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(schema.SchemaError, match="not a usage database"):
        await open_store(path).start()


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


def test_a_version_1_database_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    schema.MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO requests (time, key_name, frontend, requested_model, status, latency_ms, stream, attempts)"
                 " VALUES (1, 'alice', 'openai', 'm', 200, 1.0, 0, '[]')")  # fmt: skip
    conn.close()
    schema.connect(path).close()
    assert rows(path, "PRAGMA user_version")[0][0] == 3
    assert [tuple(row) for row in rows(path, "SELECT key_name, upstream_key FROM requests")] == [("alice", None)]


def test_a_version_2_database_gets_request_ids_and_keeps_one_record_per_id(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for step in schema.MIGRATIONS[:2]:
        step(conn)
    conn.execute("PRAGMA user_version = 2")
    for _ in range(3):
        conn.execute("INSERT INTO requests (time, key_name, frontend, requested_model, status, latency_ms, stream, attempts)"
                     " VALUES (1, 'alice', 'openai', 'm', 200, 1.0, 0, '[]')")  # fmt: skip
    conn.close()
    conn = schema.connect(path)
    assert [row[0] for row in conn.execute("SELECT request_id FROM requests ORDER BY id")] == [
        "legacy-1", "legacy-2", "legacy-3"]  # fmt: skip
    rec = make_record()
    for _ in range(2):
        for sql, values in schema.insert_statements([schema.row_of(rec), schema.row_of(rec)]):
            conn.execute(sql, values)
    conn.close()
    assert [row[0] for row in rows(path, "SELECT request_id FROM requests ORDER BY id")][3:] == [rec.request_id]


def test_only_a_repeated_request_id_is_skipped(tmp_path: Path) -> None:
    """A row the database must refuse (NULL where NULL is not allowed) is refused, not quietly skipped."""
    conn = schema.connect(tmp_path / "u.db")
    row = list(schema.row_of(make_record()))
    row[schema.COLUMNS.index("key_name")] = None
    [(sql, values)] = schema.insert_statements([tuple(row)])
    with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
        conn.execute(sql, values)
    conn.close()

"""Shared by the usage store tests: the databases a test runs on, and what they hold, read on a
connection of their own.

The `db` fixture runs a test once on a SQLite file and once on an empty PostgreSQL database of
its own (on the session's server, tests/fakes/postgres.py); `usage_log` is caplog for the stores'
logger. Test modules import them:

    from tests.usage.store_helpers import db_fixture, usage_log_fixture  # noqa: F401
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from src.usage import schema
from src.usage.store import UsageStore, open_store
from src.usage.stores import postgres_schema
from tests.fakes.postgres import fresh_database, query

ALL_ROWS = "SELECT * FROM requests ORDER BY id"


def rows(path: Path, sql: str = ALL_ROWS) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def written(path: Path) -> int:
    """Records in the database so far (the writer thread commits them; WAL lets this read alongside)."""
    if not path.exists():
        return 0
    return rows(path, "SELECT COUNT(*) FROM requests")[0][0]


class Db:
    """A usage database under test: `database` is what `usage.database` would say."""

    kind: str
    database: str | Path
    # Failures of the database itself, which a store retries: "transient" (busy, starting up) and
    # "broken" (the file or the connection is gone).
    faults: dict[str, Exception]

    def store(self, **options: Any) -> UsageStore:
        return open_store(self.database, **options)

    def rows(self, sql: str = ALL_ROWS) -> list[dict[str, Any]]:
        raise NotImplementedError

    def written(self) -> int:
        raise NotImplementedError

    def commits(self, monkeypatch: pytest.MonkeyPatch) -> list[int]:
        """The size of every batch the stores commit from now on (each builds its insert once a batch)."""
        module, name = (schema, "insert_statements") if self.kind == "sqlite" else (postgres_schema, "insert_arguments")
        real, sizes = getattr(module, name), []

        def counting(batch: list[tuple[object, ...]]) -> Any:
            sizes.append(len(batch))
            return real(batch)

        monkeypatch.setattr(module, name, counting)
        return sizes

    def lose_an_acknowledgement(self, store: UsageStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
        """`store`'s first commit lands, then fails as if the database's answer had been lost on its
        way back; the list gets the size of that batch."""
        real = store._commit  # type: ignore[attr-defined]
        lost: list[int] = []
        fault = self.faults["broken"]

        if self.kind == "sqlite":

            def landed(conn: sqlite3.Connection, batch: list[Any]) -> None:
                real(conn, batch)
                if not lost:
                    lost.append(len(batch))
                    raise fault

            monkeypatch.setattr(store, "_commit", landed)
        else:

            async def landed_async(batch: list[Any]) -> None:
                await real(batch)
                if not lost:
                    lost.append(len(batch))
                    raise fault

            monkeypatch.setattr(store, "_commit", landed_async)
        return lost


class SqliteDb(Db):
    kind = "sqlite"
    faults = {
        "transient": sqlite3.OperationalError("database is locked"),
        "broken": sqlite3.DatabaseError("database disk image is malformed"),
    }

    def __init__(self, path: Path) -> None:
        self.database = self.path = path

    def rows(self, sql: str = ALL_ROWS) -> list[dict[str, Any]]:
        return [dict(row) for row in rows(self.path, sql)] if self.path.exists() else []

    def written(self) -> int:
        return written(self.path)


class PostgresDb(Db):
    kind = "postgres"
    faults = {
        "transient": asyncpg.CannotConnectNowError("the database system is starting up"),
        "broken": asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    }

    def __init__(self, url: str) -> None:
        self.database = self.url = url

    def rows(self, sql: str = ALL_ROWS) -> list[dict[str, Any]]:
        return query(self.url, sql) if self.has_table() else []

    def written(self) -> int:
        return int(self.rows("SELECT COUNT(*) AS n FROM requests")[0]["n"]) if self.has_table() else 0

    def has_table(self) -> bool:
        return bool(query(self.url, "SELECT to_regclass('requests') IS NOT NULL AS t")[0]["t"])


@pytest.fixture(name="db", params=["sqlite", "postgres"])
def db_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Db:
    if request.param == "sqlite":
        return SqliteDb(tmp_path / "u.db")
    return PostgresDb(fresh_database(request.getfixturevalue("postgres_url")))


@pytest.fixture(name="usage_log")
def usage_log_fixture(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    """caplog, with the stores' logger sure to be heard: a `logging.config` call in this process (import-linter's,
    in tests/test_architecture.py) may have disabled every logger that existed then."""
    monkeypatch.setattr(logging.getLogger("switchyard.usage"), "disabled", False)
    return caplog

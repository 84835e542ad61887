"""The usage database's schema, its versions and the steps between them, in SQLite.

The version is SQLite's `PRAGMA user_version`. `MIGRATIONS[n]` takes a database from version
n to n + 1, inside one transaction, so a database is always at a whole version. A database
newer than this code is refused rather than guessed at. PostgreSQL has the same columns and the
same versions (src/usage/stores/postgres_schema.py); the columns and the row of a record
(`COLUMNS`, `row_of`) are shared.

Attempts are a JSON column of their request rather than a table of their own: they are
always written and read together with it, a batch stays one `executemany` on one table, and
SQLite's `json_each` still reaches them for ad-hoc queries. Live failover and error counts
come from `/metrics`.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from os import PathLike

import orjson

from src.usage.record import UsageRecord, split_route


class SchemaError(Exception):
    """The database cannot be used: a newer schema, or not a usage database at all."""


def _v1(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE requests (
            id INTEGER PRIMARY KEY,
            time REAL NOT NULL,              -- unix seconds at which the request started
            key_name TEXT NOT NULL,          -- the proxy key's name, never the key
            user_agent TEXT,
            frontend TEXT NOT NULL,          -- openai | anthropic
            requested_model TEXT NOT NULL,
            route TEXT,                      -- final backend:model, NULL if none was reached
            backend TEXT,
            model TEXT,
            status INTEGER NOT NULL,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            reasoning_tokens INTEGER,
            cached_tokens INTEGER,
            cost_usd REAL,                   -- NULL when unknown, never a guess
            latency_ms REAL NOT NULL,
            ttft_ms REAL,
            stream INTEGER NOT NULL,
            attempts TEXT NOT NULL           -- JSON: [{route, status, outcome, latency_ms}, ...]
        )"""
    )
    conn.execute("CREATE INDEX requests_time ON requests (time)")
    conn.execute("CREATE INDEX requests_key_time ON requests (key_name, time)")


def _v2(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE requests ADD COLUMN upstream_key TEXT")  # a byok key's fingerprint


def _v3(conn: sqlite3.Connection) -> None:
    # SQLite cannot add a NOT NULL column without a default: the store always writes one, and the
    # rows from before get ids no request can have (a request's is 32 hex digits).
    conn.execute("ALTER TABLE requests ADD COLUMN request_id TEXT")
    conn.execute("UPDATE requests SET request_id = 'legacy-' || id")
    conn.execute("CREATE UNIQUE INDEX requests_request_id ON requests (request_id)")


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1, _v2, _v3)
SCHEMA_VERSION = len(MIGRATIONS)

COLUMNS = (
    "time", "key_name", "user_agent", "frontend", "requested_model", "route", "backend", "model",
    "status", "prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens",
    "cost_usd", "latency_ms", "ttft_ms", "stream", "attempts", "upstream_key", "request_id",
)  # fmt: skip
# SQLite stores a NaN as NULL. A float is bound as it is, where the sqlite3 module looks each None
# up in its adapter registry first: that look-up cost a third of the writer's time per record.
_NULL = math.nan
ROWS_PER_INSERT = 999 // len(COLUMNS)  # 999: SQLite's limit on a statement's parameters before 3.32
_ROW = f"({', '.join('?' * len(COLUMNS))})"


def insert_statements(rows: list[tuple[object, ...]]) -> list[tuple[str, list[object]]]:
    """Multi-row INSERTs for `rows`. One statement is one step of SQLite's, and the sqlite3
    module releases the GIL around each step: per row, the writer thread would contend with
    the event loop for the GIL hundreds of times a batch.

    A row whose request id is stored already is skipped. Only that conflict: `INSERT OR IGNORE`
    would also drop, silently, a row that breaks a NOT NULL constraint, which must be refused
    (and logged) instead."""
    statements = []
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start : start + ROWS_PER_INSERT]
        sql = (
            f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES {', '.join([_ROW] * len(chunk))} "
            "ON CONFLICT (request_id) DO NOTHING"
        )
        statements.append((sql, [_NULL if value is None else value for row in chunk for value in row]))
    return statements


def connect(path: str | PathLike[str]) -> sqlite3.Connection:
    """An autocommit connection (transactions are explicit) in WAL mode, migrated to SCHEMA_VERSION."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        migrate(conn, str(path))
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL stays consistent; a power cut may lose the last batch
    except BaseException:
        conn.close()
        raise
    return conn


def migrate(conn: sqlite3.Connection, name: str = "usage database") -> int:
    """Bring the database to SCHEMA_VERSION, one step per transaction; the version it ends at."""
    version = _version(conn, name)
    while version < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = _version(conn, name)  # another process may have migrated meanwhile
            if version < SCHEMA_VERSION:
                MIGRATIONS[version](conn)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return version


def _version(conn: sqlite3.Connection, name: str) -> int:
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise SchemaError(f"{name}: not a usage database ({exc})") from None
    if version > SCHEMA_VERSION:
        raise newer_schema(name, version, SCHEMA_VERSION)
    return version


def newer_schema(name: str, version: int, supported: int) -> SchemaError:
    return SchemaError(
        f"{name}: usage database schema version {version} is newer than this Switchyard "
        f"supports ({supported}); upgrade Switchyard or point it at another database"
    )


def row_of(rec: UsageRecord) -> tuple[object, ...]:
    """The values of `rec` in COLUMNS order."""
    attempts = [
        {"route": a.route, "status": a.status, "outcome": a.outcome, "latency_ms": a.latency_ms}
        for a in rec.attempts
    ]
    backend, model = split_route(rec.route)
    return (
        rec.time, rec.key_name, rec.user_agent, rec.frontend, rec.requested_model, rec.route,
        backend, model, rec.status, rec.prompt_tokens, rec.completion_tokens,
        rec.reasoning_tokens, rec.cached_tokens, rec.cost_usd, rec.latency_ms, rec.ttft_ms,
        int(rec.stream), orjson.dumps(attempts).decode(), rec.upstream_key, rec.request_id,
    )  # fmt: skip

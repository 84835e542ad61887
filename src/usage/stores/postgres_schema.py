"""The usage database's schema in PostgreSQL: the same columns, meanings and versions as SQLite's
(src/usage/schema.py), so that both answer every query alike.

The version is the highest in the `schema_version` table (one row per step applied, with its
time). `MIGRATIONS[n]` takes a database from version n to n + 1 in one transaction, under an
advisory lock, so that the processes of `--workers N` or of several hosts starting together
migrate once. A database newer than this code is refused rather than guessed at.

Types follow SQLite's: `time` and the other reals are double precision (unix seconds, so the
queries are the same), integers are 64-bit (`bigint`), `stream` is 0 or 1, and `attempts` is
JSON text (`attempts::jsonb` reaches into it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import asyncpg

from src.usage import schema
from src.usage.schema import COLUMNS, SchemaError

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE requests (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            time double precision NOT NULL,      -- unix seconds at which the request started
            key_name text NOT NULL,              -- the proxy key's name, never the key
            user_agent text,
            frontend text NOT NULL,
            requested_model text NOT NULL,
            route text,                          -- final backend:model, NULL if none was reached
            backend text,
            model text,
            status integer NOT NULL,
            prompt_tokens bigint,
            completion_tokens bigint,
            reasoning_tokens bigint,
            cached_tokens bigint,
            cost_usd double precision,           -- NULL when unknown, never a guess
            latency_ms double precision NOT NULL,
            ttft_ms double precision,
            stream integer NOT NULL,
            attempts text NOT NULL               -- JSON: [{route, status, outcome, latency_ms}, ...]
        )""",
        "CREATE INDEX requests_time ON requests (time)",
        "CREATE INDEX requests_key_time ON requests (key_name, time)",
    ),
    ("ALTER TABLE requests ADD COLUMN upstream_key text",),
    (
        "ALTER TABLE requests ADD COLUMN request_id text",
        "UPDATE requests SET request_id = 'legacy-' || id",  # as in SQLite; a no-op on a database made here
        "ALTER TABLE requests ALTER COLUMN request_id SET NOT NULL",
        "CREATE UNIQUE INDEX requests_request_id ON requests (request_id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
# Any constant will do, as long as no other application on the database takes the same lock.
MIGRATION_LOCK = 0x5377_5573_6167_6531  # "SwUsage1"
# Seconds a step, or the wait for another process's steps, may take: far past the store's command
# timeout, since a step may rewrite every row of a large table.
MIGRATION_TIMEOUT = 3600.0

_TYPES = {
    "time": "float8", "key_name": "text", "user_agent": "text", "frontend": "text", "requested_model": "text",
    "route": "text", "backend": "text", "model": "text", "status": "int4", "prompt_tokens": "int8",
    "completion_tokens": "int8", "reasoning_tokens": "int8", "cached_tokens": "int8", "cost_usd": "float8",
    "latency_ms": "float8", "ttft_ms": "float8", "stream": "int4", "attempts": "text", "upstream_key": "text",
    "request_id": "text",
}  # fmt: skip
_NAMES = ", ".join(COLUMNS)
# One statement of one shape for any batch: each column is an array parameter, unnest turns them
# back into rows in order. Unlike a VALUES list, it is prepared once, and has no parameter limit.
INSERT = (
    f"INSERT INTO requests ({_NAMES}) SELECT {_NAMES} FROM unnest("
    + ", ".join(f"${n}::{_TYPES[column]}[]" for n, column in enumerate(COLUMNS, 1))
    + f") WITH ORDINALITY AS batch ({_NAMES}, position) ORDER BY position ON CONFLICT (request_id) DO NOTHING"
)


def insert_arguments(rows: Sequence[tuple[object, ...]]) -> list[list[object]]:
    """The arrays of INSERT, one per column, for `rows` (schema.row_of's tuples)."""
    return [[_storable(value) for value in column] for column in zip(*rows, strict=True)]


def _storable(value: object) -> object:
    # PostgreSQL's text cannot hold NUL, which SQLite keeps; a requested model or a User-Agent may
    # carry one, and the record is worth more than that character.
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


async def migrate(conn: asyncpg.Connection, name: str) -> int:
    """Bring the database to SCHEMA_VERSION, one step per transaction; the version it ends at."""
    version = await current_version(conn, name)
    if version == SCHEMA_VERSION:
        return version
    # A session lock, taken outside the steps' transactions: PostgreSQL refreshes a session's view of
    # the catalog when a transaction starts, so a lock awaited inside one would leave this session
    # blind to the tables that the process it waited for has just created.
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK, timeout=MIGRATION_TIMEOUT)
    try:
        version = await current_version(conn, name)  # another process may have migrated meanwhile
        while version < SCHEMA_VERSION:
            async with conn.transaction():
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version "
                    "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                for statement in MIGRATIONS[version]:
                    await conn.execute(statement, timeout=MIGRATION_TIMEOUT)
                version += 1
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
    finally:
        # A connection that broke has lost the lock with it; its error, not this one, is the news.
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    return version


async def current_version(conn: asyncpg.Connection, name: str) -> int:
    """The database's version: 0 for an empty one; SchemaError when newer, or not a usage database."""
    versioned, tables = await conn.fetchrow(
        "SELECT to_regclass('schema_version') IS NOT NULL, to_regclass('requests') IS NOT NULL"
    )
    if not versioned:
        if tables:
            raise SchemaError(f"{name}: not a usage database (a table `requests` without `schema_version`)")
        return 0
    version = int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))
    if version > SCHEMA_VERSION:
        raise schema.newer_schema(name, version, SCHEMA_VERSION)
    return version

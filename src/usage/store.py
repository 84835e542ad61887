"""The usage store: one interface (src/usage/stores/base.py), and the database `usage.database`
names picks its implementation: a `postgresql://` (or `postgres://`) URL is PostgreSQL
(src/usage/stores/postgres.py), any other value a SQLite file (src/usage/stores/sqlite.py), and
None a disabled store that keeps nothing. Both keep the same schema and answer the same reads.

What every store does the same way:
- `record()` only queues the record, so recording never slows a request. A batch is written when
  `batch_size` records are waiting or `flush_interval` seconds after the first of them; `flush()`
  waits for what is queued; `close()` writes everything still queued and stops the writer.
- A batch the database fails to write (down, locked, full) is kept and tried again; a record the
  database refuses (a value it cannot hold) is dropped alone, with an error logged.
- A record whose request id is stored already is skipped, so a batch written again after a commit
  whose acknowledgement was lost never counts twice.
- Reads (`summary`, `key_history`) are coroutines; they never block the event loop.
"""

from __future__ import annotations

from typing import Any

from src.usage.stores.base import (
    EMPTY_TOTALS,
    GROUPS,
    Database,
    DisabledStore,
    UsageDatabaseError,
    UsageStore,
    display_name,
    is_postgres,
)


def open_store(database: Database, **options: Any) -> UsageStore:
    """The store of `database`, not started yet."""
    if database is None:
        return DisabledStore(database, **options)
    # Imported here: asyncpg is loaded only when a PostgreSQL database is configured.
    if is_postgres(database):
        from src.usage.stores.postgres import PostgresStore

        return PostgresStore(database, **options)
    from src.usage.stores.sqlite import SqliteStore

    return SqliteStore(database, **options)


__all__ = ["EMPTY_TOTALS", "GROUPS", "UsageDatabaseError", "UsageStore", "display_name", "open_store"]

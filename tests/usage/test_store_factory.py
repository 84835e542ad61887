"""`open_store(database)` picks the store by what `usage.database` says, and its name never shows a password."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.usage.store import GROUPS, DisabledStore, UsageStore, display_name, open_store
from src.usage.stores import postgres, sqlite
from src.usage.stores.postgres import PostgresStore
from src.usage.stores.sqlite import SqliteStore


@pytest.mark.parametrize(
    ("database", "kind"),
    [
        ("postgresql://user:pw@db.example:5432/usage", PostgresStore),
        ("postgres://db.example/usage", PostgresStore),
        ("PostgreSQL://db.example/usage", PostgresStore),  # a scheme is case-insensitive
        ("postgresql:///usage?host=/var/run/postgresql", PostgresStore),
        ("./switchyard.db", SqliteStore),
        ("/var/lib/switchyard/usage.db", SqliteStore),
        ("postgresql.db", SqliteStore),
        (Path("u.db"), SqliteStore),
        (None, DisabledStore),
    ],
)
def test_the_database_picks_the_store(database: str | Path | None, kind: type) -> None:
    store = open_store(database, flush_interval=0.1, batch_size=7)
    assert type(store) is kind and isinstance(store, UsageStore)
    assert store.enabled is (database is not None)
    assert (store.flush_interval, store.batch_size) == (0.1, 7)
    assert type(kind("x" if kind is not DisabledStore else None)) is kind  # a subclass is itself, whatever the value


@pytest.mark.parametrize(
    ("database", "shown"),
    [
        ("postgresql://sy:s3cret@db.example:5432/usage", "postgresql://sy:***@db.example:5432/usage"),
        ("postgres://sy:p%40ss@db.example/usage?sslmode=require", "postgres://sy:***@db.example/usage?sslmode=require"),
        ("postgresql://sy:@db.example/usage", "postgresql://sy:***@db.example/usage"),
        ("postgresql://sy@db.example/usage", "postgresql://sy@db.example/usage"),
        ("postgresql://a:b@h1:5432,h2:5433/usage", "postgresql://a:***@h1:5432,h2:5433/usage"),
        ("postgresql://db.example/usage?user=sy&password=s3cret", "postgresql://db.example/usage?user=sy&password=***"),
        ("./switchyard.db", "./switchyard.db"),
        (None, "off"),
    ],
)
def test_the_name_masks_the_password(database: str | None, shown: str) -> None:
    assert display_name(database) == shown
    assert open_store(database).name == shown


def test_both_stores_know_every_group() -> None:
    assert tuple(sqlite.GROUPS) == tuple(postgres.GROUPS) == GROUPS

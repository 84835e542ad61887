"""The shared stores under test, each behind the same small handle: `new()` opens one more store on
the same backing (another process's view), `age(key, seconds)` moves a key's rpm buckets into the
past (the store's clock cannot be moved), and every store opened is closed at the end."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from redis import asyncio as aioredis

from src.sharing.file_store import FileStore
from src.sharing.redis_store import RedisStore
from src.sharing.store import SharedStore
from tests.fakes.redis import RedisServer, redis_fixture  # noqa: F401


class Backing:
    def __init__(self, kind: str, open_store: Callable[[], SharedStore], url: str = "", prefix: str = "",
                 path: Path | None = None) -> None:  # fmt: skip
        self.kind, self._open, self.url, self.prefix, self.path = kind, open_store, url, prefix, path
        self.opened: list[SharedStore] = []

    def new(self) -> SharedStore:
        store = self._open()
        self.opened.append(store)
        return store

    async def age(self, key: str, seconds: int) -> None:
        """Every rpm bucket of `key` as if granted `seconds` earlier."""
        if self.path is not None:
            with sqlite3.connect(self.path) as db:
                db.execute("UPDATE rate SET second = second - ? WHERE key = ?", (seconds, key))
            return
        client = aioredis.Redis.from_url(self.url)
        name = f"{self.prefix}:r:{quote(key, safe='')}"
        buckets = await client.hgetall(name)
        await client.delete(name)
        for field, count in buckets.items():  # `<second>:<instance>`
            text = field.decode() if isinstance(field, bytes) else field
            second, _, instance = text.partition(":")
            await client.hset(name, f"{int(second) - seconds}:{instance}", count)
        await client.aclose()


@pytest.fixture(params=["redis", "file"])
async def backing(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backing]:
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis")
        prefix = server.prefix()
        found = Backing("redis", lambda: RedisStore(server.url, prefix), url=server.url, prefix=prefix)
    else:
        path = tmp_path / "limits.db"
        found = Backing("file", lambda: FileStore(path), path=path)
    yield found
    for store in found.opened:
        await store.close()

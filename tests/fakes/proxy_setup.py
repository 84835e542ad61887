"""Shared pieces of the tests that start a proxy of their own in front of one fake upstream
(tests/e2e/test_trust_*.py, test_fuzz_endpoints.py, tests/core/test_shutdown.py, test_server.py):
its config, a proxy kept for a whole module, its usage rows, and a check that nothing logged an
error. Test modules import the autouse fixture under its own name:

    from tests.fakes.proxy_setup import no_traceback  # noqa: F401
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from src.config import Config
from tests.fakes.proxy import PROXY_KEY, RunningProxy

ALICE = {"name": "alice", "key": PROXY_KEY}
NO_COOLDOWN = {"cooldown": 0, "max_retry_wait": 0}


def proxy_config(url: str, key: str, *, database: Path | str | None = None, timeout: float | None = None,
                 keys: list[dict[str, Any]] | None = None, backends: dict[str, Any] | None = None,
                 **settings: Any) -> Config:  # fmt: skip
    """The default backend `openrouter` on `url` with the upstream `key` (and `timeout`, when given),
    then `backends`; the proxy keys `keys` (alice's PROXY_KEY alone by default); usage in `database`
    (None: off); the other `settings` as they are."""
    openrouter: dict[str, Any] = {"type": "openrouter", "base_url": url, "api_key": key}
    if timeout is not None:
        openrouter["timeout"] = timeout
    return Config.model_validate({
        "usage": {"database": None if database is None else str(database)},
        "auth": {"api_keys": keys if keys is not None else [ALICE]},
        "backends": {"openrouter": openrouter, **(backends or {})},
        **settings,
    })  # fmt: skip


def serving(config: Config) -> Iterator[RunningProxy]:
    """A proxy on `config` for a fixture to yield from: `yield from serving(config)`."""
    proxy = RunningProxy(config).start()
    yield proxy
    proxy.stop()


def usage_rows(proxy: RunningProxy, database: Path, user_agent: str, seconds: float = 10.0) -> list[dict[str, Any]]:
    """The usage rows of requests sent with `user_agent`, once one is written (GET /v1/usage hurries
    the writer), or none after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        httpx.get(f"{proxy.url}/v1/usage", headers={"Authorization": f"Bearer {PROXY_KEY}"})
        rows = []
        if database.exists():
            with sqlite3.connect(database) as conn:
                conn.row_factory = sqlite3.Row
                rows = [dict(r) for r in conn.execute("SELECT * FROM requests WHERE user_agent = ?", (user_agent,))]
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


@pytest.fixture(name="_no_traceback", autouse=True)
def no_traceback(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails the test when anything logged an error or a traceback (at INFO and up)."""
    caplog.set_level(logging.INFO)
    yield
    assert [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []

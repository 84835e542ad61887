"""Shared pieces of the usage, budget, metrics and CLI end-to-end tests.

`PricedUpstream` is the scripted fake upstream (tests/fakes/scripted.py) whose `GET /v1/models`
lists models with OpenRouter-style `pricing`, so that a usage without `cost` can be priced from
the catalog. Test modules import its fixtures under their own names:

    from tests.e2e.usage_helpers import priced_fixture, priced_server_fixture  # noqa: F401
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from src.config import Config
from tests.fakes.proxy import PROXY_KEY, UPSTREAM_KEY, RunningProxy
from tests.fakes.scripted import ScriptedUpstream

ROOT = Path(__file__).resolve().parents[2]
MESSAGES: Any = [{"role": "user", "content": "hi"}]  # Any: sent as both SDKs' message params, and as raw JSON
UA = "usage-test/1.0"
ADMIN_KEY = "sy-test-admin-key-0001"
BOB_KEY = "sy-test-bob-key-00001"
ALICE = {"name": "alice", "key": PROXY_KEY}
ADMIN = {"name": "root", "key": ADMIN_KEY, "admin": True}
BOB = {"name": "bob", "key": BOB_KEY}
# A usage object without `cost`: the proxy must price it from the catalog (or leave it unknown).
NO_COST = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}
PRICED_MODELS = [
    {"id": "openai/gpt-4o", "name": "OpenAI: GPT-4o", "context_length": 128000,
     "pricing": {"prompt": "0.0000025", "completion": "0.00001"}, "supported_parameters": ["tools"]},
    {"id": "openai/gpt-4o-mini", "name": "OpenAI: GPT-4o mini", "context_length": 128000,
     "pricing": {"prompt": "0.00000015", "completion": "0.0000006"}},
    {"id": "vendor/cached", "pricing": {"prompt": "0.000002", "completion": "0.00001", "input_cache_read": "0.0000005"}},
    {"id": "vendor/flat", "pricing": {"prompt": "0.000001", "completion": "0.000002", "request": "0.001"}},
    {"id": "vendor/variable", "pricing": {"prompt": "-1", "completion": "-1"}},
    {"id": "vendor/unpriced"},
    {"id": "qwen/qwen3-coder:free", "pricing": {"prompt": "0", "completion": "0"}},
]  # fmt: skip


class PricedUpstream(ScriptedUpstream):
    """The scripted upstream, with a priced model list; `models_served` counts GET /v1/models, which
    waits `models_delay` seconds before answering."""

    models_served = 0
    models_delay = 0.0

    def reset(self) -> None:
        super().reset()
        self.models_served, self.models_delay = 0, 0.0

    async def _list(self, request: web.Request) -> web.Response:
        self.models_served += 1
        await asyncio.sleep(self.models_delay)
        return web.json_response({"data": PRICED_MODELS})


@pytest.fixture(scope="session", name="priced_server")
def priced_server_fixture() -> Iterator[PricedUpstream]:
    server = PricedUpstream().start()
    yield server
    server.stop()


@pytest.fixture(name="priced")
def priced_fixture(priced_server: PricedUpstream) -> PricedUpstream:
    priced_server.reset()
    return priced_server


def usage_config(url: str, db: Path | None, *, keys: list[dict[str, Any]] | None = None,
                 local_url: str | None = None, **overrides: Any) -> Config:
    """Backend `openrouter` (the default) on `url`, an `openai` backend `local` on `local_url`, and
    the proxy keys alice (PROXY_KEY), root (admin) and bob; usage goes to `db` (None: off)."""
    backends: dict[str, Any] = {
        "openrouter": {"type": "openrouter", "base_url": url, "api_key": UPSTREAM_KEY, "timeout": 5},
    }
    if local_url:
        backends["local"] = {"type": "openai", "base_url": local_url, "timeout": 5}
    raw: dict[str, Any] = {
        "usage": {"database": None if db is None else str(db)},
        "auth": {"api_keys": keys if keys is not None else [ALICE, ADMIN, BOB]},
        "backends": backends,
        "failover": {"cooldown": 0, "max_retry_wait": 1},
    }
    raw.update(overrides)
    return Config.model_validate(raw)


def auth(key: str = PROXY_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "User-Agent": UA}


def chat(proxy: RunningProxy, model: str, *, key: str = PROXY_KEY, stream: bool = False,
         timeout: float = 10, **body: Any) -> httpx.Response:
    """POST /v1/chat/completions (a stream is read to its end)."""
    payload = {"model": model, "messages": MESSAGES, **({"stream": True} if stream else {}), **body}
    return httpx.post(f"{proxy.url}/v1/chat/completions", json=payload, headers=auth(key), timeout=timeout)


def get_usage(proxy: RunningProxy, key: str = PROXY_KEY, **params: str) -> httpx.Response:
    return httpx.get(f"{proxy.url}/v1/usage", params=params, headers=auth(key), timeout=10)


def db_rows(path: Path) -> list[dict[str, Any]]:
    """Every row of the requests table, oldest first, with `attempts` decoded."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        rows = [dict(row) for row in conn.execute("SELECT * FROM requests ORDER BY id")]
    finally:
        conn.close()
    for row in rows:
        row["attempts"] = orjson.loads(row["attempts"])
    return rows


def wait_rows(proxy: RunningProxy, db: Path, count: int, seconds: float = 5.0) -> list[dict[str, Any]]:
    """The rows once there are `count` of them. A record is written after its answer has gone
    out, so each look asks `GET /v1/usage` to flush first."""
    deadline = time.monotonic() + seconds
    while True:
        assert get_usage(proxy, ADMIN_KEY).status_code == 200
        rows = db_rows(db) if db.exists() else []
        if len(rows) >= count or time.monotonic() > deadline:
            assert len(rows) == count, rows
            return rows
        time.sleep(0.02)


def metrics(proxy: RunningProxy, key: str | None = ADMIN_KEY) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """GET /metrics, parsed by prometheus_client: {(sample name, labels): value}."""
    response = httpx.get(f"{proxy.url}/metrics", headers=auth(key) if key else {}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def sample(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def write_cli_config(directory: Path, content: dict[str, Any]) -> Path:
    path = directory / "switchyard.yaml"
    path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return path


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m src.core.cli ARGS` in `cwd`, without the caller's Switchyard variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_") and k != "OPENROUTER_API_KEY"}
    return subprocess.run([sys.executable, "-m", "src.core.cli", *args], cwd=cwd, env={**env, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=30)

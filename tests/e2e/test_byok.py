"""Per-request upstream keys (byok): a tenant's own OpenRouter key reaches the upstream in place of the
configured one, and appears in no log, record or response; a proxy key without `byok` may not send one."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from src.config import Config
from tests.fakes.proxy import PROXY_KEY, UPSTREAM_KEY, RunningProxy, config_for
from tests.fakes.scripted import ScriptedUpstream
from tests.fakes.upstream import FakeUpstream

Start = Callable[[Config], RunningProxy]
TENANT_KEY = "sk-or-v1-tenant-own-key-0042"
PLAIN_KEY = "sy-test-plain-key-0001"
MESSAGES = [{"role": "user", "content": "hi"}]


def keys(**byok: Any) -> dict[str, Any]:
    return {"auth": {"api_keys": [{"name": "tenant", "key": PROXY_KEY, "byok": True, **byok},
                                  {"name": "plain", "key": PLAIN_KEY}]}}  # fmt: skip


def post(proxy: RunningProxy, model: str, key: str = PROXY_KEY, header: bool = True, **body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", **({"X-Upstream-Api-Key": TENANT_KEY} if header else {})}
    payload = {"model": model, "messages": MESSAGES, **body}
    return httpx.post(f"{proxy.url}/v1/chat/completions", json=payload, headers=headers, timeout=10)


@pytest.mark.parametrize("via", ["header", "body"])
def test_the_clients_key_reaches_the_upstream_and_no_log_record_or_response(
    upstream: FakeUpstream, start_proxy: Start, tmp_path: Path, caplog: pytest.LogCaptureFixture, via: str
) -> None:
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "u.db"
    proxy = start_proxy(config_for(upstream.base_url, **keys(), usage={"database": str(db)}))
    extra = {"openrouter_api_key": TENANT_KEY} if via == "body" else {}
    assert post(proxy, "x/ok", header=via == "header", **extra).status_code == 200
    sent = upstream.last()
    assert sent.headers["Authorization"] == f"Bearer {TENANT_KEY}"
    assert "openrouter_api_key" not in sent.body and TENANT_KEY.encode() not in sent.raw  # not forwarded in the body
    echoed = post(proxy, "x/echo-key-401", header=via == "header", **extra)  # the upstream quotes the key it got
    assert echoed.status_code == 401
    assert TENANT_KEY not in echoed.text and "[redacted]" in echoed.text
    assert TENANT_KEY not in caplog.text and UPSTREAM_KEY not in caplog.text
    proxy.stop()  # every record written
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT upstream_key FROM requests").fetchall()
        dump = "\n".join(conn.iterdump())
    assert rows and all(row[0] and row[0].startswith("byok:") for row in rows)
    assert TENANT_KEY not in dump


def test_a_proxy_key_without_byok_gets_a_403(upstream: FakeUpstream, start_proxy: Start) -> None:
    proxy = start_proxy(config_for(upstream.base_url, **keys()))
    response = post(proxy, "x/ok", key=PLAIN_KEY)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "byok_denied"
    assert TENANT_KEY not in response.text
    requests = len(upstream.requests)
    assert post(proxy, "x/ok", key=PLAIN_KEY, header=False).status_code == 200  # without one: as before
    assert len(upstream.requests) == requests + 1


def scripted_config(scripted: ScriptedUpstream, **byok: Any) -> Config:
    backends = {
        "openrouter": {"type": "openrouter", "base_url": scripted.base_url, "api_key": UPSTREAM_KEY, "timeout": 5},
        "local": {"type": "openai", "base_url": scripted.base_url, "api_key": "sk-local-0001", "timeout": 5},
    }
    return Config.model_validate({**keys(**byok), "backends": backends, "usage": {"database": None},
                                  "failover": {"cooldown": 0}})  # fmt: skip


def test_failover_uses_only_the_clients_key(scripted: ScriptedUpstream, start_proxy: Start) -> None:
    proxy = start_proxy(scripted_config(scripted))
    scripted.reject_key(TENANT_KEY, 401)
    assert post(proxy, "m1|local:m2").status_code == 401  # local:m2 would spend the proxy's key: skipped
    assert [seen.key for seen in scripted.requests] == [TENANT_KEY]
    assert post(proxy, "local:m2").status_code == 400  # a model with no route for the client's key


def test_with_byok_fallback_the_proxys_keys_follow(scripted: ScriptedUpstream, start_proxy: Start) -> None:
    proxy = start_proxy(scripted_config(scripted, byok_fallback=True))
    scripted.reject_key(TENANT_KEY, 401)
    assert post(proxy, "m1").status_code == 200
    assert [seen.key for seen in scripted.requests] == [TENANT_KEY, UPSTREAM_KEY]
    assert post(proxy, "local:m2").status_code == 200  # other backends too, with their own keys

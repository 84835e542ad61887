"""Shared pieces of the end-to-end tests of several proxies as one (tests/e2e/test_instances*.py):
three real proxies (tests/fakes/proxy.py) with the same configuration, sharing one Redis, in front
of the scripted upstream; requests sent to them all at once; their /health and /metrics read."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from src.config import Config
from tests.fakes.proxy import PROXY_KEY, RunningProxy

Start = Callable[[Config], RunningProxy]
ADMIN_KEY = "sy-test-admin-key-0003"
BOB_KEY = "sy-test-bob-key-000003"
MESSAGES = [{"role": "user", "content": "hi"}]
GAUGE = "switchyard_shared_store_down"


def instances_config(upstream_url: str, redis: dict[str, Any] | None, keys: Sequence[dict[str, Any]],
                     **overrides: Any) -> Config:  # fmt: skip
    """Backends `a` and `b` on the scripted upstream (`a` the default), the given proxy keys and an
    admin, /metrics public, usage off unless `usage` is given."""
    raw: dict[str, Any] = {
        "auth": {"api_keys": [*keys, {"name": "root", "key": ADMIN_KEY, "admin": True}]},
        "backends": {name: {"type": "openai", "base_url": upstream_url, "api_key": f"sk-up-{name}-0001", "timeout": 5}
                     for name in ("a", "b")},
        "default_backend": "a",
        "usage": {"database": None},
        "metrics": {"public": True},
        "failover": {"cooldown": 0, "max_retry_wait": 1},
    }  # fmt: skip
    if redis is not None:
        raw["redis"] = redis
    raw.update(overrides)
    return Config.model_validate(raw)


def start_instances(start_proxy: Start, config: Config, count: int = 3) -> list[RunningProxy]:
    proxies = [start_proxy(config) for _ in range(count)]
    assert wait_until(lambda: all(health(p).get("shared_store", {}).get("state") == "up" for p in proxies))
    return proxies


def agent(number: int) -> str:
    """The User-Agent of request `number` of a `send_all`: recorded with its usage row."""
    return f"instances-test/{number}"


async def _send(client: httpx.AsyncClient, number: int, proxy: RunningProxy, key: str, model: str) -> httpx.Response:
    body = {"model": model, "messages": MESSAGES}
    headers = {"Authorization": f"Bearer {key}", "User-Agent": agent(number)}
    return await client.post(f"{proxy.url}/v1/chat/completions", json=body, headers=headers)


def send_all(
    requests: Sequence[tuple[RunningProxy, str, str]], timeout: float = 30, first: int = 0
) -> list[httpx.Response]:
    """Every (proxy, proxy key, model) request at once, numbered from `first`; the answers in order."""

    async def main() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
            return await asyncio.gather(*(_send(client, first + n, *r) for n, r in enumerate(requests)))

    return asyncio.run(main())


def one(proxy: RunningProxy, key: str = PROXY_KEY, model: str = "m", number: int = 0) -> httpx.Response:
    return send_all([(proxy, key, model)], first=number)[0]


def spread(proxies: Sequence[RunningProxy], count: int, key: str = PROXY_KEY,
           model: Callable[[int], str] = lambda i: "m") -> list[tuple[RunningProxy, str, str]]:  # fmt: skip
    """`count` requests, dealt to the proxies in turn."""
    return [(proxies[i % len(proxies)], key, model(i)) for i in range(count)]


def error_code(response: httpx.Response) -> str | None:
    return response.json().get("error", {}).get("code") if response.status_code >= 400 else None


def health(proxy: RunningProxy) -> dict[str, Any]:
    response = httpx.get(f"{proxy.url}/health", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def cooling_routes(proxy: RunningProxy, backend: str = "a") -> dict[str, Any]:
    return health(proxy)["backends"][backend]["cooling_routes"]


def gauge(proxy: RunningProxy) -> float | None:
    text = httpx.get(f"{proxy.url}/metrics", timeout=10).text
    values = [s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == GAUGE]
    return values[0] if values else None


def store_state(proxy: RunningProxy) -> str | None:
    return health(proxy).get("shared_store", {}).get("state")


def wait_until(condition: Callable[[], bool], seconds: float = 10.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True

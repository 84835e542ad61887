"""`--workers N` behaves as one proxy: `/metrics` is one consistent set of series, a key's rpm one limit and a
cooldown one cooldown (through a file the workers share: src/sharing/file_store.py), whichever worker answers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import openai
import pytest
import yaml
from openai.types.chat import ChatCompletionMessageParam

prometheus = pytest.importorskip("prometheus_client.parser")

from tests.e2e.cli_helpers import PROXY_KEY, client, serving  # noqa: E402
from tests.fakes.upstream import FakeUpstream  # noqa: E402

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello"}]


def requests_total(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in prometheus.text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "switchyard_requests_total"
    )


def test_metrics_of_two_workers_never_go_back_and_add_up(tmp_path: Path, upstream: FakeUpstream) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "backends": {"openrouter": {"type": "openrouter", "base_url": upstream.base_url, "api_key": "sk-or-w-0001"}},
        "metrics": {"public": True},
        "usage": {"database": None},
    }))  # fmt: skip
    with serving(["--config", str(config), "--workers", "2"], {"SWITCHYARD_API_KEY": PROXY_KEY}) as (url, _):
        sdk = client(url)
        seen = []
        for _ in range(20):
            sdk.chat.completions.create(model="x/ok", messages=MESSAGES)
            seen.append(requests_total(url))  # scrapes during the load, answered by either worker
        time.sleep(1.5)  # a worker writes its share at least once a second
        seen += [requests_total(url) for _ in range(10)]

    assert seen == sorted(seen), f"a counter went back between scrapes: {seen}"
    assert seen[-10:] == [20.0] * 10


def write_config(path: Path, upstream: FakeUpstream, **extra: object) -> Path:
    path.write_text(yaml.safe_dump({
        "backends": {"openrouter": {"type": "openrouter", "base_url": upstream.base_url, "api_key": "sk-or-w-0001"}},
        "auth": {"api_keys": [{"name": "alice", "key": PROXY_KEY, "rpm": RPM}]},
        "usage": {"database": None},
        **extra,
    }))  # fmt: skip
    return path


def at_once(url: str, count: int, path: str = "/v1/chat/completions") -> list[httpx.Response]:
    """`count` requests at once, each on a connection of its own: both workers take some."""

    async def main() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=10, limits=limits) as sdk:
            if path == "/health":
                return await asyncio.gather(*(sdk.get(f"{url}{path}") for _ in range(count)))
            body, headers = {"model": "x/ok", "messages": MESSAGES}, {"Authorization": f"Bearer {PROXY_KEY}"}
            return await asyncio.gather(*(sdk.post(f"{url}{path}", json=body, headers=headers) for _ in range(count)))

    return asyncio.run(main())


RPM = 10


def test_an_rpm_is_one_limit_across_two_workers(tmp_path: Path, upstream: FakeUpstream) -> None:
    config = write_config(tmp_path / "config.yaml", upstream)
    with serving(["--config", str(config), "--workers", "2"], {}) as (url, _):
        waves = [[r.status_code for r in at_once(url, 20)] for _ in range(12)]
        stores = [r.json().get("shared_store") for r in at_once(url, 10, "/health")]

    admitted = sum(wave.count(200) for wave in waves)
    assert {status for wave in waves for status in wave} == {200, 429}
    # Every grant falls within the same minute: the SharedLimits docstring's bound is the rpm itself.
    assert admitted <= RPM, waves
    assert waves[-1] == [429] * 20
    assert len(upstream.requests) == admitted
    assert all((store["kind"], store["state"]) == ("file", "up") for store in stores), stores


def test_a_cooldown_on_one_worker_shows_on_the_other(tmp_path: Path, upstream: FakeUpstream) -> None:
    config = write_config(tmp_path / "config.yaml", upstream, failover={"cooldown": 30, "max_retry_wait": 0})
    route = "openrouter:x/error-429"
    with serving(["--config", str(config), "--workers", "2"], {}) as (url, _):
        with pytest.raises(openai.RateLimitError):
            client(url).chat.completions.create(model="x/error-429", messages=MESSAGES)  # one worker sees the 429
        deadline, rounds = time.monotonic() + 10, list[list[bool]]()
        while len(rounds) < 10 and time.monotonic() < deadline:
            # Twenty looks at once, on connections of their own; a round often reaches one worker only
            # (the first awake accepts them all), so once a round has seen it everywhere, nine more must.
            looks = [route in r.json()["backends"]["openrouter"]["cooling_routes"] for r in at_once(url, 20, "/health")]
            rounds = [*rounds, looks] if all(looks) or rounds else []
    assert len(rounds) == 10 and all(all(looks) for looks in rounds), rounds

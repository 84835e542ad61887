"""`--workers N` behaves as one proxy: `/metrics` is one consistent set of series, whichever worker answers."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import yaml

prometheus = pytest.importorskip("prometheus_client.parser")

from tests.e2e.cli_helpers import PROXY_KEY, client, serving  # noqa: E402
from tests.fakes.upstream import FakeUpstream  # noqa: E402

MESSAGES = [{"role": "user", "content": "hello"}]


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

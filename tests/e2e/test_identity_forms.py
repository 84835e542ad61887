"""The identity forms of OpenRouter's integration guide, end to end: override, passthrough, default."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from src.config import Config
from tests.fakes.proxy import PROXY_KEY, RunningProxy, config_for
from tests.fakes.upstream import FakeUpstream

Start = Callable[[Config], RunningProxy]
BODY = {"model": "x/ok", "messages": [{"role": "user", "content": "hi"}]}


def sent(proxy: RunningProxy, upstream: FakeUpstream, **client_headers: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {PROXY_KEY}", **client_headers}
    assert httpx.post(f"{proxy.url}/v1/chat/completions", json=BODY, headers=headers).status_code == 200
    got = {k.lower(): v for k, v in upstream.last().headers.items()}
    return {name: got.get(name, "") for name in ("user-agent", "http-referer", "x-title")}


IDENTITY = {
    "user_agent": {"mode": "override", "override_value": "MyApp/1.0.0"},
    "url": {"mode": "passthrough", "default_value": "https://myapp.example"},
    "title": {"mode": "default", "default_value": "MyApp"},
}


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        ({}, {"user-agent": "MyApp/1.0.0", "http-referer": "https://myapp.example", "x-title": "MyApp"}),
        (
            {"User-Agent": "theirs/2", "HTTP-Referer": "https://theirs.example", "X-Title": "Theirs"},
            {"user-agent": "MyApp/1.0.0", "http-referer": "https://theirs.example", "x-title": "MyApp"},
        ),
    ],
    ids=["client sends none", "client sends its own"],
)
def test_the_three_modes(
    upstream: FakeUpstream, start_proxy: Start, client: dict[str, str], expected: dict[str, str]
) -> None:
    proxy = start_proxy(config_for(upstream.base_url, identity=IDENTITY))
    assert sent(proxy, upstream, **client) == expected

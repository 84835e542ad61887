"""The real app reaching its upstream through a forward proxy: the environment's (HTTP_PROXY, NO_PROXY),
a backend's own `proxy:`, `proxy: null`, and a proxy that refuses the credentials, whose password
reaches neither the client nor a log line."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from src.config import Config
from src.config.loading import load_config
from src.core.cli import banner
from tests.fakes.forward_proxy import ForwardProxy
from tests.fakes.proxy import PROXY_KEY, UPSTREAM_KEY, RunningProxy
from tests.fakes.upstream import FakeUpstream
from tests.transports.helpers import closed_port

Start = Callable[[Config], RunningProxy]
USER, PASSWORD, WRONG = "svc", "right-horse-0001", "wrong-battery-0001"


@pytest.fixture
def forward() -> Iterator[ForwardProxy]:
    proxy = ForwardProxy(credentials=(USER, PASSWORD)).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def open_forward() -> Iterator[ForwardProxy]:
    proxy = ForwardProxy().start()
    yield proxy
    proxy.stop()


def load(tmp_path: Path, base_url: str, environ: dict[str, str], **backend: Any) -> Config:
    """A config.yaml with one openai backend `local` on `base_url`, loaded with `environ`."""
    raw = {
        "usage": {"database": None},
        "auth": {"api_keys": [{"name": "alice", "key": PROXY_KEY}]},
        "default_backend": "local",
        "backends": {"local": {"type": "openai", "base_url": base_url, "api_key": UPSTREAM_KEY, "timeout": 5,
                               **backend}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return load_config({"config": str(path)}, environ)


def chat(proxy: RunningProxy) -> httpx.Response:
    payload = {"model": "x/ok", "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(
        f"{proxy.url}/v1/chat/completions", json=payload, headers={"Authorization": f"Bearer {PROXY_KEY}"}, timeout=10
    )


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_http_proxy_from_the_environment_carries_the_chat(
    upstream: FakeUpstream, start_proxy: Start, open_forward: ForwardProxy, tmp_path: Path
) -> None:
    config = load(tmp_path, upstream.base_url, {"HTTP_PROXY": open_forward.url()})
    response = chat(start_proxy(config))
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"]
    assert open_forward.lines == [f"POST {upstream.base_url}/chat/completions HTTP/1.1"]
    assert len(open_forward.connections) == 1
    assert upstream.last().path == "/api/v1/chat/completions"
    assert upstream.last().headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"


def test_a_backends_own_proxy_wins_and_sends_its_credentials(
    upstream: FakeUpstream, start_proxy: Start, forward: ForwardProxy, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"  # the environment's proxy would fail every request
    config = load(tmp_path, upstream.base_url, {"HTTP_PROXY": dead}, proxy=forward.url(USER, PASSWORD))
    proxy = start_proxy(config)
    assert chat(proxy).status_code == 200
    assert chat(proxy).status_code == 200
    assert forward.authorizations == [f"Basic {basic(USER, PASSWORD)}"] * 2
    assert len(forward.connections) == 1  # the pooled connection to the proxy, reused
    assert "proxy-authorization" not in {name.lower() for name in upstream.last().headers}


def test_no_proxy_sends_the_chat_direct(
    upstream: FakeUpstream, start_proxy: Start, open_forward: ForwardProxy, tmp_path: Path
) -> None:
    config = load(tmp_path, upstream.base_url, {"HTTP_PROXY": open_forward.url(), "NO_PROXY": "127.0.0.1"})
    assert chat(start_proxy(config)).status_code == 200
    assert open_forward.connections == []
    assert upstream.last().path == "/api/v1/chat/completions"


def test_proxy_null_goes_direct_despite_http_proxy(
    upstream: FakeUpstream, start_proxy: Start, open_forward: ForwardProxy, tmp_path: Path
) -> None:
    config = load(tmp_path, upstream.base_url, {"HTTP_PROXY": open_forward.url()}, proxy=None)
    assert chat(start_proxy(config)).status_code == 200
    assert open_forward.connections == []
    assert upstream.last().path == "/api/v1/chat/completions"


def test_the_banner_names_the_proxy_with_its_password_masked(forward: ForwardProxy, tmp_path: Path) -> None:
    config = load(tmp_path, "http://127.0.0.1:9/v1", {"HTTP_PROXY": forward.url(USER, PASSWORD)})
    text = banner(config, 1, "config.yaml")
    assert f"local (openai, default, via http://{USER}:***@127.0.0.1:{forward.port})" in text
    assert PASSWORD not in text


def leaks(text: str) -> list[str]:
    return [s for s in (WRONG, basic(USER, WRONG)) if s in text]


def assert_openai_error(response: httpx.Response) -> str:
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    return error["message"]


def test_a_refused_tunnel_is_a_502_naming_the_proxy_and_never_its_password(
    start_proxy: Start, forward: ForwardProxy, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream = f"https://127.0.0.1:{closed_port()}"  # the proxy refuses before going there
    config = load(tmp_path, f"{upstream}/v1", {"HTTPS_PROXY": forward.url(USER, WRONG)})
    response = chat(start_proxy(config))
    assert response.status_code == 502, response.text
    message = assert_openai_error(response)
    assert f"proxy 127.0.0.1:{forward.port} refused the tunnel: 407" in message
    assert set(forward.lines) == {f"CONNECT 127.0.0.1:{upstream.rsplit(':', 1)[1]} HTTP/1.1"}  # retried, maybe
    assert set(forward.authorizations) == {f"Basic {basic(USER, WRONG)}"}  # it was sent, so it could leak
    assert leaks(response.text) == []
    assert leaks(caplog.text) == []


def test_a_407_quoting_the_credentials_is_masked_for_the_client_and_the_logs(
    upstream: FakeUpstream, start_proxy: Start, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hostile = ForwardProxy(credentials=(USER, PASSWORD), echo_denied=True).start()
    try:
        config = load(tmp_path, upstream.base_url, {}, proxy=hostile.url(USER, WRONG))
        response = chat(start_proxy(config))
    finally:
        hostile.stop()
    assert response.status_code >= 400
    message = assert_openai_error(response)
    assert f"proxy 127.0.0.1:{hostile.port} refused the request: 407" in message
    assert "Proxy-Authorization" not in message  # the proxy's own body (which quotes it) is never passed on
    assert leaks(response.text) == []
    assert leaks(caplog.text) == []
    assert upstream.requests == []


def test_a_407_to_an_http_upstream_is_a_5xx_naming_the_proxy(
    upstream: FakeUpstream, start_proxy: Start, forward: ForwardProxy, tmp_path: Path
) -> None:
    config = load(tmp_path, upstream.base_url, {"HTTP_PROXY": forward.url(USER, WRONG)})
    response = chat(start_proxy(config))
    # Quick connection retries may ask again; each time with the same (wrong) credentials.
    assert set(forward.authorizations) == {f"Basic {basic(USER, WRONG)}"}
    assert 500 < response.status_code < 600, response.text
    assert f"proxy 127.0.0.1:{forward.port}" in assert_openai_error(response)
    assert leaks(response.text) == []

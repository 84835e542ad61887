"""Shared pieces of the Anthropic Messages end-to-end tests (`/v1/messages` with the official SDK).

Test modules import the fixtures they use; a test's `native` argument then shadows no import:

    from tests.e2e.anthropic_helpers import native_fixture, native_server  # noqa: F401

The scripted upstream (`scripted`) is every end-to-end module's, in conftest.py.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import MessageParam

from src.config import Config
from tests.fakes.messages_upstream import MessagesUpstream
from tests.fakes.proxy import PROXY_KEY, RunningProxy

USER: list[MessageParam] = [{"role": "user", "content": "hi"}]
LOCAL_KEY = "sk-local-upstream-0001"
OR_KEY = "sk-or-v1-native-upstream-0001"


@pytest.fixture(scope="session")
def native_server() -> Iterator[MessagesUpstream]:
    server = MessagesUpstream().start()
    yield server
    server.stop()


@pytest.fixture(name="native")
def native_fixture(native_server: MessagesUpstream) -> MessagesUpstream:
    native_server.reset()
    return native_server


def openai_backend(url: str, key: str | None = LOCAL_KEY, **extra: Any) -> dict[str, Any]:
    """An `openai` backend (always translated) with a 2 s data timeout."""
    spec: dict[str, Any] = {"type": "openai", "base_url": url, "timeout": 2, **extra}
    if key is not None:
        spec["api_key"] = key
    return spec


def closed_port_url() -> str:
    """A base_url whose port was bound and closed again: connections to it are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def make_config(backends: dict[str, Any], **overrides: Any) -> Config:
    """Proxy key auth on, the first backend the default, no cooldown between tests' requests."""
    raw: dict[str, Any] = {
        "auth": {"api_keys": [{"name": "alice", "key": PROXY_KEY}]},
        "backends": backends,
        "default_backend": next(iter(backends)),
        "failover": {"deadline": 10, "max_retry_wait": 2, "cooldown": 0},
    }
    failover = overrides.pop("failover", {})
    raw.update(overrides)
    raw["failover"] = {**raw["failover"], **failover}
    return Config.model_validate(raw)


def local_config(url: str, **overrides: Any) -> Config:
    """One `openai` backend, `local`, on the scripted upstream: every request is translated."""
    return make_config({"local": openai_backend(url)}, **overrides)


def sdk(proxy: RunningProxy, **kwargs: Any) -> anthropic.Anthropic:
    """The official SDK on the proxy, proxy key as x-api-key, no retries: one answer per call."""
    kwargs.setdefault("api_key", PROXY_KEY)
    return anthropic.Anthropic(base_url=proxy.url, max_retries=0, **kwargs)


def post(proxy: RunningProxy, body: dict[str, Any] | bytes, path: str = "/v1/messages",
         headers: dict[str, str] | None = None) -> httpx.Response:
    """A raw POST with the proxy key as x-api-key."""
    sent = {"x-api-key": PROXY_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json",
            **(headers or {})}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(proxy.url + path, content=content, headers=sent, timeout=15)


def sse_events(text: str) -> list[tuple[str | None, Any]]:
    """(event name, parsed data) for each event of an SSE body; comments are left out."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        name = next((line[6:].strip() for line in lines if line.startswith("event:")), None)
        data = "\n".join(line[5:].lstrip() for line in lines if line.startswith("data:"))
        events.append((name, json.loads(data) if data.startswith(("{", "[")) else data))
    return events


def header(headers: dict[str, str], name: str) -> str | None:
    """A recorded header, whatever the case of its name."""
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)

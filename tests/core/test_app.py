"""The bare ASGI app: its endpoint table, the loop guard, and the scopes that are not HTTP requests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from src.config import Config
from src.core import admin
from src.core.app import ENDPOINTS, App, Endpoint, create_app, endpoint_for
from src.core.asgi import Message
from src.frontends import anthropic_messages, models, openai_chat
from src.wire.anthropic import MESSAGES
from src.wire.errors import MethodNotAllowed, NotFound
from src.wire.openai_chat import CHAT
from tests.config.config_helpers import minimal

pytestmark = pytest.mark.anyio


def scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path}


def served_by(endpoint: Endpoint) -> Callable[..., Any]:
    """The function behind an endpoint: a front-end's, which `front` wraps to see only the gateway, or an admin one."""
    cells = endpoint.serve.__closure__ or ()
    return cells[0].cell_contents if cells else endpoint.serve


@pytest.mark.parametrize(
    ("method", "path", "function", "tail"),
    [
        ("POST", "/v1/chat/completions", openai_chat.completions, ""),
        ("POST", "/v1/messages", anthropic_messages.messages, ""),
        ("POST", "/v1/messages/count_tokens", anthropic_messages.count_tokens, ""),
        ("GET", "/v1/models", models.list_models, ""),
        ("HEAD", "/v1/models", models.list_models, ""),
        ("GET", "/v1/models/openai/gpt-4o", models.retrieve_model, "openai/gpt-4o"),
        ("GET", "/v1/models/up:m?x", models.retrieve_model, "up:m?x"),
        ("GET", "/v1/usage", admin.usage, ""),
        ("GET", "/metrics", admin.metrics, ""),
        ("GET", "/health", admin.health, ""),
    ],
)
def test_each_path_reaches_its_endpoint(method: str, path: str, function: Callable[..., Any], tail: str) -> None:
    endpoint, found_tail = endpoint_for(scope(method, path))
    assert endpoint in ENDPOINTS
    assert served_by(endpoint) is function
    assert found_tail == tail


@pytest.mark.parametrize(
    ("path", "protocol", "body", "metered", "auth"),
    [
        ("/v1/chat/completions", CHAT, True, True, True),
        ("/v1/messages", MESSAGES, True, True, True),
        ("/v1/messages/count_tokens", MESSAGES, True, False, True),
        ("/v1/models", CHAT, False, False, True),
        ("/v1/models/x", CHAT, False, False, True),
        ("/v1/usage", CHAT, False, False, True),
        ("/metrics", CHAT, False, False, False),  # it decides for itself (metrics.public)
        ("/health", CHAT, False, False, False),
    ],
)
def test_what_each_endpoint_takes(path: str, protocol: object, body: bool, metered: bool, auth: bool) -> None:
    method = "POST" if body else "GET"
    endpoint, _ = endpoint_for(scope(method, path))
    assert (endpoint.protocol, endpoint.body, endpoint.metered, endpoint.auth) == (protocol, body, metered, auth)


@pytest.mark.parametrize(
    "path", ["/", "/v1", "/v1/chat/completions/", "/v1/models/", "/v2/chat/completions", "/v1/Messages"]
)
def test_a_path_without_an_endpoint_is_not_found(path: str) -> None:
    with pytest.raises(NotFound, match=f"no such endpoint: {path}$"):
        endpoint_for(scope("GET", path))


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/v1/chat/completions", "POST"),
        ("PUT", "/v1/messages", "POST"),
        ("HEAD", "/v1/messages/count_tokens", "POST"),
        ("POST", "/v1/models", "GET, HEAD"),
        ("DELETE", "/v1/models/gpt-4o", "GET, HEAD"),
        ("POST", "/health", "GET, HEAD"),
    ],
)
def test_a_wrong_method_names_the_allowed_ones(method: str, path: str, allow: str) -> None:
    with pytest.raises(MethodNotAllowed) as caught:
        endpoint_for(scope(method, path))
    assert caught.value.headers == {"allow": allow}
    assert caught.value.status == 405


def test_every_endpoint_is_reachable_by_its_own_method() -> None:
    for endpoint in ENDPOINTS:
        path = endpoint.path + ("some-model" if endpoint.prefix else "")
        assert endpoint_for(scope(endpoint.method, path)) == (endpoint, "some-model" if endpoint.prefix else "")


class Channel:
    """The server's side of one ASGI connection: scripted messages in, sent messages recorded."""

    def __init__(self, *incoming: dict[str, Any]) -> None:
        self.incoming = list(incoming)
        self.sent: list[Message] = []

    async def receive(self) -> dict[str, Any]:
        return self.incoming.pop(0)

    async def send(self, message: Message) -> None:
        self.sent.append(message)


class FakeTransport:
    def __init__(self) -> None:
        self.closed = False

    async def send(self, request: Any) -> Any:
        raise AssertionError("no request is sent in these tests")

    async def aclose(self) -> None:
        self.closed = True


def app_with(transport: FakeTransport, **settings: Any) -> App:
    return create_app(Config.model_validate(minimal(usage={"database": None}, **settings)), lambda: transport)


async def test_a_websocket_is_refused_not_left_open() -> None:
    channel = Channel({"type": "websocket.connect"})
    app = app_with(FakeTransport())
    await app({"type": "websocket", "path": "/v1/chat/completions"}, channel.receive, channel.send)
    assert channel.sent == [{"type": "websocket.close", "code": 1008}]


async def test_the_lifespan_starts_and_closes_the_transport() -> None:
    transport = FakeTransport()
    channel = Channel({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    await app_with(transport)({"type": "lifespan"}, channel.receive, channel.send)
    assert [m["type"] for m in channel.sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert transport.closed


async def test_the_transport_is_closed_even_when_the_usage_store_fails_to_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    transport = FakeTransport()
    app = app_with(transport)
    shutdown_sent: list[str] = []

    async def receive_then_break_the_store() -> dict[str, Any]:
        if app.runtime is None:
            return {"type": "lifespan.startup"}

        async def broken_close() -> None:
            raise OSError("disk gone")

        monkeypatch.setattr(app.runtime.accounting.store, "close", broken_close)
        return {"type": "lifespan.shutdown"}

    async def send(message: Message) -> None:
        shutdown_sent.append(message["type"])

    with pytest.raises(OSError, match="disk gone"):
        await app({"type": "lifespan"}, receive_then_break_the_store, send)
    assert shutdown_sent == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert transport.closed


@contextlib.asynccontextmanager
async def started(app: App) -> AsyncIterator[App]:
    """The app between its lifespan's startup and shutdown."""
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: asyncio.Queue[Message] = asyncio.Queue()
    await incoming.put({"type": "lifespan.startup"})
    lifespan = asyncio.ensure_future(app({"type": "lifespan"}, incoming.get, sent.put))
    assert (await sent.get())["type"] == "lifespan.startup.complete"
    try:
        yield app
    finally:
        await incoming.put({"type": "lifespan.shutdown"})
        await lifespan


KEY = "app-test-proxy-key-1"
AUTHS = {
    "no key": [],
    "a wrong key": [(b"authorization", b"Bearer not-the-key")],
    "the key": [(b"x-api-key", KEY.encode())],
}
HOP = [(b"x-switchyard-hop", b"1")]


async def request(app: App, method: str, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[str, Any]]:
    """One request whose body is never read: `receive` fails the test if the app asks for it."""
    channel = Channel()
    await app({**scope(method, path), "headers": headers, "query_string": b""}, channel.receive, channel.send)
    start, body = channel.sent
    assert start["type"] == "http.response.start" and body["more_body"] is False
    return start["status"], json.loads(body["body"])


@pytest.mark.parametrize("auth", list(AUTHS))
@pytest.mark.parametrize(
    ("method", "path", "error_type"),
    [
        ("POST", "/v1/chat/completions", "loop_detected"),
        ("POST", "/v1/messages", "api_error"),
        ("GET", "/v1/models", "loop_detected"),
        ("GET", "/health", "loop_detected"),
    ],
)
async def test_a_request_from_a_proxy_gets_508_before_auth_and_before_its_body(
    auth: str, method: str, path: str, error_type: str
) -> None:
    async with started(app_with(FakeTransport(), auth={"api_keys": [{"name": "k", "key": KEY}]})) as app:
        status, body = await request(app, method, path, [*HOP, *AUTHS[auth]])
    assert status == 508
    assert "x-switchyard-hop" in body["error"]["message"]
    assert body["error"]["type"] == error_type


# With the key, /v1/usage is past the key check: it answers that usage recording is off.
@pytest.mark.parametrize(("auth", "status"), [("no key", 401), ("a wrong key", 401), ("the key", 404)])
async def test_without_the_hop_header_the_key_decides(auth: str, status: int) -> None:
    async with started(app_with(FakeTransport(), auth={"api_keys": [{"name": "k", "key": KEY}]})) as app:
        assert (await request(app, "GET", "/v1/usage", AUTHS[auth]))[0] == status

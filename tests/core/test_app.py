"""The bare ASGI app: its route table, and the scopes that are not HTTP requests."""

from __future__ import annotations

from typing import Any

import pytest

from src.core import app as app_module
from src.core.app import ROUTES, create_app, route_for
from src.config import Config
from src.wire.errors import MethodNotAllowed, NotFound
from src.frontends import admin, anthropic, openai
from tests.core.config_helpers import minimal

pytestmark = pytest.mark.anyio


def scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path}


@pytest.mark.parametrize(
    ("method", "path", "endpoint", "params"),
    [
        ("POST", "/v1/chat/completions", openai.chat_completions, None),
        ("POST", "/v1/messages", anthropic.messages, None),
        ("POST", "/v1/messages/count_tokens", anthropic.count_tokens, None),
        ("GET", "/v1/models", openai.list_models, None),
        ("HEAD", "/v1/models", openai.list_models, None),
        ("GET", "/v1/models/openai/gpt-4o", openai.retrieve_model, {"model_id": "openai/gpt-4o"}),
        ("GET", "/v1/models/up:m?x", openai.retrieve_model, {"model_id": "up:m?x"}),
        ("GET", "/v1/usage", admin.usage, None),
        ("GET", "/metrics", admin.metrics, None),
        ("GET", "/health", app_module.health, None),
    ],
)
def test_each_route_reaches_its_endpoint(method: str, path: str, endpoint, params: dict[str, str] | None) -> None:
    request_scope = scope(method, path)
    assert route_for(request_scope) is endpoint
    assert request_scope.get("path_params") == params


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/chat/completions/", "/v1/models/", "/v2/chat/completions", "/v1/Messages"])
def test_a_path_without_a_route_is_not_found(path: str) -> None:
    with pytest.raises(NotFound, match=f"no such endpoint: {path}$"):
        route_for(scope("GET", path))


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
        route_for(scope(method, path))
    assert caught.value.headers == {"allow": allow}
    assert caught.value.status == 405


def test_every_route_is_reachable_by_its_own_method() -> None:
    for route in ROUTES:
        path = route.path + ("some-model" if route.tail else "")
        assert route_for(scope(route.method, path)) is route.endpoint


class Channel:
    """The server's side of one ASGI connection: scripted messages in, sent messages recorded."""

    def __init__(self, *incoming: dict[str, Any]) -> None:
        self.incoming = list(incoming)
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return self.incoming.pop(0)

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


class FakeTransport:
    def __init__(self) -> None:
        self.closed = False

    async def send(self, request: Any) -> Any:
        raise AssertionError("no request is sent in these tests")

    async def aclose(self) -> None:
        self.closed = True


def app_with(transport: FakeTransport):
    return create_app(Config.model_validate(minimal(usage={"database": None})), lambda: transport)


async def test_a_websocket_is_refused_not_left_open() -> None:
    channel = Channel({"type": "websocket.connect"})
    await app_with(FakeTransport())({"type": "websocket", "path": "/v1/chat/completions"}, channel.receive, channel.send)
    assert channel.sent == [{"type": "websocket.close", "code": 1008}]


async def test_the_lifespan_starts_and_closes_the_transport() -> None:
    transport = FakeTransport()
    channel = Channel({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    await app_with(transport)({"type": "lifespan"}, channel.receive, channel.send)
    assert [m["type"] for m in channel.sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert transport.closed


async def test_the_transport_is_closed_even_when_the_usage_store_fails_to_close() -> None:
    transport = FakeTransport()
    app = app_with(transport)
    shutdown_sent: list[str] = []

    async def receive_then_break_the_store() -> dict[str, Any]:
        if not hasattr(app.state, "runtime"):
            return {"type": "lifespan.startup"}

        async def broken_close() -> None:
            raise OSError("disk gone")

        app.state.runtime.accounting.store.close = broken_close
        return {"type": "lifespan.shutdown"}

    async def send(message: dict[str, Any]) -> None:
        shutdown_sent.append(message["type"])

    with pytest.raises(OSError, match="disk gone"):
        await app({"type": "lifespan"}, receive_then_break_the_store, send)
    assert shutdown_sent == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert transport.closed

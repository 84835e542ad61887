"""OpenRouterBackend's requests: the body as sent, the key, identity and pass-through headers."""

from __future__ import annotations

import httpx
import pytest
from starlette.datastructures import Headers

from src import __version__
from src.backends import build_backends
from src.backends.openrouter import OpenRouterBackend
from src.config import Config, Identity
from tests.backends.calls import send
from tests.backends.openrouter_helpers import BASE, BODY, CHAT_URL, COMPLETION, chat_request, make_backend
from tests.fakes.httpx_transport import HttpxTransport

pytestmark = pytest.mark.anyio


async def test_chat_posts_body_unchanged_with_key_and_json(router) -> None:
    backend = make_backend()
    request = await chat_request(backend, router)
    assert request.method == "POST"
    assert str(request.url) == CHAT_URL
    assert request.content == BODY
    assert request.headers["authorization"] == "Bearer sk-or-1"
    assert request.headers["content-type"] == "application/json"


async def test_trailing_slash_in_base_url_is_not_doubled(router) -> None:
    backend = make_backend(base_url=BASE + "/")
    request = await chat_request(backend, router)
    assert str(request.url) == CHAT_URL


async def test_default_identity_when_client_sent_none(router) -> None:
    request = await chat_request(make_backend(), router)
    assert request.headers["user-agent"] == f"switchyard/{__version__}"
    assert request.headers["x-title"] == "Switchyard"
    assert request.headers["x-openrouter-title"] == "Switchyard"
    assert "http-referer" not in request.headers


async def test_client_identity_passes_through_when_unconfigured(router) -> None:
    client = {"User-Agent": "my-app/2.0", "HTTP-Referer": "https://my.app", "X-Title": "My App"}
    request = await chat_request(make_backend(), router, client)
    assert request.headers["user-agent"] == "my-app/2.0"
    assert request.headers["http-referer"] == "https://my.app"
    assert request.headers["x-title"] == "My App"
    assert request.headers["x-openrouter-title"] == "My App"


async def test_client_x_openrouter_title_is_used_for_both_titles(router) -> None:
    client = {"X-OpenRouter-Title": "New Title", "X-Title": "Old Title"}
    request = await chat_request(make_backend(), router, client)
    assert request.headers["x-title"] == "New Title"
    assert request.headers["x-openrouter-title"] == "New Title"


async def test_global_identity_replaces_client_headers(router) -> None:
    configured = Identity(user_agent="conf-ua/1", referer="https://conf.example", title="Conf Title")
    client = {"User-Agent": "client-ua", "HTTP-Referer": "https://client.example", "X-Title": "Client"}
    request = await chat_request(make_backend(global_identity=configured), router, client)
    assert request.headers["user-agent"] == "conf-ua/1"
    assert request.headers["http-referer"] == "https://conf.example"
    assert request.headers["x-title"] == "Conf Title"
    assert request.headers["x-openrouter-title"] == "Conf Title"


async def test_configured_identity_is_per_field(router) -> None:
    # Only the title is configured: the client's user agent and referer still pass.
    client = {"User-Agent": "client-ua", "HTTP-Referer": "https://client.example", "X-Title": "Client"}
    request = await chat_request(make_backend(global_identity=Identity(title="Conf Title")), router, client)
    assert request.headers["user-agent"] == "client-ua"
    assert request.headers["http-referer"] == "https://client.example"
    assert request.headers["x-title"] == "Conf Title"
    assert request.headers["x-openrouter-title"] == "Conf Title"


async def test_per_backend_identity_overrides_global_per_field(router) -> None:
    global_identity = Identity(user_agent="global-ua", referer="https://global.example", title="Global")
    per_backend = Identity(title="Backend Title")
    client = {"User-Agent": "client-ua", "X-Title": "Client"}
    backend = make_backend(identity=per_backend, global_identity=global_identity)
    request = await chat_request(backend, router, client)
    assert request.headers["x-title"] == "Backend Title"
    assert request.headers["x-openrouter-title"] == "Backend Title"
    assert request.headers["user-agent"] == "global-ua"
    assert request.headers["http-referer"] == "https://global.example"


async def test_per_backend_identity_wins_over_global_for_the_same_field(router) -> None:
    global_identity = Identity(user_agent="global-ua", referer="https://global.example", title="Global")
    per_backend = Identity(user_agent="backend-ua", referer="https://backend.example", title="Backend")
    client = {"User-Agent": "client-ua", "HTTP-Referer": "https://client.example", "X-Title": "Client"}
    request = await chat_request(make_backend(identity=per_backend, global_identity=global_identity), router, client)
    assert request.headers["user-agent"] == "backend-ua"
    assert request.headers["http-referer"] == "https://backend.example"
    assert request.headers["x-title"] == "Backend"
    assert request.headers["x-openrouter-title"] == "Backend"


async def test_per_backend_identity_without_global_replaces_client(router) -> None:
    client = {"User-Agent": "client-ua", "HTTP-Referer": "https://client.example"}
    backend = make_backend(identity=Identity(referer="https://backend.example"))
    request = await chat_request(backend, router, client)
    assert request.headers["http-referer"] == "https://backend.example"
    assert request.headers["user-agent"] == "client-ua"
    assert request.headers["x-title"] == "Switchyard"


async def test_build_backends_applies_global_and_per_backend_identity(router) -> None:
    config = Config(
        default_backend="openrouter",
        identity={"user_agent": "global-ua", "title": "Global"},
        backends={
            "openrouter": {
                "type": "openrouter",
                "base_url": BASE,
                "api_key": "sk-or-x",
                "identity": {"referer": "https://backend.example"},
            }
        },
    )
    backends = build_backends(config, HttpxTransport(httpx.AsyncClient()))
    backend = backends["openrouter"]
    assert isinstance(backend, OpenRouterBackend)
    assert backend.name == "openrouter"
    request = await chat_request(backend, router, {"User-Agent": "client-ua", "X-Title": "Client"})
    assert request.headers["user-agent"] == "global-ua"
    assert request.headers["http-referer"] == "https://backend.example"
    assert request.headers["x-title"] == "Global"
    assert request.headers["x-openrouter-title"] == "Global"
    assert request.headers["authorization"] == "Bearer sk-or-x"


async def test_keys_rotate_round_robin_per_request(router) -> None:
    backend = make_backend(api_keys=["k1", "k2", "k3"])
    route = router.post(CHAT_URL).respond(200, json=COMPLETION)
    for _ in range(4):
        response = await send(backend, BODY)
        await response.read()
    sent = [call.request.headers["authorization"] for call in route.calls]
    assert sent == ["Bearer k1", "Bearer k2", "Bearer k3", "Bearer k1"]


async def test_model_list_uses_the_first_key_and_leaves_the_chat_rotation_alone(router) -> None:
    backend = make_backend(api_keys=["k1", "k2"])
    chat = router.post(CHAT_URL).respond(200, json=COMPLETION)
    models = router.get(f"{BASE}/models").respond(200, json={"data": []})
    await (await send(backend, BODY)).read()
    await backend.list_models()
    await (await send(backend, BODY)).read()
    await backend.list_models()
    sent = [call.request.headers["authorization"] for call in router.calls]
    assert sent == ["Bearer k1", "Bearer k1", "Bearer k2", "Bearer k1"]
    assert [c.request.headers["authorization"] for c in chat.calls] == ["Bearer k1", "Bearer k2"]
    assert [c.request.headers["authorization"] for c in models.calls] == ["Bearer k1", "Bearer k1"]


async def test_single_key_is_reused(router) -> None:
    backend = make_backend(api_key="only")
    route = router.post(CHAT_URL).respond(200, json=COMPLETION)
    for _ in range(3):
        await (await send(backend, BODY)).read()
    assert [c.request.headers["authorization"] for c in route.calls] == ["Bearer only"] * 3


async def test_client_credentials_are_never_forwarded(router) -> None:
    client = {
        "Authorization": "Bearer client-proxy-key",
        "x-api-key": "client-anthropic-key",
        "X-Session-Id": "s-1",
    }
    request = await chat_request(make_backend(api_key="sk-upstream"), router, client)
    assert request.headers["authorization"] == "Bearer sk-upstream"
    assert request.headers.get_list("authorization") == ["Bearer sk-upstream"]
    assert "x-api-key" not in request.headers
    raw = b"\n".join(k + b": " + v for k, v in request.headers.raw)
    assert b"client-proxy-key" not in raw
    assert b"client-anthropic-key" not in raw


async def test_passthrough_headers_are_forwarded(router) -> None:
    client = {
        "X-Session-Id": "sess-42",
        "X-OpenRouter-Metadata": '{"team":"a"}',
        "X-OpenRouter-Categories": "coding,chat",
        "X-Unrelated": "nope",
    }
    request = await chat_request(make_backend(), router, client)
    assert request.headers["x-session-id"] == "sess-42"
    assert request.headers["x-openrouter-metadata"] == '{"team":"a"}'
    assert request.headers["x-openrouter-categories"] == "coding,chat"
    assert "x-unrelated" not in request.headers


async def test_passthrough_headers_absent_when_client_sent_none(router) -> None:
    request = await chat_request(make_backend(), router, {})
    for name in ("x-session-id", "x-openrouter-metadata", "x-openrouter-categories"):
        assert name not in request.headers


async def test_utf8_client_headers_are_sent_on_as_text() -> None:
    # The server decodes header bytes as latin-1; the backend re-decodes UTF-8 text.
    client = Headers(
        raw=[
            (b"x-session-id", "sitzung-ä".encode()),
            (b"x-openrouter-metadata", '{"team":"Café"}'.encode()),
            (b"x-title", "Mön App".encode()),
            (b"user-agent", b"ascii-agent/1"),
        ]
    )
    headers = make_backend().headers(client)
    assert headers["x-session-id"] == "sitzung-ä"
    assert headers["x-openrouter-metadata"] == '{"team":"Café"}'
    assert headers["X-Title"] == headers["X-OpenRouter-Title"] == "Mön App"
    assert headers["User-Agent"] == "ascii-agent/1"


async def test_non_utf8_client_header_is_passed_as_decoded() -> None:
    headers = make_backend().headers(Headers(raw=[(b"x-session-id", b"caf\xe9")]))
    assert headers["x-session-id"] == "caf\xe9"

"""OpenRouterBackend against a respx-faked upstream, over the httpx transport."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from starlette.datastructures import Headers

from src import __version__
from src.backends import build_backends
from src.backends.openrouter import OpenRouterBackend
from src.core.config import Config, Identity, OpenRouterBackendConfig
from src.core.errors import UpstreamStatusError
from src.transports.httpx import HttpxTransport

BASE = "https://or.test/api/v1"
CHAT_URL = f"{BASE}/chat/completions"
MODELS_URL = f"{BASE}/models"
NAME = "or-main"
# Odd spacing, a non-ASCII character and a trailing newline: any re-serialisation would show.
BODY = b'{"model":"openai/gpt-4o",  "messages":[{"role":"user","content":"h\xc3\xa9"}],"stream":false}\n'
COMPLETION = {"id": "gen-1", "object": "chat.completion", "choices": []}

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def router():
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


def make_backend(
    *,
    api_key: str | None = "sk-or-1",
    api_keys: list[str] | None = None,
    identity: Identity | None = None,
    global_identity: Identity | None = None,
    base_url: str = BASE,
) -> OpenRouterBackend:
    kwargs: dict = {"type": "openrouter", "base_url": base_url}
    if api_keys is not None:
        kwargs["api_keys"] = api_keys
    else:
        kwargs["api_key"] = api_key
    if identity is not None:
        kwargs["identity"] = identity
    config = OpenRouterBackendConfig(**kwargs)
    transport = HttpxTransport(httpx.AsyncClient())
    return OpenRouterBackend(NAME, config, transport, global_identity or Identity())


async def chat_request(backend, router, client_headers=None, body: bytes = BODY) -> httpx.Request:
    route = router.post(CHAT_URL).respond(200, json=COMPLETION)
    response = await backend.chat(body, Headers(client_headers or {}))
    assert response.status == 200
    assert json.loads(await response.read()) == COMPLETION
    assert route.call_count >= 1
    return route.calls.last.request


# --- the request ---------------------------------------------------------------------------


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
        response = await backend.chat(BODY, Headers({}))
        await response.read()
    sent = [call.request.headers["authorization"] for call in route.calls]
    assert sent == ["Bearer k1", "Bearer k2", "Bearer k3", "Bearer k1"]


async def test_single_key_is_reused(router) -> None:
    backend = make_backend(api_key="only")
    route = router.post(CHAT_URL).respond(200, json=COMPLETION)
    for _ in range(3):
        await (await backend.chat(BODY, Headers({}))).read()
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


# --- errors --------------------------------------------------------------------------------


async def chat_error(router, status: int, **respond) -> UpstreamStatusError:
    router.post(CHAT_URL).respond(status, **respond)
    with pytest.raises(UpstreamStatusError) as info:
        await make_backend().chat(BODY, Headers({}))
    return info.value


async def test_error_keeps_status_message_code_and_retry_after(router) -> None:
    body = {
        "error": {
            "message": "Provider returned error",
            "code": 429,
            "metadata": {"provider_name": "Anthropic", "raw": "rate limited by the provider"},
        }
    }
    error = await chat_error(router, 429, json=body, headers={"Retry-After": "7"})
    assert error.status == 429
    assert error.backend == NAME
    assert error.message.startswith(NAME)
    assert "Provider returned error" in error.message
    assert "Anthropic" in error.message
    assert "rate limited by the provider" in error.message
    # The provider details are appended after OpenRouter's own message.
    assert error.message.index("Provider returned error") < error.message.index("Anthropic")
    assert error.message.index("Provider returned error") < error.message.index("rate limited by the provider")
    assert error.code == "429"
    assert {k.lower(): v for k, v in error.headers.items()}["retry-after"] == "7"
    assert error.retry_after == "7"
    assert error.error_type == "rate_limit_error"


async def test_error_with_only_provider_name(router) -> None:
    body = {"error": {"message": "Upstream failed", "code": 502, "metadata": {"provider_name": "Groq"}}}
    error = await chat_error(router, 502, json=body)
    assert error.status == 502
    assert error.message.startswith(NAME)
    assert "Upstream failed" in error.message
    assert "Groq" in error.message
    assert error.code == "502"


async def test_error_without_metadata_is_plain_message(router) -> None:
    body = {"error": {"message": "Invalid model", "code": "bad_model", "type": "invalid_request_error"}}
    error = await chat_error(router, 400, json=body)
    assert error.status == 400
    assert error.message == f"{NAME}: Invalid model"
    assert error.code == "bad_model"
    assert error.error_type == "invalid_request_error"
    assert error.headers == {}


async def test_error_with_non_json_body_uses_text(router) -> None:
    error = await chat_error(router, 503, content=b"Service Unavailable: try later", headers={"Retry-After": "30"})
    assert error.status == 503
    assert error.message.startswith(NAME)
    assert "Service Unavailable: try later" in error.message
    assert error.code is None
    assert {k.lower(): v for k, v in error.headers.items()}["retry-after"] == "30"


async def test_error_with_empty_body(router) -> None:
    error = await chat_error(router, 500, content=b"")
    assert error.status == 500
    assert error.message.startswith(NAME)
    assert "no error message" in error.message


@pytest.mark.parametrize("status", [301, 302, 307])
async def test_redirect_becomes_502(router, status: int) -> None:
    error = await chat_error(router, status, headers={"Location": "https://elsewhere.test/"})
    assert error.status == 502
    assert error.message.startswith(NAME)


# --- models --------------------------------------------------------------------------------


async def test_list_models_parses_data_envelope_and_skips_bad_entries(router) -> None:
    route = router.get(MODELS_URL).respond(
        200,
        json={
            "data": [
                {"id": "openai/gpt-4o", "context_length": 128000},
                {"id": 42},
                {"name": "no id"},
                "not-a-dict",
                {"id": "qwen/qwen3-coder:free"},
            ]
        },
    )
    models = await make_backend(api_key="sk-list").list_models()
    assert [m["id"] for m in models] == ["openai/gpt-4o", "qwen/qwen3-coder:free"]
    assert models[0]["context_length"] == 128000
    request = route.calls.last.request
    assert request.method == "GET"
    assert request.headers["authorization"] == "Bearer sk-list"


async def test_list_models_accepts_bare_list(router) -> None:
    router.get(MODELS_URL).respond(200, json=[{"id": "a"}, {"id": None}, {"id": "b"}])
    models = await make_backend().list_models()
    assert [m["id"] for m in models] == ["a", "b"]


async def test_list_models_error_status(router) -> None:
    router.get(MODELS_URL).respond(500, json={"error": {"message": "models exploded"}})
    with pytest.raises(UpstreamStatusError) as info:
        await make_backend().list_models()
    assert info.value.status == 500
    assert info.value.message.startswith(NAME)
    assert "models exploded" in info.value.message


# --- streaming -----------------------------------------------------------------------------


async def test_streaming_chat_yields_body_chunks(router) -> None:
    parts = [
        b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n',
        b'data: {"choices":[{"delta":{"content":"lo"}}]}\n\n',
        b"data: [DONE]\n\n",
    ]

    async def stream():
        for part in parts:
            yield part

    router.post(CHAT_URL).mock(
        return_value=httpx.Response(200, headers={"Content-Type": "text/event-stream"}, content=stream())
    )
    response = await make_backend().chat(BODY.replace(b'"stream":false', b'"stream":true'), Headers({}))
    assert response.status == 200
    assert response.headers["content-type"] == "text/event-stream"
    received = [chunk async for chunk in response.iter_chunks()]
    await response.aclose()
    assert b"".join(received) == b"".join(parts)
    assert len(received) >= 1

"""OpenAIBackend (any OpenAI-compatible server) against a respx-faked upstream, over httpx."""

from __future__ import annotations

import httpx
import pytest

from src import __version__
from src.backends import build_backends
from src.backends.openai import OpenAIBackend
from src.config import Config, Identity, OpenAIBackendConfig
from src.wire.errors import UpstreamProtocolError, UpstreamStatusError
from src.wire.openai_chat import error_type
from src.wire.sse import joined
from tests.backends.calls import send
from tests.fakes.httpx_transport import HttpxTransport

BASE = "http://llm.test:8080/v1"
CHAT_URL = f"{BASE}/chat/completions"
MODELS_URL = f"{BASE}/models"
NAME = "local-vllm"
BODY = b'{"model": "llama-3", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.5}'
COMPLETION = {"id": "cmpl-1", "object": "chat.completion", "choices": []}

pytestmark = pytest.mark.anyio


def make_backend(
    *,
    api_key: str | None = None,
    api_keys: list[str] | None = None,
    identity: Identity | None = None,
    global_identity: Identity | None = None,
) -> OpenAIBackend:
    kwargs: dict = {"type": "openai", "base_url": BASE}
    if api_key is not None:
        kwargs["api_key"] = api_key
    if api_keys is not None:
        kwargs["api_keys"] = api_keys
    if identity is not None:
        kwargs["identity"] = identity
    config = OpenAIBackendConfig(**kwargs)
    return OpenAIBackend(NAME, config, HttpxTransport(httpx.AsyncClient()), global_identity or Identity())


async def chat_request(backend, router, client_headers=None) -> httpx.Request:
    route = router.post(CHAT_URL).respond(200, json=COMPLETION)
    response = await send(backend, BODY, client_headers)
    assert response.status == 200
    assert await response.read() == httpx.Response(200, json=COMPLETION).content
    return route.calls.last.request


async def test_chat_posts_body_unchanged_with_key(router) -> None:
    request = await chat_request(make_backend(api_key="sk-openai"), router)
    assert request.method == "POST"
    assert str(request.url) == CHAT_URL
    assert request.content == BODY
    assert request.headers["authorization"] == "Bearer sk-openai"
    assert request.headers["content-type"] == "application/json"


async def test_no_key_sends_no_authorization(router) -> None:
    request = await chat_request(make_backend(), router)
    assert "authorization" not in request.headers
    assert request.content == BODY
    assert request.headers["content-type"] == "application/json"


async def test_empty_key_sends_no_authorization(router) -> None:
    request = await chat_request(make_backend(api_key=""), router)
    assert "authorization" not in request.headers


async def test_no_key_does_not_forward_client_credentials(router) -> None:
    client = {"Authorization": "Bearer client-proxy-key", "X-Api-Key": "client-anthropic-key"}
    request = await chat_request(make_backend(), router, client)
    assert "authorization" not in request.headers
    assert "x-api-key" not in request.headers
    raw = b"\n".join(k + b": " + v for k, v in request.headers.raw)
    assert b"client-proxy-key" not in raw
    assert b"client-anthropic-key" not in raw


async def test_with_key_replaces_client_authorization(router) -> None:
    client = {"Authorization": "Bearer client-proxy-key", "x-api-key": "client-anthropic-key"}
    request = await chat_request(make_backend(api_key="sk-upstream"), router, client)
    assert request.headers.get_list("authorization") == ["Bearer sk-upstream"]
    assert "x-api-key" not in request.headers


async def test_keys_rotate_round_robin(router) -> None:
    backend = make_backend(api_keys=["k1", "k2"])
    route = router.post(CHAT_URL).respond(200, json=COMPLETION)
    for _ in range(3):
        await (await send(backend, BODY)).read()
    assert [c.request.headers["authorization"] for c in route.calls] == ["Bearer k1", "Bearer k2", "Bearer k1"]


async def test_sends_no_openrouter_title(router) -> None:
    request = await chat_request(make_backend(), router, {"X-Title": "Client"})
    assert "x-openrouter-title" not in request.headers


async def test_sends_no_openrouter_title_even_when_configured(router) -> None:
    request = await chat_request(make_backend(global_identity=Identity(title="Configured")), router)
    assert "x-openrouter-title" not in request.headers


async def test_default_user_agent(router) -> None:
    request = await chat_request(make_backend(), router)
    assert request.headers["user-agent"] == f"switchyard/{__version__}"
    assert "http-referer" not in request.headers


async def test_client_user_agent_passes_when_unconfigured(router) -> None:
    request = await chat_request(make_backend(), router, {"User-Agent": "curl/8.0"})
    assert request.headers["user-agent"] == "curl/8.0"


async def test_configured_identity_replaces_client(router) -> None:
    backend = make_backend(identity=Identity(user_agent="backend-ua"), global_identity=Identity(referer="https://g"))
    request = await chat_request(backend, router, {"User-Agent": "curl/8.0", "HTTP-Referer": "https://client"})
    assert request.headers["user-agent"] == "backend-ua"
    assert request.headers["http-referer"] == "https://g"


async def test_openrouter_passthrough_headers_are_not_forwarded(router) -> None:
    # Only OpenRouter declares pass-through headers.
    request = await chat_request(make_backend(), router, {"X-Session-Id": "s-1"})
    assert "x-session-id" not in request.headers


async def test_build_backends_builds_openai_backend(router) -> None:
    config = Config(
        default_backend="local",
        backends={"local": {"type": "openai", "base_url": BASE + "/"}},
    )
    backend = build_backends(config, HttpxTransport(httpx.AsyncClient()))["local"]
    assert isinstance(backend, OpenAIBackend)
    request = await chat_request(backend, router)
    assert str(request.url) == CHAT_URL
    assert "authorization" not in request.headers


# --- errors --------------------------------------------------------------------------------


async def chat_error(router, status: int, **respond) -> UpstreamStatusError:
    router.post(CHAT_URL).respond(status, **respond)
    with pytest.raises(UpstreamStatusError) as info:
        await send(make_backend(), BODY)
    return info.value


async def test_error_status_message_and_code(router) -> None:
    body = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}
    error = await chat_error(router, 429, json=body, headers={"Retry-After": "20"})
    assert error.status == 429
    assert error.message == f"{NAME}: Rate limit reached"
    assert error.code == "rate_limit_exceeded"
    assert {k.lower(): v for k, v in error.headers.items()}["retry-after"] == "20"
    # The upstream's own type is kept, and wins over the one its status would give.
    assert error.error_type == "requests"
    assert error_type(error) == "requests"


@pytest.mark.parametrize(
    ("status", "expected"),
    [(400, "invalid_request_error"), (401, "authentication_error"), (403, "permission_error"),
     (404, "not_found_error"), (429, "rate_limit_error"), (500, "api_error"), (503, "api_error")],
)
async def test_error_without_upstream_type_gets_one_from_its_status(router, status: int, expected: str) -> None:
    error = await chat_error(router, status, json={"error": {"message": "nope"}})
    assert error.error_type is None
    assert error_type(error) == expected


async def test_error_type_that_is_not_a_string_is_ignored(router) -> None:
    error = await chat_error(router, 429, json={"error": {"message": "slow", "type": {"nested": True}}})
    assert error.error_type is None
    assert error_type(error) == "rate_limit_error"


async def test_error_integer_code_becomes_string(router) -> None:
    error = await chat_error(router, 404, json={"error": {"message": "model not found", "code": 404}})
    assert error.status == 404
    assert error.code == "404"
    assert error.message.startswith(NAME)
    assert "model not found" in error.message


async def test_error_metadata_is_not_appended(router) -> None:
    body = {"error": {"message": "bad", "metadata": {"provider_name": "X", "raw": "secret detail"}}}
    error = await chat_error(router, 400, json=body)
    assert error.message == f"{NAME}: bad"


async def test_error_detail_field_is_the_message(router) -> None:
    error = await chat_error(router, 422, json={"detail": "field required"})
    assert error.status == 422
    assert "field required" in error.message
    assert error.message.startswith(NAME)


async def test_error_string_error_field(router) -> None:
    error = await chat_error(router, 400, json={"error": "model is required"})
    assert error.message == f"{NAME}: model is required"


async def test_error_non_json_body(router) -> None:
    error = await chat_error(router, 502, content=b"<html>Bad Gateway</html>")
    assert error.status == 502
    assert error.message.startswith(NAME)
    assert "<html>Bad Gateway</html>" in error.message
    assert error.headers == {}


async def test_error_non_json_body_is_truncated(router) -> None:
    error = await chat_error(router, 500, content=b"x" * 5000)
    assert error.message.startswith(NAME)
    assert "x" * 100 in error.message
    assert len(error.message) < 1000


async def test_error_empty_body(router) -> None:
    error = await chat_error(router, 503, content=b"")
    assert error.status == 503
    assert error.message.startswith(NAME)
    assert "no error message" in error.message


async def test_error_3xx_becomes_502(router) -> None:
    error = await chat_error(router, 302, headers={"Location": "http://llm.test:8080/login"})
    assert error.status == 502
    assert error.message.startswith(NAME)


# --- models --------------------------------------------------------------------------------


async def test_list_models_data_envelope(router) -> None:
    route = router.get(MODELS_URL).respond(
        200, json={"object": "list", "data": [{"id": "llama-3", "owned_by": "me"}, {"id": 3}, {}]}
    )
    models = await make_backend().list_models()
    assert models == [{"id": "llama-3", "owned_by": "me"}]
    assert "authorization" not in route.calls.last.request.headers


async def test_list_models_bare_list(router) -> None:
    router.get(MODELS_URL).respond(200, json=[{"id": "m1"}, {"id": "m2"}, ["m3"]])
    assert [m["id"] for m in await make_backend().list_models()] == ["m1", "m2"]


async def test_list_models_500(router) -> None:
    router.get(MODELS_URL).respond(500, content=b"internal")
    with pytest.raises(UpstreamStatusError) as info:
        await make_backend().list_models()
    assert info.value.status == 500
    assert info.value.message.startswith(NAME)
    assert "internal" in info.value.message


async def test_list_models_non_json_is_a_protocol_error(router) -> None:
    router.get(MODELS_URL).respond(200, content=b"Ollama is running")
    with pytest.raises(UpstreamProtocolError) as info:
        await make_backend().list_models()
    assert info.value.status == 502
    assert info.value.message == f"{NAME}: the model list is not JSON"


async def test_list_models_data_that_is_not_a_list_is_a_protocol_error(router) -> None:
    router.get(MODELS_URL).respond(200, json={"object": "list", "data": 5})
    with pytest.raises(UpstreamProtocolError) as info:
        await make_backend().list_models()
    assert info.value.status == 502
    assert info.value.message == f"{NAME}: the model list is not a list"


# --- streaming -----------------------------------------------------------------------------


async def test_streaming_chat_yields_body(router) -> None:
    payload = b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n'
    router.post(CHAT_URL).respond(200, content=payload, headers={"Content-Type": "text/event-stream"})
    answer = await send(make_backend(), BODY)
    assert (answer.status, answer.is_stream, answer.origin) == (200, True, NAME)
    received = [event async for batch in answer.events() for event in batch]
    await answer.aclose()
    assert joined(received) == payload

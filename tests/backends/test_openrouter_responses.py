"""OpenRouterBackend's answers: upstream errors with provider details, model lists and streams."""

from __future__ import annotations

import httpx
import pytest

from src.wire.errors import UpstreamProtocolError, UpstreamStatusError
from src.wire.openai_chat import CHAT, error_type
from src.wire.sse import joined
from tests.backends.calls import send
from tests.backends.openrouter_helpers import BODY, CHAT_URL, MODELS_URL, NAME, chat_error, make_backend

pytestmark = pytest.mark.anyio


# --- errors --------------------------------------------------------------------------------


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
    # OpenRouter sent no type of its own: the envelope derives one from the status.
    assert error.error_type is None
    assert error_type(error) == "rate_limit_error"


async def test_error_with_only_provider_name(router) -> None:
    body = {"error": {"message": "Upstream failed", "code": 502, "metadata": {"provider_name": "Groq"}}}
    error = await chat_error(router, 502, json=body)
    assert error.status == 502
    assert error.message.startswith(NAME)
    assert "Upstream failed" in error.message
    assert "Groq" in error.message
    assert error.code == "502"
    assert error.error_type is None
    assert error_type(error) == "api_error"


async def test_error_without_metadata_is_plain_message(router) -> None:
    body = {"error": {"message": "Invalid model", "code": "bad_model", "type": "invalid_request_error"}}
    error = await chat_error(router, 400, json=body)
    assert error.status == 400
    assert error.message == f"{NAME}: Invalid model"
    assert error.code == "bad_model"
    assert error.error_type == "invalid_request_error"
    assert error_type(error) == "invalid_request_error"
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
    assert error.message == f"{NAME}: the upstream redirected to https://elsewhere.test/; set base_url to it"


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


@pytest.mark.parametrize(
    ("respond", "problem"),
    [
        ({"content": b"<html>Just a moment...</html>"}, "not JSON"),
        ({"content": b""}, "not JSON"),
        ({"json": {"data": 5}}, "not a list"),
        ({"json": {"data": None}}, "not a list"),
        ({"json": {"data": {"id": "a"}}}, "not a list"),
        ({"json": {"object": "list"}}, "not a list"),
        ({"json": "models"}, "not a list"),
        ({"json": 42}, "not a list"),
    ],
)
async def test_list_models_answer_that_is_not_a_model_list_is_a_protocol_error(router, respond, problem: str) -> None:
    router.get(MODELS_URL).respond(200, **respond)
    with pytest.raises(UpstreamProtocolError) as info:
        await make_backend().list_models()
    assert info.value.status == 502
    assert info.value.backend == NAME
    assert info.value.message.startswith(f"{NAME}: ")
    assert problem in info.value.message


async def test_list_models_empty_list_is_no_models(router) -> None:
    router.get(MODELS_URL).respond(200, json={"data": []})
    assert await make_backend().list_models() == []


@pytest.mark.parametrize(("timeout", "expected"), [(600.0, 30.0), (31.0, 30.0), (30.0, 30.0), (5.0, 5.0)])
async def test_list_models_waits_at_most_30_seconds(router, timeout: float, expected: float) -> None:
    route = router.get(MODELS_URL).respond(200, json={"data": []})
    await make_backend(timeout=timeout).list_models()
    assert route.calls.last.request.extensions["timeout"]["read"] == expected


async def test_chat_waits_for_the_backends_own_timeout(router) -> None:
    route = router.post(CHAT_URL).respond(200, json={"choices": []})
    await (await send(make_backend(timeout=600.0), BODY)).read()
    assert route.calls.last.request.extensions["timeout"]["read"] == 600.0


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
    answer = await send(make_backend(), BODY.replace(b'"stream":false', b'"stream":true'))
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/event-stream"
    assert (answer.is_stream, answer.protocol, answer.origin) == (True, CHAT, NAME)
    batches = [batch async for batch in answer.events()]
    await answer.aclose()
    assert joined(event for batch in batches for event in batch) == b"".join(parts)
    assert len(batches) >= 1

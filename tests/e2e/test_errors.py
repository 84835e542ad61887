"""Each error class, as the OpenAI SDK sees it: the right exception, status and message."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from src.config import Config
from tests.fakes.proxy import PROXY_KEY, UPSTREAM_KEY, RunningProxy, config_for
from tests.fakes.upstream import FakeUpstream

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


def _post(proxy: RunningProxy, content: bytes | str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{proxy.url}/v1/chat/completions",
        content=content,
        headers={"Authorization": f"Bearer {PROXY_KEY}", "Content-Type": "application/json", **headers},
    )


def _error(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def _body(error: openai.APIError) -> dict[str, Any]:
    """The error object the SDK parsed from the answer (the envelope's `error`)."""
    assert isinstance(error.body, dict)
    return error.body


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (402, openai.APIStatusError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (422, openai.UnprocessableEntityError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (502, openai.InternalServerError),
        (503, openai.InternalServerError),
        (529, openai.InternalServerError),
    ],
)
def test_upstream_status_reaches_the_client_with_the_backend_and_upstream_message(
    client: openai.OpenAI, status: int, exception: type[openai.APIStatusError]
) -> None:
    with pytest.raises(exception) as raised:
        client.chat.completions.create(model=f"x/error-{status}", messages=MESSAGES)

    assert raised.value.status_code == status
    message = _body(raised.value)["message"]
    assert message.startswith("openrouter: ")
    assert f"fake upstream error {status}" in message
    assert f"raw provider error {status}" in message


def test_retry_after_is_passed_on(proxy: RunningProxy) -> None:
    response = _post(proxy, '{"model": "x/error-429", "messages": []}')
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert _error(response)["type"] == "rate_limit_error"


def test_upstream_key_echoed_in_an_error_is_redacted(client: openai.OpenAI) -> None:
    with pytest.raises(openai.AuthenticationError) as raised:
        client.chat.completions.create(model="x/echo-key-401", messages=MESSAGES)

    assert UPSTREAM_KEY not in str(raised.value.body)
    assert "[redacted]" in _body(raised.value)["message"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"messages": []}', "'model' is required"),
        ('{"model": "", "messages": []}', "'model' is required"),
        ('{"model": 42, "messages": []}', "'model' is required"),
        ('{"model": "openrouter:", "messages": []}', "names no model"),
    ],
)
def test_bad_request_bodies_get_a_400_envelope(proxy: RunningProxy, content: str, expected: str) -> None:
    response = _post(proxy, content)
    assert response.status_code == 400
    error = _error(response)
    assert error["type"] == "invalid_request_error"
    assert expected in error["message"]


@pytest.mark.parametrize(
    ("model", "param"),
    [
        ("openai/gpt-4o?temperature=3", "temperature"),
        ("openai/gpt-4o?top_k=0", "top_k"),
        ("openai/gpt-4o?colour=blue", "colour"),
        ("openai/gpt-4o?verbosity=loud", "verbosity"),
        ("openai/gpt-4o?max_tokens=", "max_tokens"),
        ("openai/gpt-4o?seed=100000000000000000000", "seed"),
        ("openai/gpt-4o?seed=-9223372036854775809", "seed"),
        ("openai/gpt-4o?max_tokens=99999999999", "max_tokens"),
        ("openai/gpt-4o?max_tokens=2147483648", "max_tokens"),
        ("openai/gpt-4o?top_k=2147483648", "top_k"),
    ],
)
def test_bad_uri_parameters_are_named_in_a_400(
    client: openai.OpenAI, upstream: FakeUpstream, model: str, param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=model, messages=MESSAGES)

    assert raised.value.status_code == 400
    assert raised.value.param == param
    assert f"model parameter '{param}'" in _body(raised.value)["message"]
    assert upstream.requests == []


def test_refused_connection_is_a_502(
    upstream: FakeUpstream, start_proxy: Callable[[Config], RunningProxy]
) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        dead_port = placeholder.getsockname()[1]
    proxy = start_proxy(config_for(f"http://127.0.0.1:{dead_port}/api/v1"))
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=PROXY_KEY, max_retries=0)

    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model="openai/gpt-4o", messages=MESSAGES)

    assert raised.value.status_code == 502
    assert _body(raised.value)["message"].startswith("openrouter: cannot connect to http://127.0.0.1:")


def test_upstream_timeout_is_a_504(upstream: FakeUpstream, start_proxy: Callable[[Config], RunningProxy]) -> None:
    config = config_for(upstream.base_url)
    backends = {"openrouter": {**config.backends["openrouter"].model_dump(), "timeout": 0.3}}
    backends["openrouter"]["api_key"] = UPSTREAM_KEY
    proxy = start_proxy(config_for(upstream.base_url, backends=backends))
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=PROXY_KEY, max_retries=0)

    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model="x/stall", messages=MESSAGES)

    assert raised.value.status_code == 504
    assert "no response within 0.3s" in _body(raised.value)["message"]


def test_stall_mid_stream_ends_with_an_error_the_sdk_raises(
    upstream: FakeUpstream, start_proxy: Callable[[Config], RunningProxy]
) -> None:
    backends = {"openrouter": {"type": "openrouter", "base_url": upstream.base_url, "api_key": UPSTREAM_KEY, "timeout": 0.3}}
    proxy = start_proxy(config_for(upstream.base_url, backends=backends))
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=PROXY_KEY, max_retries=0)

    received = []
    with pytest.raises(openai.APIError, match="no response within 0.3s"):
        for chunk in client.chat.completions.create(model="x/stall", messages=MESSAGES, stream=True):
            received.append(chunk.choices[0].delta.content)
    assert "Hello" in received


def test_openrouter_mid_stream_error_raises_in_the_sdk(client: openai.OpenAI) -> None:
    received = []
    with pytest.raises(openai.APIError, match="Provider disconnected"):
        for chunk in client.chat.completions.create(model="x/midstream-error", messages=MESSAGES, stream=True):
            received.append(chunk.choices[0].delta.content)
    assert "Hello" in received


def test_truncated_stream_never_looks_like_a_normal_end(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIError, match="closed the connection mid-response|ended before it was complete"):
        for _ in client.chat.completions.create(model="x/truncated", messages=MESSAGES, stream=True):
            pass


def test_unknown_path_and_wrong_method_use_the_openai_envelope(proxy: RunningProxy) -> None:
    missing = httpx.get(f"{proxy.url}/v1/nothing-here")
    assert missing.status_code == 404
    assert _error(missing)["type"] == "not_found_error"

    wrong_method = httpx.get(f"{proxy.url}/v1/chat/completions")
    assert wrong_method.status_code == 405
    assert "GET" in _error(wrong_method)["message"]

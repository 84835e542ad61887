"""Proxy keys, the model list and the health check, through real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from src.config import Config
from tests.fakes.proxy import PROXY_KEY, UPSTREAM_KEY, RunningProxy, config_for
from tests.fakes.upstream import FakeUpstream

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": f"Bearer {PROXY_KEY}"}, {"x-api-key": PROXY_KEY}, {"authorization": f"bearer {PROXY_KEY}"}],
)
def test_proxy_key_accepted_as_bearer_or_x_api_key(proxy: RunningProxy, headers: dict[str, str]) -> None:
    response = httpx.post(f"{proxy.url}/v1/chat/completions", json={"model": "m", "messages": MESSAGES}, headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-key"}, {"x-api-key": "wrong"}])
def test_missing_or_wrong_proxy_key_is_a_401_envelope(
    proxy: RunningProxy, upstream: FakeUpstream, headers: dict[str, str]
) -> None:
    for path, method in (("/v1/chat/completions", "POST"), ("/v1/models", "GET")):
        response = httpx.request(method, f"{proxy.url}{path}", json={"model": "m", "messages": MESSAGES}, headers=headers)
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["type"] == "authentication_error"
        assert error["code"] == "invalid_api_key"
    assert upstream.requests == []


def test_sdk_raises_authentication_error_for_a_wrong_key(proxy: RunningProxy) -> None:
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key="not-our-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="m", messages=MESSAGES)


def test_disabled_auth_needs_no_key(upstream: FakeUpstream, start_proxy: Callable[[Config], RunningProxy]) -> None:
    proxy = start_proxy(config_for(upstream.base_url, auth={"api_keys": []}, disable_auth=True))
    response = httpx.post(f"{proxy.url}/v1/chat/completions", json={"model": "m", "messages": MESSAGES})
    assert response.status_code == 200


def test_health_needs_no_key(proxy: RunningProxy) -> None:
    response = httpx.get(f"{proxy.url}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_models_lists_every_backend_with_ids_usable_as_model(
    upstream: FakeUpstream, start_proxy: Callable[[Config], RunningProxy]
) -> None:
    backends = {
        "openrouter": {"type": "openrouter", "base_url": upstream.base_url, "api_key": UPSTREAM_KEY},
        "other": {"type": "openai", "base_url": upstream.base_url},
    }
    proxy = start_proxy(config_for(upstream.base_url, backends=backends))
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=PROXY_KEY, max_retries=0)

    models = {m.id: m for m in client.models.list()}

    assert set(models) == {"openai/gpt-4o", "qwen/qwen3-coder:free", "other:openai/gpt-4o", "other:qwen/qwen3-coder:free"}
    gpt = models["openai/gpt-4o"].model_dump()
    assert gpt["context_length"] == 128000
    assert gpt["pricing"] == {"prompt": "0.0000025", "completion": "0.00001"}
    assert gpt["owned_by"] == "openai"
    assert client.models.retrieve("other:openai/gpt-4o").id == "other:openai/gpt-4o"

    client.chat.completions.create(model="other:openai/gpt-4o", messages=MESSAGES)
    assert upstream.last().body["model"] == "openai/gpt-4o"


def test_models_are_cached(proxy: RunningProxy, upstream: FakeUpstream) -> None:
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=PROXY_KEY, max_retries=0)
    client.models.list()
    client.models.list()
    assert sum(1 for r in upstream.requests if r.path == "/api/v1/models") == 1


def test_unknown_model_retrieve_is_a_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope/nothing")


def test_client_disconnect_stops_the_upstream_stream(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    stream = client.chat.completions.create(model="x/slow", messages=MESSAGES, stream=True)
    iterator = iter(stream)
    next(iterator)
    next(iterator)
    stream.close()

    deadline = time.monotonic() + 3
    while "x/slow" not in upstream.aborted and time.monotonic() < deadline:
        time.sleep(0.02)
    assert upstream.aborted == ["x/slow"]

""""Did you mean": a backend's own "no such model" keeps its status and gains the closest catalog ids;
the proxy never refuses a model by itself because its catalog does not list it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest

from src.config import Config
from tests.e2e.usage_helpers import (
    MESSAGES,
    PricedUpstream,
    chat,
    priced_fixture,  # noqa: F401
    priced_server_fixture,  # noqa: F401
    usage_config,
)
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import Step

Start = Callable[[Config], RunningProxy]
NO_ENDPOINTS = Step(status=404, error={"code": 404, "message": "No endpoints found for gpt-4o."})
NOT_FOUND_CODE = Step(status=400, error={"code": "model_not_found", "message": "That one is not available here"})


def proxy_on(priced: PricedUpstream, start_proxy: Start) -> RunningProxy:
    return start_proxy(usage_config(priced.base_url, None, local_url=priced.base_url))


def client(proxy: RunningProxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=PROXY_KEY, max_retries=0)


@pytest.mark.parametrize("stream", [False, True])
def test_a_404_no_endpoints_keeps_its_status_and_suggests_the_catalog_ids(
    priced: PricedUpstream, start_proxy: Start, stream: bool
) -> None:
    priced.script("gpt-4o", NO_ENDPOINTS)
    with pytest.raises(openai.NotFoundError) as caught:
        client(proxy_on(priced, start_proxy)).chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=stream)
    message = caught.value.body["message"]  # type: ignore[index]
    assert caught.value.status_code == 404
    assert message.startswith("openrouter: No endpoints found for gpt-4o.")
    assert message.endswith("(did you mean 'openai/gpt-4o', 'openai/gpt-4o-mini'?)")


def test_a_400_model_not_found_keeps_its_status_and_suggests(priced: PricedUpstream, start_proxy: Start) -> None:
    priced.script("gpt4o", NOT_FOUND_CODE)
    response = chat(proxy_on(priced, start_proxy), "gpt4o")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "model_not_found"
    assert "That one is not available here" in error["message"] and "did you mean 'openai/gpt-4o'" in error["message"]


def test_the_suggestions_of_another_backend_are_ids_a_client_can_send_back(
    priced: PricedUpstream, start_proxy: Start
) -> None:
    priced.script("gpt-4o-mini-typo", Step(status=404, error={"message": "The model `gpt-4o-mini-typo` does not exist"}))
    response = chat(proxy_on(priced, start_proxy), "local:gpt-4o-mini-typo")
    assert response.status_code == 404
    assert "did you mean 'local:openai/gpt-4o-mini'" in response.json()["error"]["message"]


def test_the_messages_endpoint_suggests_in_anthropics_envelope(priced: PricedUpstream, start_proxy: Start) -> None:
    priced.script("gpt-4o", NO_ENDPOINTS)
    claude = anthropic.Anthropic(base_url=proxy_on(priced, start_proxy).url, api_key=PROXY_KEY, max_retries=0)
    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.messages.create(model="gpt-4o", max_tokens=20, messages=MESSAGES)
    body = caught.value.response.json()
    assert body["error"]["type"] == "not_found_error" and "did you mean 'openai/gpt-4o'" in body["error"]["message"]


@pytest.mark.parametrize(
    ("step", "model"),
    [
        (Step(status=404, error={"message": "No endpoints found for zzqv-unlike-anything."}), "zzqv-unlike-anything"),
        (Step(status=404, error={"message": "this route does not exist"}), "gpt-4o"),  # not about the model
        (Step(status=400, error={"message": "messages: invalid content"}), "gpt-4o"),
    ],
)
def test_no_suggestion_without_a_close_id_or_for_other_errors(
    priced: PricedUpstream, start_proxy: Start, step: Step, model: str
) -> None:
    priced.script(model, step)
    response = chat(proxy_on(priced, start_proxy), model)
    assert response.status_code == step.status
    assert response.json()["error"]["message"] == f"openrouter: {step.error['message']}"  # type: ignore[index]


def test_a_model_the_catalog_does_not_list_is_served_when_the_upstream_accepts_it(
    priced: PricedUpstream, start_proxy: Start
) -> None:
    proxy = proxy_on(priced, start_proxy)
    for model in ("brand-new/unlisted-model", "openai/gpt-4o:nitro", "local:also/unlisted"):
        response = chat(proxy, model)
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == f"Hello from {model.removeprefix('local:')}"
    assert priced.models() == ["brand-new/unlisted-model", "openai/gpt-4o:nitro", "also/unlisted"]


def test_a_model_not_found_does_not_fail_over(priced: PricedUpstream, start_proxy: Start) -> None:
    routes: dict[str, Any] = {"openrouter:gpt-4o": ["local:openai/gpt-4o"]}
    priced.script("gpt-4o", NO_ENDPOINTS)
    proxy = start_proxy(usage_config(priced.base_url, None, local_url=priced.base_url, failover_routes=routes))
    response = chat(proxy, "gpt-4o")
    assert response.status_code == 404 and "did you mean" in response.json()["error"]["message"]
    assert priced.models() == ["gpt-4o"]

"""`allowed_models`: regexes that must fully match the resolved `backend:model`; anything else is a 403."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from src.config import Config
from tests.e2e.usage_helpers import (
    ADMIN,
    BOB,
    BOB_KEY,
    MESSAGES,
    PricedUpstream,
    chat,
    priced_fixture,  # noqa: F401
    priced_server_fixture,  # noqa: F401
    usage_config,
    wait_rows,
)
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import Step

Start = Callable[[Config], RunningProxy]
ALIASES = [{"pattern": "^fast$", "replacement": "openrouter:openai/gpt-4o-mini?temperature=0.2"}]


def allowing(priced: PricedUpstream, start_proxy: Start, db: Path | None, patterns: list[str], **extra: Any) -> RunningProxy:
    keys: list[dict[str, Any]] = [{"name": "alice", "key": PROXY_KEY, "allowed_models": patterns}, BOB, ADMIN]
    return start_proxy(usage_config(priced.base_url, db, keys=keys, local_url=priced.base_url, **extra))


@pytest.mark.parametrize(
    ("patterns", "model", "allowed"),
    [
        (["openrouter:openai/.*"], "openai/gpt-4o", True),
        (["openrouter:openai/.*"], "qwen/qwen3-coder:free", False),
        (["openrouter:openai/gpt-4o"], "openai/gpt-4o-mini", False),  # a full match, not a prefix
        (["openrouter:openai"], "openai/gpt-4o", False),
        (["openai/gpt-4o"], "openai/gpt-4o", False),  # the resolved route names its backend
        (["local:.*"], "local:vendor/x", True),
        (["local:.*"], "vendor/x", False),  # resolved to the default backend
        (["openrouter:openai/gpt-4o-mini"], "fast", True),  # the alias's route, not the requested name
        (["nothing", "openrouter:vendor/.*"], "vendor/x", True),  # any pattern may match
        ([], "vendor/x", False),
    ],
)
def test_a_model_is_allowed_only_when_a_pattern_fully_matches_its_route(
    priced: PricedUpstream, start_proxy: Start, patterns: list[str], model: str, allowed: bool
) -> None:
    proxy = allowing(priced, start_proxy, None, patterns, model_aliases=ALIASES)
    response = chat(proxy, model)
    assert response.status_code == (200 if allowed else 403), response.text
    assert len(priced.requests) == int(allowed)
    assert chat(proxy, model, key=BOB_KEY).status_code == 200  # a key without allowed_models may use any


def test_a_refused_model_is_an_openai_permission_denied_error_naming_the_route(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    proxy = allowing(priced, start_proxy, tmp_path / "u.db", ["openrouter:openai/.*"])
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=PROXY_KEY, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model="vendor/secret", messages=MESSAGES, stream=True)
    body: Any = caught.value.body
    assert caught.value.status_code == 403 and body["code"] == "model_not_allowed"
    assert body["type"] == "permission_error"
    assert "openrouter:vendor/secret" in body["message"] and "allowed_models" in body["message"]
    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert (row["status"], row["requested_model"], row["attempts"]) == (403, "vendor/secret", [])


def test_a_refused_model_on_the_messages_endpoint_is_an_anthropic_permission_denied_error(
    priced: PricedUpstream, start_proxy: Start
) -> None:
    proxy = allowing(priced, start_proxy, None, ["openrouter:openai/.*"])
    client = anthropic.Anthropic(base_url=proxy.url, api_key=PROXY_KEY, max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        client.messages.create(model="vendor/secret", max_tokens=20, messages=MESSAGES)
    body = caught.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "permission_error"
    assert "openrouter:vendor/secret" in body["error"]["message"]
    reply = client.messages.create(model="openai/gpt-4o", max_tokens=20, messages=MESSAGES)
    assert reply.content[0].text == "Hello from openai/gpt-4o"  # type: ignore[union-attr]
    assert priced.models() == ["openai/gpt-4o"]


def test_failover_never_moves_to_a_route_the_key_may_not_use(priced: PricedUpstream, start_proxy: Start) -> None:
    routes = {"openrouter:vendor/first": ["local:vendor/second", "openrouter:vendor/third"]}
    proxy = allowing(priced, start_proxy, None, ["openrouter:.*"], failover_routes=routes)
    priced.script("vendor/first", Step(status=503))
    response = chat(proxy, "vendor/first")
    assert response.status_code == 200 and response.headers["x-switchyard-route"] == "openrouter:vendor/third"
    assert priced.models() == ["vendor/first", "vendor/third"]


def test_alternatives_the_key_may_not_use_are_skipped_and_the_first_must_be_allowed(
    priced: PricedUpstream, start_proxy: Start
) -> None:
    proxy = allowing(priced, start_proxy, None, ["openrouter:vendor/a", "openrouter:vendor/c"])
    priced.script("vendor/a", Step(status=502))
    response = chat(proxy, "vendor/a|local:vendor/b|vendor/c")
    assert response.status_code == 200 and response.headers["x-switchyard-attempts"] == "2"
    assert priced.models() == ["vendor/a", "vendor/c"]
    refused = chat(proxy, "vendor/b|vendor/a")  # the route asked for first is not allowed: no silent substitute
    assert refused.status_code == 403 and priced.models() == ["vendor/a", "vendor/c"]


def test_a_key_with_allowed_models_still_reads_the_model_list(priced: PricedUpstream, start_proxy: Start) -> None:
    proxy = allowing(priced, start_proxy, None, ["openrouter:openai/.*"])
    response = httpx.get(f"{proxy.url}/v1/models", headers={"Authorization": f"Bearer {PROXY_KEY}"})
    assert response.status_code == 200 and response.json()["data"]

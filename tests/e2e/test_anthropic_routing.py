"""`/v1/messages` routes like chat completions: force_model, aliases, selectors, URI parameters, failover."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import anthropic
import pytest

from src.config import Config
from tests.e2e.anthropic_helpers import (
    LOCAL_KEY,
    USER,
    make_config,
    openai_backend,
    post,
    sdk,
    sse_events,
)
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step, error_event

StartProxy = Callable[[Config], RunningProxy]
OTHER_KEY = "sk-other-upstream-0002"
ALIASES = [{"pattern": "^claude-sonnet-.*", "replacement": "local:qwen/qwen3-coder"},
           {"pattern": "^claude-haiku-.*", "replacement": "other:small?temperature=0.1"}]


def _config(url: str, **overrides: Any) -> Config:
    backends = {"local": openai_backend(url), "other": openai_backend(url, OTHER_KEY)}
    return make_config(backends, model_aliases=ALIASES, **overrides)


def _ask(proxy: RunningProxy, model: str, stream: bool, **kwargs: Any) -> tuple[str, Mapping[str, str]]:
    """The answer's text and the response headers, streamed or not."""
    client = sdk(proxy)
    if stream:
        with client.messages.stream(model=model, max_tokens=32, messages=USER, **kwargs) as events:
            message = events.get_final_message()
            headers = events.response.headers
    else:
        raw = client.messages.with_raw_response.create(model=model, max_tokens=32, messages=USER, **kwargs)
        message, headers = raw.parse(), raw.headers
    assert message.model == model  # the client's own model name comes back, whatever served it
    return "".join(b.text for b in message.content if b.type == "text"), headers


def _seen(scripted: ScriptedUpstream) -> list[tuple[str, str]]:
    backend = {LOCAL_KEY: "local", OTHER_KEY: "other"}
    return [(backend[s.key], s.model) for s in scripted.requests]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_plain_model_id_goes_to_the_default_backend(scripted: ScriptedUpstream, start_proxy: StartProxy,
                                                      stream: bool) -> None:
    proxy = start_proxy(_config(scripted.base_url))

    text, headers = _ask(proxy, "qwen/qwen3-coder:free", stream)

    assert text == "Hello from qwen/qwen3-coder:free"
    assert _seen(scripted) == [("local", "qwen/qwen3-coder:free")]
    assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("local:qwen/qwen3-coder:free", "1")


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_claude_model_is_aliased_to_a_backend_model(scripted: ScriptedUpstream, start_proxy: StartProxy,
                                                      stream: bool) -> None:
    proxy = start_proxy(_config(scripted.base_url))

    text, headers = _ask(proxy, "claude-sonnet-4-6", stream)

    assert text == "Hello from qwen/qwen3-coder"
    assert _seen(scripted) == [("local", "qwen/qwen3-coder")]
    assert headers["x-switchyard-route"] == "local:qwen/qwen3-coder"


def test_an_alias_with_uri_parameters_overrides_the_request(scripted: ScriptedUpstream, start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(scripted.base_url))

    _ask(proxy, "claude-haiku-4-5", False, extra_body={"temperature": 0.9})

    assert _seen(scripted) == [("other", "small")]
    assert scripted.requests[0].body["temperature"] == 0.1


def test_a_selector_names_the_backend(scripted: ScriptedUpstream, start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(scripted.base_url))

    text, _ = _ask(proxy, "other:vendor/model:beta", False)

    assert text == "Hello from vendor/model:beta"
    assert _seen(scripted) == [("other", "vendor/model:beta")]


def test_uri_parameters_override_the_translated_body(scripted: ScriptedUpstream, start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(scripted.base_url))

    _ask(proxy, "other:m?temperature=0.2&top_k=5&max_tokens=7", True, extra_body={"temperature": 1.0, "top_k": 40})

    body = scripted.requests[0].body
    assert (body["model"], body["temperature"], body["top_k"], body["max_tokens"]) == ("m", 0.2, 5, 7)


def test_a_bad_uri_parameter_is_an_anthropic_bad_request(scripted: ScriptedUpstream, start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(scripted.base_url))

    with pytest.raises(anthropic.BadRequestError) as caught:
        _ask(proxy, "m?temperature=hot", False)

    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "temperature" in caught.value.body["error"]["message"]  # type: ignore[index]
    assert scripted.requests == []


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_force_model_replaces_the_clients_model(scripted: ScriptedUpstream, start_proxy: StartProxy,
                                                stream: bool) -> None:
    proxy = start_proxy(_config(scripted.base_url, force_model="other:forced"))

    text, headers = _ask(proxy, "claude-sonnet-4-6", stream)

    assert text == "Hello from forced"
    assert _seen(scripted) == [("other", "forced")]
    assert headers["x-switchyard-route"] == "other:forced"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_503_on_the_first_route_is_served_by_the_failover_route(scripted: ScriptedUpstream,
                                                                  start_proxy: StartProxy, stream: bool) -> None:
    proxy = start_proxy(_config(scripted.base_url, failover_routes={"local:m1": ["other:m2"]}))
    scripted.script("m1", Step(status=503))

    text, headers = _ask(proxy, "m1", stream)

    assert text == "Hello from m2"
    assert _seen(scripted) == [("local", "m1"), ("other", "m2")]
    assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("other:m2", "2")
    assert scripted.requests[1].body["messages"] == scripted.requests[0].body["messages"]


def test_an_alternative_after_a_pipe_serves_when_the_first_fails(scripted: ScriptedUpstream,
                                                                 start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(scripted.base_url))
    scripted.script("m1", Step(status=500))

    text, headers = _ask(proxy, "local:m1|other:m2", False)

    assert text == "Hello from m2" and headers["x-switchyard-route"] == "other:m2"


def test_an_error_event_before_any_content_fails_over_into_one_clean_stream(scripted: ScriptedUpstream,
                                                                           start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(scripted.base_url, failover_routes={"local:m1": ["other:m2"]}))
    scripted.script("m1", Step(events=[": OPENROUTER PROCESSING", error_event("m1", 502), "data: [DONE]"]))

    response = post(proxy, {"model": "m1", "max_tokens": 8, "messages": USER, "stream": True})

    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names.count("message_start") == 1 and "error" not in names
    assert names[-1] == "message_stop"
    text = "".join(d["delta"].get("text", "") for n, d in events if n == "content_block_delta")
    assert text == "Hello from m2" and response.headers["x-switchyard-route"] == "other:m2"


def test_when_every_route_fails_the_client_gets_the_last_status_in_the_anthropic_envelope(
    scripted: ScriptedUpstream, start_proxy: StartProxy
) -> None:
    proxy = start_proxy(_config(scripted.base_url, failover_routes={"local:m1": ["other:m2"]}))
    scripted.script("m1", Step(status=503))
    scripted.script("m2", Step(status=529))

    with pytest.raises(anthropic.InternalServerError) as caught:
        _ask(proxy, "m1", False)

    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    assert "local:m1" in caught.value.body["error"]["message"]  # type: ignore[index]
    assert caught.value.response.headers["x-switchyard-attempts"] == "2"

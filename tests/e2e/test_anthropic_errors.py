"""Errors on `/v1/messages` come in Anthropic's envelope, and the SDK raises the right class for each."""

from __future__ import annotations

from collections.abc import Callable
from unittest.mock import ANY

import anthropic
import httpx
import pytest

from src.config import Config
from tests.e2e.anthropic_helpers import (
    USER,
    closed_port_url,
    local_config,
    make_config,
    openai_backend,
    post,
    sdk,
)
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step

StartProxy = Callable[[Config], RunningProxy]
OVERLOADED = getattr(anthropic, "OverloadedError", anthropic.APIStatusError)

# upstream status -> (SDK exception class, Anthropic error type)
UPSTREAM_STATUSES = {
    400: (anthropic.BadRequestError, "invalid_request_error"),
    403: (anthropic.PermissionDeniedError, "permission_error"),
    404: (anthropic.NotFoundError, "not_found_error"),
    429: (anthropic.RateLimitError, "rate_limit_error"),
    500: (anthropic.InternalServerError, "api_error"),
    502: (anthropic.InternalServerError, "api_error"),
    529: (OVERLOADED, "overloaded_error"),
}


@pytest.fixture
def proxy(scripted: ScriptedUpstream, start_proxy: StartProxy) -> RunningProxy:
    # One backend, one key, one attempt: nothing can rescue a failure, so the client sees it.
    return start_proxy(local_config(scripted.base_url, failover={"max_attempts": 1}))


def _raise(proxy: RunningProxy, stream: bool, model: str = "m") -> anthropic.APIStatusError:
    client = sdk(proxy)
    with pytest.raises(anthropic.APIStatusError) as caught:
        if stream:
            with client.messages.stream(model=model, max_tokens=8, messages=USER) as events:
                events.until_done()
        else:
            client.messages.create(model=model, max_tokens=8, messages=USER)
    return caught.value


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("status", list(UPSTREAM_STATUSES))
def test_an_upstream_status_reaches_the_sdk_as_its_anthropic_error(
    proxy: RunningProxy, scripted: ScriptedUpstream, status: int, stream: bool
) -> None:
    scripted.script("m", Step(status=status, retry_after="30" if status == 429 else None))

    error = _raise(proxy, stream)

    exception, error_type = UPSTREAM_STATUSES[status]
    assert type(error) is exception
    assert error.status_code == status
    assert error.body == {"type": "error", "error": {"type": error_type, "message": ANY}}
    assert f"scripted failure {status}" in error.body["error"]["message"]
    assert len(scripted.requests) == 1


def test_a_429_passes_its_retry_after_on(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    scripted.script("m", Step(status=429, retry_after="30"))

    response = post(proxy, {"model": "m", "max_tokens": 8, "messages": USER})

    assert response.status_code == 429 and response.headers["retry-after"] == "30"


def test_an_upstream_that_sends_nothing_for_its_timeout_is_a_504_api_error(
    scripted: ScriptedUpstream, start_proxy: StartProxy
) -> None:
    config = make_config({"local": openai_backend(scripted.base_url, timeout=0.3)}, failover={"max_attempts": 1})
    proxy = start_proxy(config)
    scripted.script("m", Step(stall=2))

    error = _raise(proxy, stream=False)

    assert isinstance(error, anthropic.InternalServerError) and error.status_code == 504
    assert error.body["error"]["type"] == "api_error"  # type: ignore[index]


def test_an_unreachable_backend_is_a_502_api_error(start_proxy: StartProxy) -> None:
    config = make_config({"local": openai_backend(closed_port_url())},
                         failover={"max_attempts": 1, "connect_retries": 0})
    proxy = start_proxy(config)

    error = _raise(proxy, stream=True)

    assert isinstance(error, anthropic.InternalServerError) and error.status_code == 502
    assert error.body["error"]["type"] == "api_error"  # type: ignore[index]


def test_an_unknown_path_under_messages_is_a_not_found_error(proxy: RunningProxy) -> None:
    response = post(proxy, {"model": "m"}, path="/v1/messages/batches")

    assert response.status_code == 404
    assert response.json() == {"type": "error", "error": {"type": "not_found_error", "message": ANY}}


def test_a_wrong_method_is_answered_in_the_anthropic_envelope(proxy: RunningProxy) -> None:
    response = httpx.get(f"{proxy.url}/v1/messages", headers={"x-api-key": PROXY_KEY})

    assert response.status_code == 405
    assert response.json()["type"] == "error" and response.json()["error"]["type"] == "invalid_request_error"


def test_a_body_over_the_size_limit_is_request_too_large(scripted: ScriptedUpstream, start_proxy: StartProxy) -> None:
    proxy = start_proxy(local_config(scripted.base_url, max_request_mb=0.01))

    response = post(proxy, {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "x" * 20_000}]})

    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert scripted.requests == []


def test_a_malformed_message_is_named_in_the_bad_request(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk(proxy).messages.create(model="m", max_tokens=8, messages=[{"role": "robot", "content": "hi"}])  # type: ignore[misc,list-item]

    assert "messages.0.role" in caught.value.body["error"]["message"]  # type: ignore[index]
    assert scripted.requests == []


def test_a_server_tool_is_refused_rather_than_silently_dropped(proxy: RunningProxy, scripted: ScriptedUpstream) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk(proxy).messages.create(model="m", max_tokens=8, messages=USER,
                                   tools=[{"type": "web_search_20250305", "name": "web_search"}])

    assert "tools.0.type" in caught.value.body["error"]["message"]  # type: ignore[index]
    assert scripted.requests == []

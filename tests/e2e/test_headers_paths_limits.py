"""Edges of HTTP itself: an upstream header that cannot be re-sent, a path with a trailing slash, and
a request body over max_request_mb."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from src.config import Config
from tests.fakes.proxy import PROXY_KEY, UPSTREAM_KEY, RunningProxy, config_for
from tests.fakes.upstream import FakeUpstream

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
AUTH = {"Authorization": f"Bearer {PROXY_KEY}", "Content-Type": "application/json"}


def envelope(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


# --- an upstream header that is not latin-1 -----------------------------------------------------------------


def test_the_fake_upstream_does_send_a_utf8_request_id(upstream: FakeUpstream) -> None:
    # The premise: the raw header bytes are UTF-8, which no latin-1 header value can hold.
    body = {"model": "x/odd-header", "messages": MESSAGES}
    direct = httpx.post(f"{upstream.base_url}/chat/completions", json=body, headers={"Authorization": f"Bearer {UPSTREAM_KEY}"})
    assert dict(direct.headers.raw)[b"X-Request-Id"] == "req-\u20ac".encode()


def test_non_streaming_answer_with_an_odd_header_arrives_without_it(proxy: RunningProxy) -> None:
    body = {"model": "x/odd-header", "messages": MESSAGES}
    response = httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers=AUTH)

    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Hello from x/odd-header"
    assert "x-request-id" not in response.headers


def test_streaming_answer_with_an_odd_header_arrives_without_it(proxy: RunningProxy) -> None:
    body = {"model": "x/odd-header", "messages": MESSAGES, "stream": True}
    response = httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers=AUTH, timeout=10)

    assert response.status_code == 200
    assert "x-request-id" not in response.headers
    assert response.headers["x-generation-id"] == "gen-fake"  # a plain header still passes
    events = [e for e in response.text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    payloads = [json.loads(e.removeprefix("data: ")) for e in events[1:-1]]
    text = "".join(p["choices"][0]["delta"].get("content") or "" for p in payloads if p["choices"])
    assert text == "Hello from x/odd-header"


def test_the_sdk_gets_both_answers_despite_the_odd_header(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="x/odd-header", messages=MESSAGES)
    assert completion.choices[0].message.content == "Hello from x/odd-header"

    chunks = list(client.chat.completions.create(model="x/odd-header", messages=MESSAGES, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from x/odd-header"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


# --- no redirect for a trailing slash --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/chat/completions/"), ("POST", "/v1/chat/completions//"), ("GET", "/health/")],
)
def test_a_trailing_slash_is_a_404_envelope_not_a_redirect(
    proxy: RunningProxy, upstream: FakeUpstream, method: str, path: str
) -> None:
    headers = {**AUTH, "Host": "evil.example"}  # a redirect would be built from this
    body = json.dumps({"model": "x/a", "messages": MESSAGES}) if method == "POST" else None
    response = httpx.request(method, f"{proxy.url}{path}", content=body, headers=headers, follow_redirects=False)

    assert response.status_code == 404
    assert "location" not in response.headers
    assert "evil.example" not in response.text
    assert envelope(response)["type"] == "not_found_error"
    assert upstream.requests == []


# --- a body over max_request_mb -------------------------------------------------------------------------------

LIMIT_MB = 0.01  # 10485 bytes


@pytest.fixture
def small_proxy(upstream: FakeUpstream, start_proxy: Callable[[Config], RunningProxy]) -> RunningProxy:
    return start_proxy(config_for(upstream.base_url, max_request_mb=LIMIT_MB))


def big_body(size: int = 20_000) -> bytes:
    content = json.dumps({"model": "x/a", "messages": [{"role": "user", "content": "x" * size}]}).encode()
    assert len(content) >= size
    return content


def in_pieces(content: bytes) -> Iterator[bytes]:
    """A body without Content-Length: sent chunked, its size known only as it arrives."""
    for start in range(0, len(content), 1000):
        yield content[start : start + 1000]


def test_a_body_under_the_limit_is_served(small_proxy: RunningProxy, upstream: FakeUpstream) -> None:
    response = httpx.post(f"{small_proxy.url}/v1/chat/completions", content=big_body(5_000), headers=AUTH)
    assert response.status_code == 200
    assert len(upstream.requests) == 1


def test_a_body_over_the_limit_is_a_413_and_never_sent_upstream(small_proxy: RunningProxy, upstream: FakeUpstream) -> None:
    response = httpx.post(f"{small_proxy.url}/v1/chat/completions", content=big_body(), headers=AUTH)
    assert response.status_code == 413
    assert upstream.requests == []


def test_a_chunked_body_over_the_limit_is_a_413_in_the_openai_envelope(
    small_proxy: RunningProxy, upstream: FakeUpstream
) -> None:
    response = httpx.post(f"{small_proxy.url}/v1/chat/completions", content=in_pieces(big_body()), headers=AUTH)
    assert response.status_code == 413
    assert "content-length" not in response.request.headers
    error = envelope(response)
    assert error["type"] == "request_too_large"
    assert "max_request_mb" in error["message"]
    assert upstream.requests == []


def test_a_body_over_the_limit_is_a_413_in_the_openai_envelope(small_proxy: RunningProxy) -> None:
    response = httpx.post(f"{small_proxy.url}/v1/chat/completions", content=big_body(), headers=AUTH)
    assert response.status_code == 413
    assert response.request.headers["content-length"] == str(len(big_body()))
    error = envelope(response)
    assert error["type"] == "request_too_large"
    assert "max_request_mb" in error["message"]


def test_the_sdk_raises_a_413_for_a_body_over_the_limit(small_proxy: RunningProxy) -> None:
    client = openai.OpenAI(base_url=f"{small_proxy.url}/v1", api_key=PROXY_KEY, max_retries=0)
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model="x/a", messages=[{"role": "user", "content": "x" * 20_000}])
    assert raised.value.status_code == 413

"""A backend with `responses: native`: the client's body reaches `{base_url}/responses` byte for byte
(when nothing is rewritten), and its answer or stream is relayed as it came."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from src.config import Config
from tests.e2e.anthropic_helpers import LOCAL_KEY, make_config, openai_backend
from tests.e2e.responses_helpers import check, post, sdk
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.responses_upstream import (
    NATIVE_TEXT,
    RESPONSE_SSE,
    STREAM_FAILED,
    STREAM_START,
    ResponsesUpstream,
    native_response,
)
from tests.fakes.threaded import shared

Start = Callable[[Config], RunningProxy]
RAW = b'{"model": "openai/gpt-5",  "input": [{"role": "user", "content": "hi"}], "store": true, "x_new_field": [1, 2]}'


native_server, native = shared("native", ResponsesUpstream)


@pytest.fixture
def proxy(native: ResponsesUpstream, start_proxy: Start) -> RunningProxy:
    backends = {"native": openai_backend(native.base_url, responses="native"), "local": openai_backend(native.base_url)}
    return start_proxy(make_config(backends, failover_routes={"native": ["local"]}))


def send(proxy: RunningProxy, raw: bytes) -> httpx.Response:
    headers = {"Authorization": f"Bearer {PROXY_KEY}", "Content-Type": "application/json"}
    return httpx.post(f"{proxy.url}/v1/responses", content=raw, headers=headers, timeout=20)


def sse_payloads(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in raw.decode().split("\n") if line.startswith("data: ")]


def test_a_whole_request_is_forwarded_byte_for_byte_and_answered_as_it_came(proxy: RunningProxy,
                                                                             native: ResponsesUpstream) -> None:
    reply = send(proxy, RAW)
    assert reply.status_code == 200
    assert reply.json() == native_response("openai/gpt-5")
    [seen] = native.requests
    assert seen.path == "/v1/responses" and seen.raw == RAW
    assert seen.header("Authorization") == f"Bearer {LOCAL_KEY}"  # the backend's key, not the proxy key
    assert reply.headers["x-switchyard-route"] == "native:openai/gpt-5"


def test_a_stream_is_forwarded_byte_for_byte_and_relayed_as_it_came(proxy: RunningProxy, native: ResponsesUpstream) -> None:
    raw = RAW.replace(b'"store": true', b'"stream": true')
    with httpx.stream("POST", f"{proxy.url}/v1/responses", content=raw, timeout=20,
                      headers={"Authorization": f"Bearer {PROXY_KEY}", "Content-Type": "application/json"}) as reply:
        body = reply.read()
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
    assert body == RESPONSE_SSE
    assert native.requests[-1].raw == raw


def test_the_sdk_reads_a_native_stream(proxy: RunningProxy) -> None:
    with sdk(proxy).responses.stream(model="openai/gpt-5", input="hi") as events:
        final = events.get_final_response()
    assert final.output_text == NATIVE_TEXT and final.id == "resp_native_02"


def test_a_rewritten_model_is_the_only_change(proxy: RunningProxy, native: ResponsesUpstream) -> None:
    reply = send(proxy, RAW.replace(b'"openai/gpt-5"', b'"native:openai/gpt-5"'))
    assert reply.status_code == 200
    assert native.requests[-1].body == json.loads(RAW)


def test_a_native_failed_event_is_relayed_once(proxy: RunningProxy, native: ResponsesUpstream) -> None:
    native.stream_ending = "failed"
    with httpx.stream("POST", f"{proxy.url}/v1/responses", json={"model": "openai/gpt-5", "input": "hi", "stream": True},
                      headers={"Authorization": f"Bearer {PROXY_KEY}"}, timeout=20) as reply:
        body = reply.read()
    assert body == STREAM_START + STREAM_FAILED
    check(sse_payloads(body))


def cut_stream(proxy: RunningProxy, native: ResponsesUpstream) -> list[dict[str, Any]]:
    native.stream_ending = "cut"
    with httpx.stream("POST", f"{proxy.url}/v1/responses", json={"model": "openai/gpt-5", "input": "hi", "stream": True},
                      headers={"Authorization": f"Bearer {PROXY_KEY}"}, timeout=20) as reply:
        body = reply.read()
    assert body.startswith(STREAM_START)
    return sse_payloads(body)


def test_a_native_stream_cut_short_ends_with_response_failed(proxy: RunningProxy, native: ResponsesUpstream) -> None:
    payloads = cut_stream(proxy, native)
    kinds = [p["type"] for p in payloads]
    assert kinds[-1] == "response.failed" and kinds.count("response.failed") == 1
    assert payloads[-1]["response"]["error"]["code"] == "server_error"


def test_a_native_stream_cut_short_still_keeps_every_stream_rule(proxy: RunningProxy, native: ResponsesUpstream) -> None:
    check(cut_stream(proxy, native))
    with sdk(proxy).responses.stream(model="openai/gpt-5", input="hi") as events:
        assert [e.type for e in events][-1] == "response.failed"


@pytest.mark.parametrize("streamed", [False, True])
def test_a_429_on_the_native_route_fails_over_to_a_translated_one(proxy: RunningProxy, native: ResponsesUpstream,
                                                                  streamed: bool) -> None:
    native.fail_next(429)
    client = sdk(proxy)
    final: Any
    if streamed:
        with client.responses.stream(model="openai/gpt-5", input="hi") as events:
            final = events.get_final_response()
    else:
        final = client.responses.create(model="openai/gpt-5", input="hi")
    assert final.output_text == "Hello from openai/gpt-5"  # the translated route's answer
    assert [r.path for r in native.requests] == ["/v1/responses", "/v1/chat/completions"]


def test_a_4xx_from_the_native_route_is_the_clients(proxy: RunningProxy, native: ResponsesUpstream) -> None:
    native.fail_next(400)
    reply = post(proxy, {"model": "openai/gpt-5", "input": "hi"})
    assert reply.status_code == 400 and "fake failure 400" in reply.json()["error"]["message"]
    assert len(native.requests) == 1

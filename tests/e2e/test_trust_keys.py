"""No upstream key reaches a client, by any path: a hostile upstream (tests/fakes/hostile.py) echoes
the key it was sent in bodies, stream events, error bodies and headers, as it is and JSON-escaped,
on every client protocol, translated and native. The client's raw bytes and headers are checked."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from src.config import Config
from tests.fakes.hostile import (
    ECHO_HEADERS,
    HostileUpstream,
    Reply,
    body_of,
    echo_error,
    echo_stream,
    sse,
)
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.proxy_setup import NO_COOLDOWN, proxy_config, serving
from tests.fakes.threaded import shared

KEY = "sk-or-v1-hostile/secret+key=0001"  # the default backend's, with a `/` to escape
NATIVE_KEY = "sk-native/second+key=0002"  # the `nat` backend's (Responses forwarded natively)
FORMS = [form.encode() for key in (KEY, NATIVE_KEY) for form in (key, key.replace("/", "\\/"))]
MESSAGES = [{"role": "user", "content": "hi"}]
ADMIN_KEY = "sy-trust-admin-key-0001"


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    model: str
    stream: bool = False
    reply: Reply | None = None  # None: the hostile default (the key echoed in a 200 or a stream)
    native: bool = False  # the upstream speaks the client's protocol (Messages or Responses)


def _messages_native_stream() -> Reply:
    start = {"type": "message_start", "message": {"id": "msg_@KEY@", "type": "message", "role": "assistant",
             "content": [], "model": "m", "usage": {"input_tokens": 1, "output_tokens": 0}}}  # fmt: skip
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "@KEY@ @KEY_JSON@"}}
    error = {"type": "error", "error": {"type": "authentication_error", "message": "bad key @KEY_JSON@"}}
    events = [b"event: message_start\n" + sse(start), b"event: content_block_start\n" + sse(block),
              b"event: content_block_delta\n" + sse(delta), b"event: error\n" + sse(error)]  # fmt: skip
    return Reply(events=events, headers=dict(ECHO_HEADERS))


def _messages_native() -> Reply:
    message = {"id": "msg_@KEY@", "type": "message", "role": "assistant", "model": "m", "stop_reason": "end_turn",
               "content": [{"type": "text", "text": "@KEY@ and @KEY_JSON@"}], "usage": {"input_tokens": 1, "output_tokens": 1}}  # fmt: skip
    return Reply(body=body_of(message), headers=dict(ECHO_HEADERS))


def _responses_native(stream: bool) -> Reply:
    item = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": "@KEY@ @KEY_JSON@", "annotations": []}]}  # fmt: skip
    response = {"id": "resp_@KEY@", "object": "response", "status": "completed", "model": "m", "output": [item]}
    if not stream:
        return Reply(body=body_of(response), headers=dict(ECHO_HEADERS))
    delta = {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "delta": "@KEY_JSON@"}
    failed = {"type": "response.failed", "response": {**response, "status": "failed",
              "error": {"code": "server_error", "message": "upstream key @KEY@"}}}  # fmt: skip
    events = [b"event: response.output_text.delta\n" + sse(delta), b"event: response.failed\n" + sse(failed)]
    return Reply(events=events, headers=dict(ECHO_HEADERS))


CHAT, MSG, RESP = "/v1/chat/completions", "/v1/messages", "/v1/responses"
FIRST_EVENT_ERROR = Reply(events=[sse({"error": {"code": 401, "message": "key @KEY@ / @KEY_JSON@"}})], headers=dict(ECHO_HEADERS))
CASES = [
    Case("chat 200", CHAT, "m"),
    Case("chat stream, mid-stream error", CHAT, "m", stream=True),
    Case("chat stream, error first", CHAT, "m", stream=True, reply=FIRST_EVENT_ERROR),
    *(Case(f"chat {status}", CHAT, "m", reply=echo_error(status)) for status in (400, 401, 402, 404, 429, 500, 502, 503)),
    Case("chat stream 429", CHAT, "m", stream=True, reply=echo_error(429)),
    Case("chat stream, error code as text", CHAT, "m", stream=True, reply=echo_stream(error_status="server_error")),
    Case("messages 200", MSG, "m"),
    Case("messages stream, mid-stream error", MSG, "m", stream=True),
    *(Case(f"messages {status}", MSG, "m", reply=echo_error(status)) for status in (401, 429, 500, 529)),
    Case("messages native 200", MSG, "anthropic/m", reply=_messages_native(), native=True),
    Case("messages native stream", MSG, "anthropic/m", stream=True, reply=_messages_native_stream(), native=True),
    Case("messages native 401", MSG, "anthropic/m", reply=echo_error(401), native=True),
    Case("responses 200", RESP, "m"),
    Case("responses stream, mid-stream error", RESP, "m", stream=True),
    *(Case(f"responses {status}", RESP, "m", reply=echo_error(status)) for status in (401, 429, 503)),
    Case("responses native 200", RESP, "nat:m", reply=_responses_native(False), native=True),
    Case("responses native stream", RESP, "nat:m", stream=True, reply=_responses_native(True), native=True),
    Case("responses native 500", RESP, "nat:m", reply=echo_error(500), native=True),
]


def trust_config(url: str, database: str | None = None, key: str = KEY) -> Config:
    native = {"type": "openai", "base_url": url, "api_key": NATIVE_KEY, "timeout": 5, "responses": "native"}
    keys = [{"name": "alice", "key": PROXY_KEY, "byok": True}, {"name": "root", "key": ADMIN_KEY, "admin": True}]
    return proxy_config(url, key, database=database, timeout=5, keys=keys, backends={"nat": native},
                        failover=NO_COOLDOWN)  # fmt: skip


hostile_server, hostile = shared("hostile", HostileUpstream)


@pytest.fixture(scope="module")
def trust_proxy(hostile_server: HostileUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    database = tmp_path_factory.mktemp("trust") / "usage.db"
    yield from serving(trust_config(hostile_server.base_url, str(database)))


def exercise(proxy: RunningProxy, hostile: HostileUpstream, case: Case, **extra: Any) -> httpx.Response:
    """The case's request (with `extra` headers), its response read whole (a stream to its end)."""
    if case.reply is not None:
        hostile.script(case.model.removeprefix("nat:"), case.reply)
    body: dict[str, Any] = {"model": case.model, "stream": case.stream}
    body.update({"input": "hi"} if case.path == RESP else {"messages": MESSAGES})
    if case.path == MSG:
        body["max_tokens"] = 16
    headers = {"Authorization": f"Bearer {PROXY_KEY}", "anthropic-version": "2023-06-01", **extra}
    return httpx.post(f"{proxy.url}{case.path}", json=body, headers=headers, timeout=15)


def leaks(response: httpx.Response) -> list[str]:
    """Every place of the raw response (status line aside) where a form of a key appears."""
    found = [f"body holds {form!r}" for form in FORMS if form in response.content]
    for name, value in response.headers.raw:
        found += [f"header {name!r} holds {form!r}" for form in FORMS if form in name or form in value]
    return found


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_no_key_reaches_the_client(trust_proxy: RunningProxy, hostile: HostileUpstream, case: Case) -> None:
    response = exercise(trust_proxy, hostile, case)

    [received] = hostile.requests
    assert received.key == (NATIVE_KEY if case.model.startswith("nat:") else KEY)  # the fake had a key to echo
    assert received.path.endswith(case.path.removeprefix("/v1") if case.native else "/chat/completions")
    assert leaks(response) == []
    assert b"[redacted]" in response.content  # the echo did come back, masked
    assert response.status_code != 500 or (case.reply is not None and case.reply.status == 500)


OWN_KEY = "sk-own/client+key=0004"  # a client's own upstream key (byok), echoed back to it


@pytest.mark.parametrize("case", [c for c in CASES if not c.native][::3], ids=lambda c: c.name)
def test_a_clients_own_upstream_key_is_masked_too(trust_proxy: RunningProxy, hostile: HostileUpstream, case: Case) -> None:
    response = exercise(trust_proxy, hostile, case, **{"x-upstream-api-key": OWN_KEY})

    assert [r.key for r in hostile.requests] == [OWN_KEY]
    own = [form.encode() for form in (OWN_KEY, OWN_KEY.replace("/", "\\/"))]
    assert [form for form in own if form in response.content or any(form in v for _, v in response.headers.raw)] == []
    assert b"[redacted]" in response.content


def test_the_proxy_key_never_reaches_the_upstream(trust_proxy: RunningProxy, hostile: HostileUpstream) -> None:
    for case in CASES[:3]:
        exercise(trust_proxy, hostile, case)

    assert len(hostile.requests) == 3
    for received in hostile.requests:
        assert all(PROXY_KEY not in value for value in received.headers.values())


def test_echoed_headers_are_masked_not_dropped(trust_proxy: RunningProxy, hostile: HostileUpstream) -> None:
    ok = exercise(trust_proxy, hostile, CASES[0])
    limited = exercise(trust_proxy, hostile, Case("429", CHAT, "m", reply=echo_error(429)))

    assert ok.headers["x-request-id"] == ok.headers["x-generation-id"] == "[redacted]"
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "[redacted]"


def test_model_listing_and_suggestions_quoting_the_key(trust_proxy: RunningProxy, hostile: HostileUpstream) -> None:
    auth = {"Authorization": f"Bearer {PROXY_KEY}"}
    listing = httpx.get(f"{trust_proxy.url}/v1/models", headers=auth, timeout=10)
    not_found = Reply(status=404, body=b'{"error": {"code": "model_not_found", "message": "no such model"}}')
    suggested = exercise(trust_proxy, hostile, Case("404", CHAT, "vendor/sk-or-v1-hostile", reply=not_found))

    assert listing.status_code == 200
    assert "vendor/[redacted]" in [entry["id"] for entry in listing.json()["data"]]
    assert suggested.status_code == 404
    assert "did you mean" in suggested.json()["error"]["message"]
    assert leaks(listing) == leaks(suggested) == []


def test_usage_and_metrics_after_hostile_answers_hold_no_key(trust_proxy: RunningProxy, hostile: HostileUpstream) -> None:
    for case in CASES:
        exercise(trust_proxy, hostile, case)
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}

    reports = [httpx.get(f"{trust_proxy.url}{path}", headers=admin, timeout=10) for path in
               ("/v1/usage?group_by=model", "/v1/usage?group_by=backend", "/metrics", "/health")]  # fmt: skip

    assert [r.status_code for r in reports] == [200, 200, 200, 200]
    assert reports[0].json()["totals"]["requests"] >= len(CASES)
    assert [leak for report in reports for leak in leaks(report)] == []


def test_the_fake_echoes_every_form_of_the_key(hostile: HostileUpstream) -> None:
    """Without the proxy, every form the tests look for does come back: their passing means something."""
    auth = {"Authorization": f"Bearer {KEY}"}
    whole = httpx.post(f"{hostile.base_url}/chat/completions", json={"model": "m"}, headers=auth, timeout=10)
    stream = httpx.post(f"{hostile.base_url}/chat/completions", json={"model": "m", "stream": True}, headers=auth, timeout=10)

    for response in (whole, stream):
        assert KEY.encode() in response.content
        assert KEY.replace("/", "\\/").encode() in response.content
        assert response.headers["x-request-id"] == response.headers["retry-after"] == KEY

"""Malformed upstream errors are the upstream's failure: they fail over (`x|backup:y`), never give a
500 or a traceback, and a failure once content flowed is recorded as the upstream's, never 499.
OpenRouter's empty error objects on successful chunks are no failure at all."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest

from tests.fakes.hostile import HostileUpstream, Reply, chunk, sse, usage_chunk, whole_stream
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.proxy_setup import (
    NO_COOLDOWN,
    no_traceback,  # noqa: F401
    proxy_config,
    serving,
    usage_rows,
)
from tests.fakes.threaded import shared

MESSAGES: Any = [{"role": "user", "content": "hi"}]
PLAN = "x|backup:y"  # x on the default backend first, then y on the backup
DIGITS = b"9" * 5000
MALFORMED = {  # error objects that break every assumption about their fields' types
    "type is an object": b'{"type": {"a": 1}, "code": "\xc2\xb2", "message": {"nested": true}}',
    "code is a superscript two": b'{"code": "\xc2\xb2", "message": "odd code"}',
    "code is 5,000 digits": b'{"code": ' + DIGITS + b', "message": "huge code"}',
    "code is 5,000 digit characters": b'{"code": "' + DIGITS + b'", "message": "huge code"}',
    "message is a list": b'{"code": [500], "message": ["a", 1], "metadata": "raw"}',
}


hostile_server, hostile = shared("hostile", lambda: HostileUpstream(plain=True))


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("failover") / "usage.db"


@pytest.fixture(scope="module")
def proxy(hostile_server: HostileUpstream, database: Path) -> Iterator[RunningProxy]:
    backup = {"type": "openai", "base_url": hostile_server.base_url, "api_key": "sk-backup-0002", "timeout": 5}
    yield from serving(proxy_config(hostile_server.base_url, "sk-first-0001", database=database, timeout=5,
                                    backends={"backup": backup}, failover=NO_COOLDOWN))  # fmt: skip


def record_of(proxy: RunningProxy, database: Path, user_agent: str) -> dict[str, Any]:
    """The one usage row of the request sent with `user_agent`, once written."""
    [row] = usage_rows(proxy, database, user_agent)
    return {**row, "attempts": orjson.loads(row["attempts"])}


def sdk(proxy: RunningProxy, user_agent: str = "trust-test") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=PROXY_KEY, max_retries=0,
                         default_headers={"User-Agent": user_agent})


@pytest.fixture
def user_agent() -> str:
    """A User-Agent of this test's own, which its usage record carries."""
    return f"trust-test/{uuid.uuid4().hex}"


def _ids(table: dict[str, bytes]) -> list[Any]:
    return [pytest.param(error, id=name) for name, error in table.items()]


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize("error", [pytest.param(e, id=n) for n, e in MALFORMED.items()])
def test_a_malformed_error_status_fails_over(proxy: RunningProxy, hostile: HostileUpstream, error: bytes, status: int) -> None:
    hostile.script("x", Reply(status=status, body=b'{"error": ' + error + b"}"))

    text, headers = _ask(proxy, stream=False)

    assert (text, headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("Hello", "backup:y", "2")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("error", _ids(MALFORMED))
def test_a_malformed_error_inside_a_200_fails_over(
    proxy: RunningProxy, hostile: HostileUpstream, database: Path, user_agent: str, error: bytes, stream: bool
) -> None:
    payload = b'{"error": ' + error + b"}"
    hostile.script("x", Reply(events=[b"data: " + payload]) if stream else Reply(body=payload))

    text, headers = _ask(proxy, stream, user_agent)

    assert (text, headers["x-switchyard-route"]) == ("Hello there" if stream else "Hello", "backup:y")
    record = record_of(proxy, database, user_agent)
    assert record["status"] == 200
    assert [(a["route"], a["outcome"]) for a in record["attempts"]] == [("openrouter:x", "status_502"), ("backup:y", "ok")]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_bare_string_error_with_a_message_fails_over(proxy: RunningProxy, hostile: HostileUpstream, stream: bool) -> None:
    payload = b'{"error": "upstream_failed", "message": "the provider went away"}'
    hostile.script("x", Reply(events=[sse(chunk("", role="assistant")), b"data: " + payload]) if stream else Reply(body=payload))

    text, headers = _ask(proxy, stream)

    assert headers["x-switchyard-route"] == "backup:y"
    assert text == ("Hello there" if stream else "Hello")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("path", ["/v1/messages", "/v1/responses"])
@pytest.mark.parametrize("error", [MALFORMED["type is an object"], b'"upstream_failed", "message": "gone"'], ids=["object", "string"])
def test_other_protocols_fail_over_past_a_malformed_error_too(
    proxy: RunningProxy, hostile: HostileUpstream, path: str, error: bytes, stream: bool
) -> None:
    payload = b'{"error": ' + error + b"}"
    hostile.script("x", Reply(events=[b"data: " + payload]) if stream else Reply(status=200, body=payload))
    body: dict[str, Any] = {"model": PLAN, "stream": stream, "max_tokens": 16}
    body.update({"messages": MESSAGES} if path == "/v1/messages" else {"input": "hi"})

    response = httpx.post(f"{proxy.url}{path}", json=body, headers={"Authorization": f"Bearer {PROXY_KEY}"}, timeout=10)

    assert (response.status_code, response.headers["x-switchyard-route"]) == (200, "backup:y")
    assert b"Hello" in response.content
    assert [m for m in (b'"type":"error"', b"response.failed", b'"status":"failed"') if m in response.content] == []


MID_STREAM = {
    "bare string error": b'{"error": "upstream_failed", "message": "the provider went away"}',
    **{name: b'{"error": ' + error + b"}" for name, error in MALFORMED.items()},
}


@pytest.mark.parametrize("error", _ids(MID_STREAM))
def test_a_malformed_error_after_content_ends_the_stream_as_an_upstream_failure(
    proxy: RunningProxy, hostile: HostileUpstream, database: Path, user_agent: str, error: bytes
) -> None:
    hostile.script("x", Reply(events=[sse(chunk("", role="assistant")), sse(chunk("Partial")), b"data: " + error]))
    received = []

    with pytest.raises(openai.APIError) as raised:
        parts: Any = sdk(proxy, user_agent).chat.completions.create(model=PLAN, messages=MESSAGES, stream=True)
        for part in parts:
            received.append(part.choices[0].delta.content if part.choices else None)

    assert "Partial" in received
    assert not isinstance(raised.value, openai.APIStatusError)  # an error event, after a 200
    record = record_of(proxy, database, user_agent)
    assert record["route"] == "openrouter:x"
    assert record["status"] == 502  # the in-band rule: no usable code or type is the upstream's 502; never 499
    assert httpx.get(f"{proxy.url}/health").status_code == 200


# --- OpenRouter's empty error objects on successful chunks ------------------------------------------------

EMPTY: dict[str, Any] = {"error": {"code": None, "message": ""}}


def _empty_error_stream() -> Reply:
    words = [chunk(w, **EMPTY) for w in ("One", " two", " three")]
    return whole_stream(chunk("", role="assistant", **EMPTY), *words, chunk(None, "stop", **EMPTY),
                        {**usage_chunk(), **EMPTY}, "[DONE]")  # fmt: skip


def test_empty_error_chunks_reach_the_client_whole_and_are_recorded_as_200(
    proxy: RunningProxy, hostile: HostileUpstream, database: Path, user_agent: str
) -> None:
    hostile.script("x", _empty_error_stream())
    body = {"model": PLAN, "messages": MESSAGES, "stream": True}
    headers = {"Authorization": f"Bearer {PROXY_KEY}", "User-Agent": user_agent}

    response = httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers=headers)

    events = [line[6:] for line in response.content.split(b"\n") if line.startswith(b"data: ")]
    chunks = [orjson.loads(e) for e in events[:-1]]
    assert events[-1] == b"[DONE]"
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "One two three"
    assert len(chunks) == 6 and chunks[-1]["usage"]["total_tokens"] == 10
    assert response.headers["x-switchyard-route"] == "openrouter:x"
    record = record_of(proxy, database, user_agent)
    assert (record["status"], record["completion_tokens"]) == (200, 3)


def test_the_openai_sdk_sees_every_chunk_of_a_stream_with_empty_errors(proxy: RunningProxy, hostile: HostileUpstream) -> None:
    hostile.script("x", _empty_error_stream())

    parts: list[Any] = list(sdk(proxy).chat.completions.create(model=PLAN, messages=MESSAGES, stream=True))

    assert "".join(p.choices[0].delta.content or "" for p in parts if p.choices) == "One two three"
    assert len(parts) == 6


def test_empty_error_chunks_translated_for_the_anthropic_sdk(proxy: RunningProxy, hostile: HostileUpstream) -> None:
    hostile.script("x", _empty_error_stream())
    client = anthropic.Anthropic(base_url=proxy.url, api_key=PROXY_KEY, max_retries=0)

    with client.messages.stream(model=PLAN, max_tokens=16, messages=MESSAGES) as stream:
        message = stream.get_final_message()

    assert [block.text for block in message.content if block.type == "text"] == ["One two three"]
    assert message.stop_reason == "end_turn"


def _ask(proxy: RunningProxy, stream: bool, user_agent: str = "trust-test") -> tuple[str, Any]:
    raw = sdk(proxy, user_agent).chat.completions.with_raw_response.create(model=PLAN, messages=MESSAGES, stream=stream)
    parsed: Any = raw.parse()
    if stream:
        return "".join(c.choices[0].delta.content or "" for c in parsed if c.choices), raw.headers
    return parsed.choices[0].message.content or "", raw.headers

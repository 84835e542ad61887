"""Stopping the proxy while a request is open: past shutdown_grace a stream ends with exactly one
error event in the client's protocol, a request not answered yet gets a 503 in its envelope, the
upstream is let go, and the usage record says 503."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.fakes.hostile import HostileUpstream, Reply, chunk, sse
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.proxy_setup import proxy_config, serving
from tests.fakes.threaded import shared

GUARD = 15.0  # seconds any wait here may take: shutdown_grace is 1 s
HI = [{"role": "user", "content": "hi"}]
ENDLESS = [sse(chunk("", role="assistant")), sse(chunk("First words"))]  # then a chunk every 50 ms, forever


hostile_server, hostile = shared("hostile", HostileUpstream)


@pytest.fixture
def proxy(hostile: HostileUpstream, tmp_path: Path) -> Iterator[RunningProxy]:
    config = proxy_config(hostile.base_url, "sk-down-0001", database=tmp_path / "usage.db", timeout=30, shutdown_grace=1)
    yield from serving(config)  # a second stop is harmless


def stop_soon(proxy: RunningProxy) -> threading.Thread:
    """Stops the proxy from another thread (as a signal would), while the test goes on reading."""
    stopping = threading.Thread(target=proxy.stop)
    stopping.start()
    return stopping


def records(database: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(database) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute("SELECT * FROM requests")]


def wait_until(condition: Any) -> bool:
    deadline = time.monotonic() + GUARD
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


ENDPOINTS: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"messages": HI}),
    "messages": ("/v1/messages", {"messages": HI, "max_tokens": 64}),
    "responses": ("/v1/responses", {"input": "hi"}),
}


def error_events(raw: bytes, endpoint: str) -> list[dict[str, Any]]:
    """The stream's events that report a failure, parsed."""
    events = [part for part in raw.split(b"\n\n") if part.strip()]
    payloads = [json.loads(line[6:]) for event in events for line in event.split(b"\n") if line.startswith(b"data: {")]
    if endpoint == "chat":
        return [p for p in payloads if "error" in p]
    if endpoint == "messages":
        return [p for p in payloads if p.get("type") == "error"]
    return [p for p in payloads if p.get("type") == "response.failed"]


def through_shutdown(proxy: RunningProxy, endpoint: str) -> tuple[bytes, bool]:
    """A stream of `endpoint` read to its end, the proxy told to stop once it flows: what the client
    received, and whether the HTTP response was complete (its chunked body properly ended)."""
    path, fields = ENDPOINTS[endpoint]
    received, complete, stopping = b"", True, None
    with httpx.stream("POST", f"{proxy.url}{path}", json={"model": "m", "stream": True, **fields},
                      headers={"Authorization": f"Bearer {PROXY_KEY}"}, timeout=GUARD) as response:  # fmt: skip
        assert response.status_code == 200
        deadline = time.monotonic() + GUARD
        try:
            for data in response.iter_raw():
                received += data
                if stopping is None and b"First words" in received:
                    stopping = stop_soon(proxy)  # the stream is flowing: now the server is told to stop
                assert time.monotonic() < deadline, f"the stream was still open {GUARD}s after it began"
        except httpx.RemoteProtocolError:
            complete = False
    assert stopping is not None
    stopping.join(GUARD)
    assert not stopping.is_alive()
    return received, complete


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_an_open_stream_ends_with_one_error_event_and_a_503_record(
    proxy: RunningProxy, hostile: HostileUpstream, tmp_path: Path, endpoint: str
) -> None:
    hostile.script("m", Reply(events=ENDLESS, forever=True))

    received, _ = through_shutdown(proxy, endpoint)

    [error] = error_events(received, endpoint)
    assert "shutting down" in json.dumps(error)
    assert received.rstrip().endswith(b"}")  # the error event is the last: no [DONE], no message_stop after it
    assert b"tick" in received  # the stream did run until the grace was over
    [record] = records(tmp_path / "usage.db")
    assert (record["status"], record["stream"]) == (503, 1)
    assert wait_until(lambda: "m" in hostile.hung_up)  # the upstream request was closed


def test_the_response_cut_at_shutdown_is_still_a_complete_http_response(
    proxy: RunningProxy, hostile: HostileUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    hostile.script("m", Reply(events=ENDLESS, forever=True))

    received, complete = through_shutdown(proxy, "chat")

    assert len(error_events(received, "chat")) == 1
    assert complete
    assert not [r for r in caplog.records if r.getMessage() == "Exception in ASGI application"]


def test_the_openai_sdk_raises_on_the_shutdown_error_event(proxy: RunningProxy, hostile: HostileUpstream) -> None:
    hostile.script("m", Reply(events=ENDLESS, forever=True))
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=PROXY_KEY, max_retries=0, timeout=GUARD)
    texts: list[str | None] = []
    stopping, deadline = None, float("inf")

    with pytest.raises(openai.APIError) as raised:
        parts: Any = client.chat.completions.create(model="m", messages=HI, stream=True)  # type: ignore[arg-type]
        for part in parts:
            texts.append(part.choices[0].delta.content if part.choices else None)
            if stopping is None and "First words" in texts:
                stopping, deadline = stop_soon(proxy), time.monotonic() + GUARD
            assert time.monotonic() < deadline, f"the stream was still open {GUARD}s after the proxy was stopped"

    assert stopping is not None
    stopping.join(GUARD)
    assert "shutting down" in raised.value.message
    assert not isinstance(raised.value, openai.APIStatusError)  # an event inside the 200, not a status


def test_a_stream_that_ends_within_the_grace_is_not_cut(proxy: RunningProxy, hostile: HostileUpstream, tmp_path: Path) -> None:
    words = [sse(chunk("", role="assistant")), sse(chunk("All")), sse(chunk(" of it")), sse(chunk(None, "stop")), b"data: [DONE]"]
    hostile.script("m", Reply(events=words))
    body = {"model": "m", "stream": True, "messages": HI}
    response = httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {PROXY_KEY}"})

    proxy.stop()

    assert response.content.rstrip().endswith(b"data: [DONE]")
    assert error_events(response.content, "chat") == []
    assert [r["status"] for r in records(tmp_path / "usage.db")] == [200]


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_a_request_still_waiting_for_its_upstream_gets_a_503_in_its_envelope(
    proxy: RunningProxy, hostile: HostileUpstream, tmp_path: Path, endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    hostile.script("m", Reply(body=b"{}", delay=GUARD))
    path, fields = ENDPOINTS[endpoint]
    answered: list[httpx.Response] = []
    asking = threading.Thread(target=lambda: answered.append(httpx.post(
        f"{proxy.url}{path}", json={"model": "m", **fields}, headers={"Authorization": f"Bearer {PROXY_KEY}"}, timeout=GUARD)))
    asking.start()
    assert wait_until(lambda: len(hostile.requests) == 1)  # the upstream has it and says nothing

    proxy.stop()
    asking.join(GUARD)

    [response] = answered
    assert response.status_code == 503
    body = response.json()
    message = body["error"]["message"]
    assert "shutting down" in message
    assert body.get("type") == ("error" if endpoint == "messages" else None)
    [record] = records(tmp_path / "usage.db")
    assert (record["status"], record["stream"]) == (503, 0)
    assert not [r for r in caplog.records if r.getMessage().startswith("Exception in ASGI application")]

"""The chaos run's verdicts, on canned answers (no processes)."""

from __future__ import annotations

from bench import upstream
from bench.chaos_verdict import ERROR, GARBLED, INTACT, verdict
from bench.checks import expected_text

SSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked"
JSON = b"HTTP/1.1 %d X\r\nContent-Type: application/json"
KEY = "sk-test/upstream-0001"
EXPECTED = expected_text(3)
ERROR_EVENT = b'data: {"error": {"message": "upstream failed", "type": "upstream_unreachable"}}\n\n'


def events(chunks: int, done: bool = True) -> bytes:
    parts = [upstream.content_chunk(i, i == 2) for i in range(chunks)]
    data = b"".join(part.split(b"\r\n", 1)[1][:-2] for part in parts)  # the chunked framing taken off
    return data + (b"data: [DONE]\n\n" if done else b"")


def judge(status: int, head: bytes, body: bytes, failure: str = "") -> tuple[str, bool]:
    result = verdict(status, head, body, EXPECTED, [KEY], failure)
    return result.kind, result.unexpected_5xx


def test_a_whole_stream_is_intact_and_crlf_or_comments_change_nothing() -> None:
    assert judge(200, SSE, events(3)) == (INTACT, False)
    assert judge(200, SSE, b": keep-alive\n\n" + events(3).replace(b"\n", b"\r\n")) == (INTACT, False)


def test_one_error_event_after_partial_content_is_error_terminated() -> None:
    assert judge(200, SSE, events(2, done=False) + ERROR_EVENT) == (ERROR, False)


def test_streams_that_are_garbled() -> None:
    assert judge(200, SSE, events(2, done=False))[0] == GARBLED  # no end
    assert judge(200, SSE, events(2))[0] == GARBLED  # [DONE] after incomplete content
    assert judge(200, SSE, events(3, done=False) + b'data: {"id": "cut')[0] == GARBLED  # halfway through an event
    assert judge(200, SSE, events(2, done=False) + ERROR_EVENT + ERROR_EVENT)[0] == GARBLED  # two errors
    assert judge(200, SSE, events(2, done=False) + ERROR_EVENT + b"data: [DONE]\n\n")[0] == GARBLED
    assert judge(200, SSE, events(2, done=False) + events(3))[0] == GARBLED  # content repeated (a replay)
    assert judge(200, SSE, b"data: {not json}\n\n" + events(3))[0] == GARBLED
    assert judge(200, SSE, b"hello: world\n\n" + events(3))[0] == GARBLED
    assert judge(200, JSON % 200, b'{"choices": []}')[0] == GARBLED  # a 200 that is no event stream
    assert judge(200, SSE, events(2), failure="no end after 5 s")[0] == GARBLED


def test_error_statuses() -> None:
    proper = b'{"error": {"message": "b: all routes failed", "type": "upstream_error", "code": null}}'
    assert judge(502, JSON % 502, proper) == (ERROR, False)
    assert judge(429, JSON % 429, proper) == (ERROR, False)
    assert judge(500, JSON % 500, proper) == (ERROR, True)  # well-formed, but a 500 is unexpected
    assert judge(503, JSON % 503, b'{"error": {"message": "cut') == (GARBLED, True)
    assert judge(502, b"HTTP/1.1 502 X\r\nContent-Type: text/html", b"<html>bad</html>") == (GARBLED, True)
    assert judge(500, b"HTTP/1.1 500 X\r\nContent-Type: text/plain", b"Traceback (most recent call last):\n") == (
        GARBLED, True)
    assert judge(401, JSON % 401, b'{"error": {"message": "no type"}}')[0] == GARBLED


def test_an_upstream_key_anywhere_is_garbled_raw_or_json_escaped() -> None:
    escaped = KEY.replace("/", "\\/").encode()
    assert judge(401, JSON % 401, b'{"error": {"message": "bad key %s", "type": "x"}}' % escaped)[0] == GARBLED
    assert judge(200, SSE + b"\r\nX-Request-Id: " + KEY.encode(), events(3))[0] == GARBLED
    message = b'data: {"error": {"message": "key %s"}}\n\n' % KEY.encode()
    assert judge(200, SSE, events(2, done=False) + message)[0] == GARBLED

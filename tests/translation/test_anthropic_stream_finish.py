"""StreamTranslator: how the stream ends: stop reasons, final usage, errors and cut streams (C4, D5)."""

from __future__ import annotations

import pytest

from src.translation.anthropic_stream import StreamTranslator
from src.translation.tool_names import ToolNames
from tests.translation.anthropic_stream_helpers import MODEL, final_delta, run
from tests.translation.stream_helpers import finish, names, parse, text, tool, usage


def test_usage_chunk_after_finish_is_held_for() -> None:
    translator = StreamTranslator(MODEL, ToolNames())
    translator.feed(text("x"))
    at_finish = translator.feed(finish("length"))
    assert names(at_finish) == ["content_block_stop"]  # message_delta waits for the usage chunk
    at_usage = translator.feed(usage(30, 9, cached=10, written=5))
    assert names(at_usage) == ["message_delta", "message_stop"]
    assert parse(at_usage)[0][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
        "usage": {
            "input_tokens": 15,
            "output_tokens": 9,
            "cache_creation_input_tokens": 5,
            "cache_read_input_tokens": 10,
        },
    }
    assert translator.feed(text("late")) == []  # D5.6: nothing after the final message_delta
    assert translator.finish() == []


def test_finish_without_usage_flushes_the_held_delta() -> None:
    translator = StreamTranslator(MODEL, ToolNames(), input_tokens=77)
    translator.feed(text("x"))
    translator.feed(finish("stop"))
    events = translator.finish()
    assert names(events) == ["message_delta", "message_stop"]
    assert final_delta(events)["usage"] == {
        "input_tokens": 77,
        "output_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def test_finish_with_nothing_fed() -> None:
    translator = StreamTranslator(MODEL, ToolNames(), "msg_fixed")
    events = translator.finish()
    assert names(events) == ["message_start", "message_delta", "message_stop"]
    assert parse(events)[0][1]["message"]["id"] == "msg_fixed"
    assert final_delta(events)["delta"]["stop_reason"] == "end_turn"
    assert translator.finish() == []


def test_stream_cut_mid_block_is_closed() -> None:
    translator = StreamTranslator(MODEL, ToolNames())
    translator.feed(tool(0, "c", "f", '{"a":'))
    assert names(translator.finish()) == ["content_block_stop", "message_delta", "message_stop"]


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
        ("tool_calls", "end_turn"),
        (None, "end_turn"),
    ],
)
def test_finish_reasons(reason: str | None, expected: str) -> None:
    items = [text("x")] + ([finish(reason)] if reason else []) + [usage()]
    assert final_delta(run(items))["delta"]["stop_reason"] == expected


def test_stop_sequence_reported_when_known() -> None:
    events = run([text("x"), finish("stop", native_finish_reason="stop_sequence"), usage()], stop_sequences=["###"])
    assert final_delta(events)["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "###"}


def test_mid_stream_error_becomes_an_error_event_and_ends_the_stream() -> None:
    translator = StreamTranslator(MODEL, ToolNames())
    translator.feed(text("partial"))
    error_chunk = {
        "id": "gen-1",
        "error": {"code": 429, "message": "Rate limit exceeded", "metadata": {"error_type": "rate_limit_exceeded"}},
        "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
    }
    events = translator.feed(error_chunk)
    assert parse(events) == [
        ("error", {"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limit exceeded"}})
    ]
    assert translator.feed(text("more")) == [] and translator.finish() == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [(502, "api_error"), ("server_error", "api_error"), (529, "overloaded_error"), (400, "invalid_request_error")],
)
def test_error_codes(code: object, expected: str) -> None:
    events = run([{"id": "g", "error": {"code": code, "message": "m"}, "choices": []}])
    assert parse(events)[0][1]["error"]["type"] == expected


def test_error_and_ping_helpers() -> None:
    translator = StreamTranslator(MODEL, ToolNames())
    assert parse([translator.ping()]) == [("ping", {"type": "ping"})]
    assert translator.error("overloaded_error", "busy") == (
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"busy"}}\n\n'
    )
    assert translator.finish() == []


def test_usage_is_the_latest_total_not_a_sum() -> None:
    # Some servers send running usage on every chunk: only the one with or after finish_reason is final.
    events = run([text("x"), usage(10, 1), text("y"), usage(10, 2), finish("stop"), usage(10, 5)])
    assert final_delta(events)["usage"]["output_tokens"] == 5
    assert final_delta(run([text("x"), usage(10, 1), finish("stop")]))["usage"]["output_tokens"] == 1

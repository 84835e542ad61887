"""StreamTranslator: an OpenAI chunk stream as Anthropic Messages events (C4, D5)."""

from __future__ import annotations

import orjson
import pytest

from src.translation.anthropic_stream import StreamTranslator
from src.translation.tool_names import ToolNames
from tests.translation.stream_helpers import chunk, finish, names, parse, reasoning, text, tool, usage

MODEL = "claude-sonnet-4-5"


def run(chunks: list[dict], tool_names: ToolNames | None = None, **kwargs: object) -> list[bytes]:
    translator = StreamTranslator(MODEL, tool_names or ToolNames(), **kwargs)
    events: list[bytes] = []
    for item in chunks:
        events.extend(translator.feed(item))
    events.extend(translator.finish())
    return events


def blocks(events: list[bytes]) -> list[dict]:
    """The content blocks a client accumulates, by index (tool input as the joined JSON text)."""
    content: dict[int, dict] = {}
    for name, data in parse(events):
        if name == "content_block_start":
            assert data["index"] not in content
            content[data["index"]] = dict(data["content_block"])
        elif name == "content_block_delta":
            block, delta = content[data["index"]], data["delta"]
            key = {
                "text_delta": "text",
                "thinking_delta": "thinking",
                "signature_delta": "signature",
                "input_json_delta": "json",
            }[delta["type"]]
            value = delta.get("partial_json") if key == "json" else delta[key]
            block[key] = block.get(key, "") + value
    return [content[i] for i in sorted(content)]


def final_delta(events: list[bytes]) -> dict:
    return next(data for name, data in parse(events) if name == "message_delta")


def test_text_only() -> None:
    events = run([chunk({"role": "assistant", "content": ""}), text("Hel"), text("lo"), finish("stop"), usage(20, 2)])
    assert names(events) == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    parsed = parse(events)
    start = parsed[0][1]["message"]
    assert start["id"] == "msg_gen-1" and start["model"] == MODEL and start["content"] == []
    assert start["usage"] == {
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    assert parsed[1][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert blocks(events) == [{"type": "text", "text": "Hello"}]
    assert final_delta(events)["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert final_delta(events)["usage"]["output_tokens"] == 2


def test_thinking_then_text() -> None:
    events = run(
        [
            reasoning("Let me "),
            reasoning("think."),
            chunk(
                {"reasoning_details": [{"type": "reasoning.text", "signature": "SIG", "format": "anthropic-claude-v1"}]}
            ),
            text("Answer."),
            finish("stop"),
            usage(),
        ]
    )
    assert names(events) == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    parsed = parse(events)
    assert parsed[4][1] == {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "signature_delta", "signature": "SIG"},
    }
    assert blocks(events) == [
        {"type": "thinking", "thinking": "Let me think.", "signature": "SIG"},
        {"type": "text", "text": "Answer."},
    ]


def test_reasoning_with_details_is_not_doubled() -> None:
    both = chunk(
        {
            "reasoning": "abc",
            "reasoning_details": [{"type": "reasoning.text", "text": "abc", "format": "anthropic-claude-v1"}],
        }
    )
    assert blocks(run([both, finish()])) == [{"type": "thinking", "thinking": "abc", "signature": ""}]


def test_text_then_two_parallel_tool_calls_with_fragmented_arguments() -> None:
    events = run(
        [
            chunk({"role": "assistant", "content": "Checking."}),
            tool(0, "call_a", "get_weather"),
            tool(0, arguments='{"ci'),
            tool(0, arguments='ty": "Paris"}'),
            tool(1, "call_b", "get_weather", '{"city"'),  # id, name and first fragment in one delta (D5.5)
            tool(1, arguments=': "Rome"}'),
            finish("tool_calls"),
            usage(120, 40, cached=100),
        ]
    )
    assert names(events) == [
        "message_start",
        "content_block_start",  # 0 text
        "content_block_delta",
        "content_block_stop",
        "content_block_start",  # 1 tool_use call_a
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",  # 2 tool_use call_b, held whole behind call_a's open block
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    indices = [data.get("index") for name, data in parse(events) if name.startswith("content_block")]
    assert indices == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
    result = blocks(events)
    assert result[0] == {"type": "text", "text": "Checking."}
    assert [(b["type"], b["id"], b["name"], b["input"]) for b in result[1:]] == [
        ("tool_use", "call_a", "get_weather", {}),
        ("tool_use", "call_b", "get_weather", {}),
    ]
    assert [orjson.loads(b["json"]) for b in result[1:]] == [{"city": "Paris"}, {"city": "Rome"}]
    delta = final_delta(events)
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert delta["usage"] == {
        "input_tokens": 20,
        "output_tokens": 40,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 100,
    }


def test_blank_text_before_a_tool_call_makes_no_block() -> None:
    events = run([text("\n\n"), tool(0, "c", "f", "{}"), finish("tool_calls")])
    assert [b["type"] for b in blocks(events)] == ["tool_use"]


def test_blank_text_is_kept_once_real_text_follows() -> None:
    assert blocks(run([text("\n"), text("Hi"), finish()])) == [{"type": "text", "text": "\nHi"}]


def test_tool_name_arriving_late_is_waited_for() -> None:
    events = run([tool(0, "call_x", None, '{"a"'), tool(0, None, "late_name", ": 1}"), finish("tool_calls")])
    (block,) = blocks(events)
    assert (block["id"], block["name"], orjson.loads(block["json"])) == ("call_x", "late_name", {"a": 1})


def test_tool_name_that_never_arrives_still_keeps_the_arguments() -> None:
    (block,) = blocks(run([tool(0, "call_x", None, '{"a": 1}'), finish("tool_calls")]))
    assert block["name"] == "unknown_tool" and orjson.loads(block["json"]) == {"a": 1}


def test_tool_names_and_ids_mapped_back() -> None:
    tool_names = ToolNames()
    long_name = "mcp__server__" + "q" * 80
    sent = tool_names.upstream(long_name)
    (block,) = blocks(run([tool(0, "call|bad", sent, "{}"), finish("tool_calls")], tool_names))
    assert block["name"] == long_name
    assert block["id"].startswith("call_bad_")


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


def test_content_and_finish_in_one_chunk() -> None:
    events = run([chunk({"content": "all at once"}, "stop", usage={"prompt_tokens": 3, "completion_tokens": 3})])
    assert names(events) == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert blocks(events) == [{"type": "text", "text": "all at once"}]


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


def test_interleaved_thinking_text_and_tools_keep_increasing_indices() -> None:
    events = run(
        [
            reasoning("a"),
            text("b"),
            tool(0, "c0", "f", "{}"),
            reasoning("d"),
            tool(1, "c1", "g", "{}"),
            text("e"),
            finish("tool_calls"),
            usage(),
        ]
    )
    starts = [
        (data["index"], data["content_block"]["type"]) for name, data in parse(events) if name == "content_block_start"
    ]
    assert starts == [(0, "thinking"), (1, "text"), (2, "tool_use"), (3, "thinking"), (4, "tool_use"), (5, "text")]
    opened: list[int] = []
    for name, data in parse(events):  # strictly nested: each block stops before the next starts
        if name == "content_block_start":
            assert not opened
            opened.append(data["index"])
        elif name == "content_block_stop":
            assert opened == [data["index"]]
            opened.clear()
    assert not opened


def test_empty_and_odd_chunks_are_harmless() -> None:
    events = run(
        [
            chunk({}),
            chunk({"content": None}),
            {"choices": None},
            "not a dict",
            chunk({"tool_calls": "x"}),
            text("ok"),
            finish(),
        ]
    )  # type: ignore[list-item]
    assert blocks(events) == [{"type": "text", "text": "ok"}]

"""StreamTranslator: OpenAI chunk deltas as Anthropic content blocks (text, thinking, tool_use) (C4, D5)."""

from __future__ import annotations

import orjson

from src.translation.tool_names import ToolNames
from tests.translation.anthropic_stream_helpers import MODEL, blocks, final_delta, run
from tests.translation.stream_helpers import chunk, finish, names, parse, reasoning, text, tool, usage


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
            "not a dict",  # type: ignore[list-item]
            chunk({"tool_calls": "x"}),
            text("ok"),
            finish(),
        ]
    )
    assert blocks(events) == [{"type": "text", "text": "ok"}]

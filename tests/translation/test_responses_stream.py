"""A chat stream as a Responses event stream (src/translation/responses_stream.py): the event order,
numbering and item ids, tool calls held until whole, reasoning, the three endings."""

from __future__ import annotations

import json
from typing import Any

from src.translation.reasoning_carrier import Carrier
from src.translation.responses_output import Shape
from src.translation.responses_stream import ResponsesStream
from src.translation.responses_tools import Tool, ToolMap
from src.wire.errors import UpstreamUnreachable
from src.wire.sse import Event
from tests.translation.stream_helpers import chunk, finish, reasoning, text, tool, usage

CARRIER = Carrier(["proxy-secret-one"])
TEXT_EVENTS = ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
               "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
               "response.content_part.done", "response.output_item.done", "response.completed"]  # fmt: skip


def translator(max_chars: int = 1_000_000) -> ResponsesStream:
    names = ToolMap()
    names.declare(Tool("function", "get_weather"))
    names.declare(Tool("custom", "apply_patch"))
    names.declare(Tool("function", "search", "mcp"))
    return ResponsesStream(Shape("client/model", names, CARRIER, "deepseek"), max_chars)


def run(stream: ResponsesStream, *chunks: dict[str, Any], end: str | None = "finish",
        seen: list[Event] | None = None) -> list[dict[str, Any]]:
    """The events' payloads (after those `seen` before), checked: SSE names equal to their type, numbers 0, 1,
    2..., ids equal in added and done."""
    events = seen if seen is not None else []
    events += [e for c in chunks for e in stream.feed(c)]
    events += stream.finish() if end == "finish" else stream.fail(UpstreamUnreachable("or", "cut")) if end else []
    payloads: list[Any] = [e.payload for e in events]
    assert [e.name for e in events] == [p["type"].encode() for p in payloads]
    assert [p["sequence_number"] for p in payloads] == list(range(len(payloads)))
    added = {p["output_index"]: p["item"]["id"] for p in payloads if p["type"] == "response.output_item.added"}
    done = {p["output_index"]: p["item"]["id"] for p in payloads if p["type"] == "response.output_item.done"}
    assert {i: added[i] for i in done} == done
    return payloads  # fmt: skip


def types(payloads: list[dict[str, Any]]) -> list[str]:
    return [p["type"] for p in payloads]


def test_a_text_stream_in_the_order_codex_and_the_sdks_expect() -> None:
    payloads = run(translator(), chunk({"role": "assistant", "content": ""}), text("Hel"), text("lo"), finish(),
                   usage(50, 12, cached=10))  # fmt: skip
    assert types(payloads) == TEXT_EVENTS
    created, in_progress = payloads[0]["response"], payloads[1]["response"]
    assert created["status"] == in_progress["status"] == "in_progress" and created["output"] == []
    assert [p["delta"] for p in payloads if p["type"] == "response.output_text.delta"] == ["Hel", "lo"]
    assert payloads[6]["text"] == "Hello" and payloads[7]["part"]["text"] == "Hello"
    completed = payloads[-1]["response"]
    assert completed["id"] == created["id"] and completed["status"] == "completed"
    assert completed["output"] == [payloads[8]["item"]]
    assert completed["output"][0]["content"][0]["text"] == "Hello"
    assert completed["usage"]["input_tokens"] == 50 and completed["usage"]["output_tokens"] == 12
    assert completed["usage"]["input_tokens_details"] == {"cached_tokens": 10}


def test_tool_calls_are_held_until_whole_then_each_is_complete_in_its_done_event() -> None:
    stream, seen = translator(), list[Event]()
    early = run(stream, tool(0, "call_a", "get_weather", '{"city": "Pa'), tool(1, "call_b", "mcp__search", "{"),
                tool(0, arguments='ris"}'), tool(1, arguments='"q": 1}'), end=None, seen=seen)  # fmt: skip
    assert types(early) == ["response.created", "response.in_progress"]  # nothing a client could run yet
    payloads = run(stream, finish("tool_calls"), usage(), seen=seen)
    done = [p["item"] for p in payloads if p["type"] == "response.output_item.done"]
    assert [(d["type"], d["call_id"], d["name"], d["arguments"], d.get("namespace")) for d in done] == [
        ("function_call", "call_a", "get_weather", '{"city": "Paris"}', None),
        ("function_call", "call_b", "search", '{"q": 1}', "mcp"),
    ]
    assert [p["arguments"] for p in payloads if p["type"] == "response.function_call_arguments.done"] == [
        '{"city": "Paris"}', '{"q": 1}']
    added = [p["item"] for p in payloads if p["type"] == "response.output_item.added"]
    assert [(a["status"], a["arguments"], a["call_id"]) for a in added] == [("in_progress", "", "call_a"),
                                                                          ("in_progress", "", "call_b")]  # fmt: skip
    assert payloads[-1]["response"]["output"] == done
    assert stream.message["tool_calls"] == [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "mcp__search", "arguments": '{"q": 1}'}},
    ]


def test_a_custom_tool_call_streams_its_input() -> None:
    payloads = run(translator(), tool(0, "call_p", "apply_patch", json.dumps({"input": "*** Begin Patch"})),
                   finish("tool_calls"))  # fmt: skip
    assert "response.custom_tool_call_input.done" in types(payloads)
    item = next(p["item"] for p in payloads if p["type"] == "response.output_item.done")
    assert (item["type"], item["call_id"], item["name"], item["input"]) == ("custom_tool_call", "call_p", "apply_patch",
                                                                            "*** Begin Patch")  # fmt: skip


def test_a_call_without_an_id_gets_one_and_a_call_without_a_name_is_left_out() -> None:
    payloads = run(translator(), tool(0, None, "get_weather", "{}"), tool(1, "call_x", None, "{}"), finish("tool_calls"))
    done = [p["item"] for p in payloads if p["type"] == "response.output_item.done"]
    assert len(done) == 1 and done[0]["call_id"].startswith("call_") and done[0]["name"] == "get_weather"


def test_reasoning_then_text_are_two_items_and_the_reasoning_carries_its_fields() -> None:
    stream = translator()
    payloads = run(stream, reasoning("Let me "), reasoning("think."), text("Paris."), finish())
    done = [p["item"] for p in payloads if p["type"] == "response.output_item.done"]
    assert [d["type"] for d in done] == ["reasoning", "message"]
    assert done[0]["summary"] == [{"type": "summary_text", "text": "Let me think."}]
    assert CARRIER.open(done[0]["encrypted_content"], "reasoning") == ("deepseek", {"reasoning": "Let me think."})
    assert [p["delta"] for p in payloads if p["type"] == "response.reasoning_summary_text.delta"] == ["Let me ", "think."]
    assert types(payloads).index("response.reasoning_summary_text.done") < types(payloads).index(
        "response.output_item.added", 3)
    assert [p["output_index"] for p in payloads if p["type"] == "response.output_item.done"] == [0, 1]
    assert stream.message == {"role": "assistant", "content": "Paris.", "reasoning": "Let me think."}


def test_reasoning_content_and_details_are_kept_for_the_blob() -> None:
    details = [{"type": "reasoning.encrypted", "data": "opaque"}]
    payloads = run(translator(), chunk({"reasoning_content": "Hmm."}), chunk({"reasoning_details": details}),
                   text("A"), finish())  # fmt: skip
    reasoning_item = next(p["item"] for p in payloads if p["type"] == "response.output_item.done")
    fields = {"reasoning_content": "Hmm.", "reasoning_details": details}
    assert CARRIER.open(reasoning_item["encrypted_content"], "reasoning") == ("deepseek", fields)


def test_encrypted_reasoning_details_alone_are_a_reasoning_item() -> None:
    details = [{"type": "reasoning.encrypted", "data": "opaque"}]
    payloads = run(translator(), chunk({"reasoning_details": details}), text("A"), finish())
    first = next(p["item"] for p in payloads if p["type"] == "response.output_item.done")
    assert first["type"] == "reasoning"
    assert CARRIER.open(first["encrypted_content"], "reasoning") == ("deepseek", {"reasoning_details": details})


def test_a_length_stop_ends_with_response_incomplete() -> None:
    payloads = run(translator(), text("cut sh"), finish("length"), usage())
    assert payloads[-1]["type"] == "response.incomplete"
    assert payloads[-1]["response"]["status"] == "incomplete"
    assert payloads[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_an_in_band_error_ends_the_stream_with_exactly_one_response_failed() -> None:
    stream = translator()
    error = {**chunk({"content": ""}, "error"), "error": {"code": 429, "message": "Rate limited"}}
    payloads = run(stream, text("Hel"), error, text("more"), end="finish")
    assert types(payloads).count("response.failed") == 1 and payloads[-1]["type"] == "response.failed"
    failed = payloads[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "rate_limit_exceeded"
    assert "Rate limited" in failed["error"]["message"]
    assert stream.done and stream.fail(UpstreamUnreachable("or", "x")) == []


def test_a_failed_responses_output_holds_only_real_items() -> None:
    payloads = run(translator(), text("Hel"), end="fail")
    failed = payloads[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    assert all(item.get("type") and item.get("id") for item in failed["output"]), failed["output"]


def test_an_answer_larger_than_the_limit_fails() -> None:
    payloads = run(translator(max_chars=5), text("1234"), text("5678"), end=None)
    assert payloads[-1]["type"] == "response.failed"
    assert "max_response_mb" in payloads[-1]["response"]["error"]["message"]


def test_finish_without_any_chunk_is_still_a_whole_stream() -> None:
    payloads = run(translator())
    assert types(payloads) == ["response.created", "response.in_progress", "response.completed"]
    assert payloads[-1]["response"]["output"] == []

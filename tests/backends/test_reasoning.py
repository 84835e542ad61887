"""ReasoningReader: phase 1 of a hybrid reads the reasoning from a stream's chunks and says when to stop."""

from __future__ import annotations

from typing import Any

import pytest

from src.backends.reasoning import ReasoningReader, Thought


def delta(**fields: Any) -> dict[str, Any]:
    return {"id": "gen-1", "model": "deepseek/deepseek-r1", "choices": [{"index": 0, "delta": fields}]}


def content(text: str) -> dict[str, Any]:
    return delta(content=text)


def finish(reason: str = "stop", **fields: Any) -> dict[str, Any]:
    return {"id": "gen-1", "choices": [{"index": 0, "delta": fields, "finish_reason": reason}]}


def call(index: int, arguments: str, id: str | None = None, name: str | None = None) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": arguments}
    if name is not None:
        function["name"] = name
    part: dict[str, Any] = {"index": index, "function": function}
    if id is not None:
        part.update(id=id, type="function")
    return delta(tool_calls=[part])


def tool(id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}


USAGE = {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42, "cost": 0.0004}
ROLE = delta(role="assistant", content="")


def run(chunks: list[dict[str, Any]]) -> tuple[int | None, Thought]:
    """The index of the chunk after which the reader says stop (None: never), and what it read."""
    reader = ReasoningReader()
    for index, chunk in enumerate(chunks):
        if reader.feed(chunk):
            return index, reader.result()
    return None, reader.result()


# (chunks, stops after chunk #, reasoning)
CASES = [
    pytest.param(
        [ROLE, delta(reasoning="Let me"), delta(reasoning=" think.", content=""), content("Answer"), content("!")],
        3,
        "Let me think.",
        id="openrouter-reasoning",
    ),
    pytest.param(
        [ROLE, delta(reasoning_content="Step 1."), delta(reasoning_content=" Step 2."), content("Done")],
        3,
        "Step 1. Step 2.",
        id="reasoning-content",
    ),
    pytest.param(
        [delta(reasoning="same", reasoning_content="same"), content("x")], 1, "same", id="both-fields-counted-once"
    ),
    pytest.param([content("<think>abc</think>Answer")], 0, "abc", id="think-one-chunk"),
    pytest.param(
        [ROLE, content("<thi"), content("nk>Let"), content(" me"), content("</thi"), content("nk>Answer"), content("x")],
        5,
        "Let me",
        id="think-tags-split",
    ),
    pytest.param(
        [content("<"), content("think>"), content("a"), content("</think>")], 3, "a", id="think-open-tag-one-char"
    ),
    pytest.param([content("\n\n"), content("  <think>"), content("x"), content("</think>")], 3, "x", id="think-after-space"),
    pytest.param([content(" \n<think>\nplan\n</think>\n\nHi")], 0, "plan", id="think-stripped"),
    pytest.param(
        [delta(reasoning="a", content=""), delta(reasoning="b", content=""), content(""), content("\n"), content("c")],
        4,
        "ab",
        id="empty-content-does-not-end-reasoning",
    ),
    pytest.param([ROLE, content("Hello"), content(" there")], 1, "", id="answer-without-reasoning"),
    pytest.param([content("<"), content("b>bold")], 1, "", id="html-answer-is-no-think"),
    pytest.param([content("<thinking>x")], 0, "", id="thinking-tag-is-no-think"),
    pytest.param(
        [delta(reasoning="plan"), call(0, "{}", id="call_1", name="search"), call(0, "more")],
        1,
        "plan",
        id="tool-call-after-reasoning",
    ),
    pytest.param([delta(reasoning="half a thou"), finish("length")], 1, "half a thou", id="finish-ends-reasoning"),
    pytest.param([delta(reasoning="  "), content("Hi")], 1, "", id="blank-reasoning-is-none"),
    pytest.param([ROLE, delta(reasoning="r")], None, "r", id="stream-not-over"),
]


@pytest.mark.parametrize(("chunks", "stop", "reasoning"), CASES)
def test_reasoning(chunks: list[dict[str, Any]], stop: int | None, reasoning: str) -> None:
    stopped, thought = run(chunks)
    assert (stopped, thought.reasoning) == (stop, reasoning)
    assert thought.tool_calls == []


def test_tool_calls_only_are_collected_until_finish() -> None:
    chunks = [
        ROLE,
        call(0, "", id="call_1", name="get_weather"),
        call(0, '{"city":'),
        call(1, "", id="call_2", name="get_time"),
        call(0, ' "Paris"}'),
        call(1, '{"tz": "CET"}'),
        finish("tool_calls"),
        content("never read"),
    ]
    stopped, thought = run(chunks)
    assert stopped == 6
    assert thought.reasoning == ""
    assert thought.tool_calls == [
        tool("call_1", "get_weather", '{"city": "Paris"}'),
        tool("call_2", "get_time", '{"tz": "CET"}'),
    ]


def test_parallel_calls_in_one_delta_sorted_by_index() -> None:
    both = delta(
        tool_calls=[
            {"index": 1, "id": "call_b", "type": "function", "function": {"name": "b", "arguments": "{}"}},
            {"index": 0, "id": "call_a", "type": "function", "function": {"name": "a", "arguments": "{}"}},
        ]
    )
    stopped, thought = run([both, finish("tool_calls")])
    assert stopped == 1
    assert thought.tool_calls == [tool("call_a", "a", "{}"), tool("call_b", "b", "{}")]


def test_tool_calls_after_blank_reasoning_are_the_answer() -> None:
    stopped, thought = run([delta(reasoning=" "), call(0, "{}", id="c1", name="f"), finish("tool_calls")])
    assert stopped == 2
    assert thought.tool_calls == [tool("c1", "f", "{}")]


def test_tool_calls_are_dropped_when_there_is_reasoning() -> None:
    _, thought = run([delta(reasoning="why"), call(0, "{}", id="c1", name="f")])
    assert (thought.reasoning, thought.tool_calls) == ("why", [])


def test_usage_id_and_model_captured() -> None:
    reader = ReasoningReader()
    assert not reader.feed({"id": "gen-7", "model": "r1", "choices": [{"index": 0, "delta": {"reasoning": "x"}}]})
    assert not reader.feed({"id": "gen-other", "model": "other", "choices": [], "usage": USAGE})
    thought = reader.result()
    assert (thought.id, thought.model, thought.usage, thought.reasoning) == ("gen-7", "r1", USAGE, "x")


def test_usage_on_the_finish_chunk() -> None:
    chunk = {**finish("stop"), "usage": USAGE}
    stopped, thought = run([delta(reasoning="r"), chunk])
    assert (stopped, thought.usage) == (1, USAGE)


def test_no_usage_is_none() -> None:
    _, thought = run([delta(reasoning="r"), content("a")])
    assert thought.usage is None


MALFORMED: list[Any] = [
    {},
    {"choices": None},
    {"choices": "x"},
    {"choices": []},
    {"choices": [1]},
    {"choices": [{"delta": "text"}]},
    {"choices": [{"delta": None}]},
    {"choices": [{"delta": {"reasoning": 5, "reasoning_content": None, "content": None, "tool_calls": "x"}}]},
    {"choices": [{"delta": {"tool_calls": [1, "x", {"index": "0", "function": {"name": "f"}}]}}]},
    {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": "f"}]}}]},
    {"usage": "lots", "id": 5, "model": ["m"]},
]


def test_malformed_chunks_are_ignored() -> None:
    reader = ReasoningReader()
    assert [reader.feed(chunk) for chunk in MALFORMED] == [False] * len(MALFORMED)
    assert not reader.feed(delta(reasoning="still"))
    assert not reader.feed(delta(reasoning=" here"))
    assert reader.feed(content("answer"))
    thought = reader.result()
    assert (thought.reasoning, thought.usage, thought.id, thought.model) == (
        "still here",
        None,
        "gen-1",
        "deepseek/deepseek-r1",
    )


def test_malformed_tool_call_parts_only_default_their_fields() -> None:
    reader = ReasoningReader()
    reader.feed({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": "f"}]}}]})
    reader.feed(call(0, "{}", name="f"))
    assert reader.feed(finish("tool_calls"))
    assert reader.result().tool_calls == [tool("", "f", "{}")]


def test_unclosed_think_block_keeps_its_reasoning() -> None:
    stopped, thought = run([content("<think>half a thou"), content("ght"), finish("length")])
    assert (stopped, thought.reasoning) == (2, "half a thought")

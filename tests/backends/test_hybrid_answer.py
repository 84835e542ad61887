"""What a hybrid returns: usage of both phases, the reasoning in the answer (ReasonedAnswer), tool calls."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from src.backends.answer import Answer, BufferedAnswer, HttpAnswer
from src.backends.hybrid_answer import ReasonedAnswer, add_usage, answer_with_reasoning, tool_call_answer
from src.backends.reasoning import Thought
from src.wire.errors import UpstreamStatusError
from src.wire.openai_chat import CHAT
from src.wire.protocol import InBandError
from src.wire.sse import MAX_EVENT
from tests.backends.responses import JSON, FakeResponse

SSE = {"content-type": "text/event-stream"}
PHASE1 = {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42, "cost": 0.0004}
PHASE2 = {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105, "cost": 0.0001}
SUM = {"prompt_tokens": 112, "completion_tokens": 35, "total_tokens": 147, "cost": pytest.approx(0.0005)}
THOUGHT = "The user wants a haiku.\nCount syllables."
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}


def failure(error: Any, payload: bytes, headers: Any) -> UpstreamStatusError:
    return UpstreamStatusError("exec", error.status, error.message)


def upstream_answer(response: FakeResponse) -> HttpAnswer:
    return HttpAnswer(response, CHAT, "exec", failure, MAX_EVENT)


async def payloads(answer: Answer) -> list[Any]:
    """The data of every event of the answer, parsed; `[DONE]` as a string."""
    events = [event async for batch in answer.events() for event in batch]
    return [orjson.loads(e.data) if e.data != b"[DONE]" else "[DONE]" for e in events]


# --- add_usage ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "total"),
    [
        (PHASE2, PHASE1, SUM),
        ({}, {}, {}),
        ({}, PHASE1, PHASE1),
        ({"cost": 0.1}, {"total_tokens": 5}, {"cost": 0.1, "total_tokens": 5}),
        ({"cost": 0.1}, {"cost": 0.2}, {"cost": pytest.approx(0.3)}),
        ({"total_tokens": 3}, {"total_tokens": 0.5}, {"total_tokens": 3.5}),
        (
            {"prompt_tokens_details": {"cached_tokens": 2}, "completion_tokens_details": {"reasoning_tokens": 20}},
            {"prompt_tokens_details": {"cached_tokens": 3, "audio_tokens": 1}},
            {
                "prompt_tokens_details": {"cached_tokens": 5, "audio_tokens": 1},
                "completion_tokens_details": {"reasoning_tokens": 20},
            },
        ),
        (
            {"cost_details": {"upstream": {"inference": 0.25}}},
            {"cost_details": {"upstream": {"inference": 0.5}}},
            {"cost_details": {"upstream": {"inference": 0.75}}},
        ),
        ({"is_byok": False}, {"is_byok": True}, {"is_byok": False}),
        ({"is_byok": True}, {"is_byok": True}, {"is_byok": True}),
        ({"is_byok": True, "total_tokens": 1}, {"total_tokens": True}, {"is_byok": True, "total_tokens": 1}),
        ({"total_tokens": None}, {"total_tokens": 7}, {"total_tokens": 7}),
        ({"total_tokens": 7}, {"total_tokens": None}, {"total_tokens": 7}),
        ({"total_tokens": 7}, {"total_tokens": "8"}, {"total_tokens": 7}),
        ({"details": {"x": 1}}, {"details": 4}, {"details": {"x": 1}}),
        ({"details": None}, {"details": {"x": 1}}, {"details": {"x": 1}}),
    ],
)
def test_add_usage(a: dict[str, Any], b: dict[str, Any], total: dict[str, Any]) -> None:
    before = (orjson.dumps(a), orjson.dumps(b))
    assert add_usage(a, b) == total
    assert (orjson.dumps(a), orjson.dumps(b)) == before  # neither input changed


def test_add_usage_keeps_bool_type() -> None:
    assert add_usage({"is_byok": False}, {"is_byok": False})["is_byok"] is False


# --- tool_call_answer ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("thought", "id", "model", "usage"),
    [
        (Thought(tool_calls=[CALL], usage=PHASE1, id="gen-1", model="r1"), "gen-1", "r1", PHASE1),
        (Thought(tool_calls=[CALL, {**CALL, "id": "call_2"}]), None, "", None),
    ],
)
def test_tool_call_answer(thought: Thought, id: str | None, model: str, usage: dict[str, Any] | None) -> None:
    answer = tool_call_answer(thought, "reasoner")
    assert isinstance(answer, BufferedAnswer)
    assert (answer.status, dict(answer.headers), answer.origin, answer.protocol) == (200, JSON, "reasoner", CHAT)
    assert not answer.is_stream
    completion = orjson.loads(answer.body)
    assert completion["object"] == "chat.completion"
    if id:
        assert completion["id"] == id
    else:
        assert completion["id"].startswith("hybrid-") and completion["id"][7:].isdigit()
    assert completion["model"] == model
    assert isinstance(completion["created"], int) and completion["created"] > 1_600_000_000
    assert completion["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": None, "tool_calls": thought.tool_calls},
            "finish_reason": "tool_calls",
        }
    ]
    assert completion.get("usage") == usage


@pytest.mark.anyio
async def test_tool_call_answer_replays_as_a_stream_of_its_tool_calls() -> None:
    chunks = await payloads(tool_call_answer(Thought(tool_calls=[CALL], usage=PHASE1, id="gen-1"), "reasoner"))
    assert chunks[0]["choices"][0]["delta"]["tool_calls"] == [{**CALL, "index": 0}]
    assert chunks[1]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[2]["usage"] == PHASE1
    assert chunks[-1] == "[DONE]"


# --- ReasonedAnswer: JSON ----------------------------------------------------------------------------------

COMPLETION = {
    "id": "cmpl-2",
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
    "usage": PHASE2,
}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("thought", "reasoning", "usage"),
    [
        (Thought(reasoning=THOUGHT, usage=PHASE1), THOUGHT, SUM),
        (Thought(reasoning=THOUGHT), THOUGHT, PHASE2),
        (Thought(usage=PHASE1), None, SUM),
    ],
)
async def test_reasoned_json_answer(thought: Thought, reasoning: str | None, usage: dict[str, Any]) -> None:
    upstream = FakeResponse([orjson.dumps(COMPLETION)], {**JSON, "x-request-id": "r1"}, status=200)
    answer = answer_with_reasoning(upstream_answer(upstream), thought)
    assert isinstance(answer, ReasonedAnswer)
    assert (answer.status, answer.headers, answer.origin, answer.is_stream) == (
        200,
        {**JSON, "x-request-id": "r1"},
        "exec",
        False,
    )
    completion = orjson.loads(await answer.read())
    assert completion["choices"][0]["message"].get("reasoning") == reasoning
    assert completion["choices"][0]["message"]["content"] == "Hi"
    assert completion["usage"] == usage
    await answer.aclose()
    assert upstream.closed


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("thought", "reasoning", "usage"),
    [
        (Thought(reasoning=THOUGHT, usage=PHASE1), THOUGHT, SUM),
        (Thought(reasoning=THOUGHT), THOUGHT, PHASE2),
        (Thought(usage=PHASE1), None, SUM),
    ],
)
async def test_reasoned_json_answer_replayed_to_a_streaming_request(
    thought: Thought, reasoning: str | None, usage: dict[str, Any]
) -> None:
    answer = answer_with_reasoning(BufferedAnswer(200, JSON, orjson.dumps(COMPLETION), CHAT, "exec"), thought)
    chunks = await payloads(answer)
    assert chunks[0]["choices"][0]["delta"].get("reasoning") == reasoning
    assert chunks[0]["choices"][0]["delta"]["content"] == "Hi"
    assert [c["usage"] for c in chunks[:-1] if "usage" in c] == [usage]
    assert chunks[-1] == "[DONE]"


@pytest.mark.anyio
async def test_reasoned_answer_reports_failures_as_its_inner_answer_does() -> None:
    answer = answer_with_reasoning(upstream_answer(FakeResponse([b"{}"], JSON)), Thought(reasoning=THOUGHT))
    error = answer.failure(InBandError(503, "down"), b"")
    assert (error.backend, error.status, error.message) == ("exec", 503, "exec: down")


@pytest.mark.anyio
async def test_reasoned_json_keeps_the_answers_own_reasoning() -> None:
    own = {**COMPLETION, "choices": [{"index": 0, "message": {"content": "Hi", "reasoning": "mine"}}]}
    answer = answer_with_reasoning(upstream_answer(FakeResponse([orjson.dumps(own)], JSON)), Thought(reasoning=THOUGHT))
    assert orjson.loads(await answer.read())["choices"][0]["message"]["reasoning"] == "mine"


@pytest.mark.anyio
@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"choices":"odd"}'])
async def test_reasoned_json_leaves_odd_bodies(body: bytes) -> None:
    answer = answer_with_reasoning(
        upstream_answer(FakeResponse([body], JSON)), Thought(reasoning=THOUGHT, usage=PHASE1)
    )
    assert await answer.read() == body


def test_nothing_to_add_returns_the_upstream_itself() -> None:
    upstream = upstream_answer(FakeResponse([b"{}"], JSON))
    assert answer_with_reasoning(upstream, Thought()) is upstream
    assert answer_with_reasoning(upstream, Thought(tool_calls=[CALL])) is upstream


# --- ReasonedAnswer: SSE -----------------------------------------------------------------------------------

KEEP_ALIVE = b": OPENROUTER PROCESSING\n\n"
EMPTY_FIRST = b'data: {"id":"c","choices":[]}\n\n'
ROLE = b'data: {"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
HI = b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
STOP = b'data: {"id":"c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n'
USAGE = b"data: " + orjson.dumps({"id": "c", "choices": [], "usage": PHASE2}) + b"\n\n"
DONE = b"data: [DONE]\n\n"
STREAM = [KEEP_ALIVE, EMPTY_FIRST, ROLE, HI, STOP, USAGE, DONE]


def split_oddly(events: list[bytes]) -> list[bytes]:
    whole = b"".join(events)
    return [whole[i : i + 7] for i in range(0, len(whole), 7)]


async def relayed(thought: Thought, chunks: list[bytes]) -> list[bytes]:
    """Each event of the reasoned stream, as the bytes it travels as."""
    answer = answer_with_reasoning(upstream_answer(FakeResponse(chunks, SSE)), thought)
    assert answer.is_stream
    return [event.raw async for batch in answer.events() for event in batch]


def data_of(event: bytes) -> Any:
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    return orjson.loads(event[6:-2])


@pytest.mark.anyio
@pytest.mark.parametrize("chunks", [STREAM, split_oddly(STREAM), [b"".join(STREAM)]])
async def test_reasoned_stream(chunks: list[bytes]) -> None:
    events = await relayed(Thought(reasoning=THOUGHT, usage=PHASE1), chunks)
    assert len(events) == len(STREAM)
    first = data_of(events[2])
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": "", "reasoning": THOUGHT}
    assert data_of(events[5])["usage"] == SUM
    assert [events[i] for i in (0, 1, 3, 4, 6)] == [KEEP_ALIVE, EMPTY_FIRST, HI, STOP, DONE]  # byte-identical


@pytest.mark.anyio
async def test_reasoning_only_on_the_first_delta() -> None:
    events = await relayed(Thought(reasoning=THOUGHT), [ROLE, HI, HI, DONE])
    assert events[1:] == [HI, HI, DONE]
    assert data_of(events[0])["choices"][0]["delta"]["reasoning"] == THOUGHT


@pytest.mark.anyio
async def test_usage_only_thought_leaves_deltas_alone() -> None:
    events = await relayed(Thought(usage=PHASE1), [ROLE, HI, USAGE, DONE])
    assert events[:2] == [ROLE, HI] and events[3] == DONE
    assert data_of(events[2])["usage"] == SUM


@pytest.mark.anyio
async def test_stream_without_usage_chunk_is_unchanged_after_the_first_delta() -> None:
    events = await relayed(Thought(reasoning=THOUGHT, usage=PHASE1), [HI, STOP, DONE])
    assert data_of(events[0])["choices"][0]["delta"] == {"content": "Hi", "reasoning": THOUGHT}
    assert events[1:] == [STOP, DONE]

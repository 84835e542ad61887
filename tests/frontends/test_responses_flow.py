"""How a Responses request reaches each route (src/frontends/responses_flow.py): native or translated
once per model family, previous conversations, compaction requests; and the stream step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from src.backends.base import Call
from src.frontends.responses_flow import COMPACT_PROMPT, CompactionStream, ResponsesOutbound, translated
from src.frontends.responses_state import ResponsesState
from src.routing.plan import Route
from src.translation.reasoning_carrier import Carrier
from src.translation.responses_output import Shape
from src.translation.responses_stream import ResponsesStream
from src.translation.responses_tools import ToolMap
from src.wire.errors import InvalidRequest, NotFound, UpstreamTimeout
from src.wire.sse import Event
from tests.translation.stream_helpers import finish, reasoning, text, tool

CARRIER = Carrier(["proxy-secret-one"])
TOOLS = [{"type": "function", "name": "get_weather"}]


class Stub:
    def __init__(self, native: bool) -> None:
        self.native = native

    def serves_responses(self, model: str) -> bool:
        return self.native


def outbound(body: dict[str, Any], first: Route, compacting: bool = False,
             state: ResponsesState | None = None) -> ResponsesOutbound:
    call = Call(orjson.dumps(body), body, {})
    backends = {"local": Stub(False), "native": Stub(True)}
    return ResponsesOutbound(call, backends, state or ResponsesState(CARRIER), first, compacting)  # type: ignore[arg-type]


def test_a_translated_route_gets_a_chat_request_under_its_own_model() -> None:
    body = {"model": "deepseek/r1", "input": "hi", "tools": TOOLS, "tool_choice": "required"}
    flow = outbound(body, Route("local", "deepseek/r1"))
    translation = flow.translation(Route("local", "deepseek/r1"))
    assert translation.call.body["messages"] == [{"role": "user", "content": "hi"}]
    assert translation.call.body["tool_choice"] == "required"
    assert orjson.loads(translation.call.raw) == translation.call.body
    assert translation.history == [{"role": "user", "content": "hi"}]
    assert not flow.native(Route("local", "deepseek/r1")) and flow.native(Route("native", "x"))


def test_one_translation_per_family() -> None:
    flow = outbound({"model": "deepseek/r1", "input": "hi"}, Route("local", "deepseek/r1"))
    first = flow.translation(Route("local", "deepseek/r1"))
    assert flow.translation(Route("local", "deepseek/v3")) is first
    assert flow.translation(Route("local", "moonshotai/kimi")) is not first


def test_a_malformed_request_fails_before_any_attempt_unless_its_first_route_is_native() -> None:
    body = {"model": "m", "input": 5}
    with pytest.raises(InvalidRequest):
        outbound(body, Route("local", "m"))
    outbound(body, Route("native", "m"))  # the upstream's to judge


def test_a_compaction_request_asks_for_a_summary_without_tools() -> None:
    body = {"model": "m", "input": [{"role": "user", "content": "fix it"}], "tools": TOOLS, "tool_choice": "auto",
            "parallel_tool_calls": True, "text": {"format": {"type": "json_object"}}}  # fmt: skip
    chat = outbound(body, Route("local", "m"), compacting=True).translation(Route("local", "m")).call.body
    assert not {"tools", "tool_choice", "parallel_tool_calls", "response_format"} & chat.keys()
    assert chat["messages"] == [{"role": "user", "content": "fix it"}, {"role": "user", "content": COMPACT_PROMPT}]


def test_a_stored_conversation_is_continued_and_an_unknown_one_is_a_404() -> None:
    state = ResponsesState(CARRIER)
    state.conversations.keep("resp_1", [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    body = {"model": "m", "input": "c", "previous_response_id": "resp_1"}
    chat = outbound(body, Route("local", "m"), state=state).translation(Route("local", "m")).call.body
    assert [m["content"] for m in chat["messages"]] == ["a", "b", "c"]
    with pytest.raises(NotFound) as caught:
        outbound({**body, "previous_response_id": "resp_unknown"}, Route("local", "m"), state=state)
    assert caught.value.status == 404 and caught.value.code == "previous_response_not_found"
    assert caught.value.param == "previous_response_id"


async def batches(*groups: list[object], error: Exception | None = None) -> AsyncIterator[list[Event]]:
    for group in groups:
        yield [Event(b"data: [DONE]\n\n") if item == "[DONE]" else Event.of(item) for item in group]
    if error is not None:
        raise error


def shape() -> Shape:
    return Shape("m", ToolMap(), CARRIER, "m")


async def run(source: AsyncIterator[list[Event]], translator: ResponsesStream) -> tuple[list[dict[str, Any]], list[Any]]:
    done: list[Any] = []
    out = [batch async for batch in translated(source, translator, "local", done.append)]
    return [e.payload for batch in out for e in batch], done  # type: ignore[misc]


def kinds(payloads: list[dict[str, Any]]) -> list[str]:
    return [p["type"] for p in payloads]


@pytest.mark.anyio
async def test_a_whole_stream_is_translated_and_handed_on_when_done() -> None:
    translator = ResponsesStream(shape(), 10**6)
    payloads, done = await run(batches([text("Hi")], [finish(), "[DONE]"]), translator)
    assert kinds(payloads)[-1] == "response.completed" and done == [translator]


@pytest.mark.anyio
@pytest.mark.parametrize("error", [None, UpstreamTimeout("local", "no data for 5 s")])
async def test_a_stream_that_breaks_or_stops_short_ends_with_one_response_failed(error: Exception | None) -> None:
    payloads, _ = await run(batches([text("Hi")], error=error), ResponsesStream(shape(), 10**6))
    assert kinds(payloads).count("response.failed") == 1 and kinds(payloads)[-1] == "response.failed"
    assert payloads[-1]["response"]["error"]["code"] == "server_error"
    assert [p["sequence_number"] for p in payloads] == list(range(len(payloads)))


@pytest.mark.anyio
async def test_a_compaction_stream_is_one_compaction_item_holding_the_summary() -> None:
    translator = CompactionStream(shape(), 10**6)
    source = batches([reasoning("plan"), text("We fixed "), tool(0, "c", "f", "{}")], [text("the bug."), finish(), "[DONE]"])
    payloads, _ = await run(source, translator)
    assert kinds(payloads) == ["response.created", "response.in_progress", "response.output_item.added",
                               "response.output_item.done", "response.completed"]  # fmt: skip
    item = payloads[3]["item"]
    assert item["type"] == "compaction" and item["id"].startswith("cmp_") and payloads[2]["item"] == item
    assert CARRIER.open(item["encrypted_content"], "compaction") == ("m", {"summary": "We fixed the bug."})
    assert payloads[-1]["response"]["output"] == [item]


@pytest.mark.anyio
async def test_a_batch_of_comments_gives_no_batch() -> None:
    async def source() -> AsyncIterator[list[Event]]:
        yield [Event(b": OPENROUTER PROCESSING\n\n")]
        yield [Event.of(text("x")), Event.of(finish()), Event(b"data: [DONE]\n\n")]

    out = [batch async for batch in translated(source(), ResponsesStream(shape(), 10**6), "local", lambda _: None)]
    assert len(out) == 1 and out[0][-1].name == b"response.completed"

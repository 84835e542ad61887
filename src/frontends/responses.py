"""The OpenAI Responses API front-end: `/v1/responses` and `/v1/responses/compact`.

Codex CLI and the OpenAI Agents SDK on any route: requests go through the same routing, limits
and failover as chat completions, translated to chat completions (or forwarded untouched to a
backend set to `responses: native`), and the answers come back as Responses objects and events.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from src.frontends.gateway import Gateway
from src.frontends.incoming import Incoming
from src.frontends.reply import Reply, json_reply
from src.frontends.responses_flow import CompactionStream, ResponsesOutbound, compaction_item, translated
from src.frontends.serving import admit, call_of, dispatch, passed_on, stream_reply
from src.translation.reasoning_carrier import family
from src.translation.responses_output import ECHOED, Shape, chat_to_response
from src.translation.responses_stream import ResponsesStream
from src.wire.errors import InvalidRequest
from src.wire.fields import list_at, object_at, text_at
from src.wire.json_body import without
from src.wire.openai_chat import CHAT, completion_of
from src.wire.responses import RESPONSES, from_chat_usage, new_id


async def create(gateway: Gateway, incoming: Incoming) -> Reply:
    body = incoming.body
    _check(body)
    compacting = any(text_at(item, "type") == "compaction_trigger" for item in list_at(body, "input"))
    return await _serve(gateway, incoming, compacting, compact_endpoint=False)


async def compact(gateway: Gateway, incoming: Incoming) -> Reply:
    """Codex's remote compaction: the conversation summarised on the same route, as a compaction item."""
    _check(incoming.body)
    # The compacted history is one JSON answer, whatever the body asks.
    incoming.raw, incoming.body = without(incoming.raw, incoming.body, ("stream",))
    incoming.metered.stream = False
    return await _serve(gateway, incoming, compacting=True, compact_endpoint=True)


async def _serve(gateway: Gateway, incoming: Incoming, compacting: bool, compact_endpoint: bool) -> Reply:
    body, meter = incoming.body, incoming.metered
    plan = await admit(gateway, incoming)
    outbound = ResponsesOutbound(call_of(gateway, incoming), gateway.backends, gateway.responses,
                                 plan[0], compacting)  # fmt: skip
    served = await dispatch(gateway, incoming, plan, outbound)
    answer, headers = served.answer, served.headers()
    if answer.protocol is RESPONSES:  # served natively: passed on as it came
        return await passed_on(served, meter, RESPONSES, headers)
    translation = outbound.translation(served.route)
    echo = {key: body[key] for key in ECHOED if key in body}
    shape = Shape(body["model"], translation.names, gateway.responses.carrier, family(served.route.answerer.model), echo)
    if meter.stream:
        kind = CompactionStream if compacting else ResponsesStream
        keep = partial(_keep, gateway, body, translation.history)
        step = partial(translated, translator=kind(shape, gateway.max_response), origin=served.route.backend, on_done=keep)
        return stream_reply(served, meter, RESPONSES, headers, step)
    completion = completion_of(await answer.read(), served.route.backend)
    meter.saw_usage(CHAT.usage(completion))
    if compacting:
        return json_reply(_compacted(completion, shape, body, compact_endpoint), headers=headers, after=meter.finish)
    response = chat_to_response(completion, shape)
    if body.get("store") is not False and response["status"] != "failed":
        message = completion["choices"][0].get("message") if completion["choices"] else None
        _remember(gateway, shape.response_id, translation.history, message)
    return json_reply(response, headers=headers, after=meter.finish)


def _check(body: dict[str, Any]) -> None:
    if not isinstance(body.get("model"), str) or not body["model"].strip():
        raise InvalidRequest("model: a non-empty string is required", param="model")
    if body.get("input") is None and body.get("previous_response_id") is None:
        raise InvalidRequest("input: required (a string or an array of input items)", param="input")
    if body.get("background") is True:
        raise InvalidRequest("background: background responses are not supported; stream instead", param="background")


def _keep(gateway: Gateway, body: dict[str, Any], history: list[dict[str, Any]], translator: Any) -> None:
    if body.get("store") is not False and translator.output and not isinstance(translator, CompactionStream):
        _remember(gateway, translator.shape.response_id, history, translator.message)


def _remember(gateway: Gateway, response_id: str, history: list[dict[str, Any]], message: object) -> None:
    """The conversation so far, answer included, for a later request's previous_response_id."""
    if isinstance(message, dict):
        answer = {k: v for k, v in message.items() if k in ("role", "content", "tool_calls", "reasoning_content",
                                                               "reasoning_details", "reasoning")}  # fmt: skip
        gateway.responses.conversations.keep(response_id, [*history, {**answer, "role": "assistant"}])


def _compacted(completion: dict[str, Any], shape: Shape, body: dict[str, Any], compact_endpoint: bool) -> dict[str, Any]:
    choices = completion["choices"]
    summary = text_at(object_at(choices[0] if choices else None, "message"), "content") or ""
    output = [compaction_item(shape, summary)]
    if compact_endpoint:  # the history it replaces keeps what the user said, as OpenAI's does
        users = [i for i in body.get("input") or [] if isinstance(i, dict) and i.get("role") == "user"]
        return {"id": new_id("resp"), "object": "response.compaction", "created_at": shape.created,
                "output": [*users, *output], "usage": from_chat_usage(completion.get("usage"))}  # fmt: skip
    return shape.response("completed", output, usage=from_chat_usage(completion.get("usage")))

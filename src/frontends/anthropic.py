"""The Anthropic Messages front-end: `/v1/messages` and `/v1/messages/count_tokens`.

Requests go through the same routing and failover as chat completions. A route whose backend
serves Messages natively for the model (OpenRouter, `anthropic/*`) gets the request as it came;
every other route gets it translated to chat completions, and its answer translated back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from src.backends.base import Backend
from src.core.disconnect import cancelled_on_disconnect
from src.core.dispatcher import ChatCall
from src.core.envelopes import anthropic_stream_error
from src.core.errors import InvalidRequest, ProxyError, UpstreamProtocolError
from src.core.pipeline import parse_json_object, read_body, reject_loops, rewrite
from src.core.routing import Route
from src.core.runtime import Runtime
from src.core.streaming import ErrorEvent, EventStreamResponse, relay_events
from src.frontends.anthropic_stream import translated_events
from src.transports.base import UpstreamResponse
from src.translation.anthropic_request import messages_to_chat
from src.translation.anthropic_response import chat_to_message
from src.translation.anthropic_stream import StreamTranslator
from src.translation.token_estimate import estimate_input_tokens
from src.translation.tool_names import ToolNames


@dataclass
class MessagesCall:
    """A Messages request, as each route of its plan receives it: native or translated."""

    raw: bytes
    body: dict[str, Any]
    headers: Mapping[str, str]
    backends: Mapping[str, Backend]
    stream: bool
    names: ToolNames = field(init=False)
    chat: ChatCall = field(init=False)

    def __post_init__(self) -> None:
        chat_body, self.names = messages_to_chat(self.body)
        self.chat = ChatCall(orjson.dumps(chat_body), chat_body, self.headers, self.backends, self.stream)

    def is_native(self, route: Route) -> bool:
        backend = self.backends.get(route.backend)
        return route.hybrid is None and backend is not None and backend.serves_messages(route.model)

    async def send(self, route: Route, key: int | None) -> UpstreamResponse:
        if self.is_native(route):
            body = rewrite(self.raw, self.body, {"model": route.model, **route.params})
            return await self.backends[route.backend].messages(body, self.headers, key=key)
        return await self.chat.send(route, key)


async def messages(request: Request) -> Response | EventStreamResponse:
    runtime: Runtime = request.app.state.runtime
    headers = request.headers
    reject_loops(headers)
    runtime.keys.authenticate(headers)
    raw = await read_body(request, runtime.body_limit)
    body = parse_json_object(raw)
    _check(body)
    plan = runtime.router.plan(body["model"])
    stream = body.get("stream") is True
    call = MessagesCall(raw, body, headers, runtime.dispatcher.backends, stream)
    async with cancelled_on_disconnect(request.receive):
        served = await runtime.dispatcher.serve(plan, call, stream)
    upstream, route = served.response, served.route
    response_headers = served.headers()
    if call.is_native(route):
        if stream:
            return _stream(relay_events(upstream, route.backend, _error_event(runtime), runtime.redact),
                           upstream, response_headers, runtime)
        return Response(await upstream.read(), upstream.status, response_headers, "application/json")
    stop_sequences = _stop_sequences(body)
    if stream:
        translator = StreamTranslator(body["model"], call.names, stop_sequences=stop_sequences)
        events = translated_events(upstream, translator, route.backend, runtime.redact)
        return _stream(events, upstream, response_headers, runtime)
    completion = _completion(await upstream.read(), route.backend)
    message = chat_to_message(completion, body["model"], call.names, stop_sequences=stop_sequences)
    return JSONResponse(message, headers=response_headers)


async def count_tokens(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    reject_loops(request.headers)
    runtime.keys.authenticate(request.headers)
    body = parse_json_object(await read_body(request, runtime.body_limit))
    if not isinstance(body.get("messages"), list):
        raise InvalidRequest("messages: a list of messages is required", param="messages")
    return JSONResponse({"input_tokens": estimate_input_tokens(body)})


def _check(body: dict[str, Any]) -> None:
    """The fields every Messages request must have; the rest is the translator's to judge."""
    if not isinstance(body.get("model"), str) or not body["model"].strip():
        raise InvalidRequest("model: a non-empty string is required", param="model")
    if not isinstance(body.get("messages"), list):
        raise InvalidRequest("messages: a list of messages is required", param="messages")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidRequest("max_tokens: a positive integer is required", param="max_tokens")


def _stop_sequences(body: dict[str, Any]) -> tuple[str, ...]:
    stops = body.get("stop_sequences")
    return tuple(s for s in stops if isinstance(s, str)) if isinstance(stops, list) else ()


def _completion(payload: bytes, backend: str) -> dict[str, Any]:
    try:
        completion = orjson.loads(payload)
    except orjson.JSONDecodeError:
        completion = None
    if not isinstance(completion, dict) or not isinstance(completion.get("choices"), list):
        raise UpstreamProtocolError(backend, "answered with something that is not a chat completion")
    return completion


def _error_event(runtime: Runtime) -> ErrorEvent:
    def error_event(error: ProxyError) -> bytes:
        return anthropic_stream_error(error, runtime.redact(error.message))

    return error_event


def _stream(
    events: AsyncIterator[bytes], upstream: UpstreamResponse, headers: dict[str, str], runtime: Runtime
) -> EventStreamResponse:
    return EventStreamResponse(events, upstream.aclose, headers, _error_event(runtime))

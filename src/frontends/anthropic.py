"""The Anthropic Messages front-end: `/v1/messages` and `/v1/messages/count_tokens`.

Requests go through the same routing and failover as chat completions. A route whose backend
serves Messages natively for the model (OpenRouter, `anthropic/*`) gets the request as it came;
every other route gets it translated to chat completions, and its answer translated back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from functools import partial
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from src.backends.base import Backend
from src.core.dispatcher import ChatCall
from src.core.envelopes import anthropic_stream_error
from src.core.errors import InvalidRequest, ProxyError, UpstreamProtocolError
from src.core.pipeline import apply_route, parse_json_object, read_body, reject_loops
from src.core.routing import Route
from src.core.runtime import Runtime
from src.core.streaming import ErrorEvent, EventStreamResponse, is_message_stop, relay_events
from src.frontends.anthropic_stream import translated_events
from src.frontends.intake import serve, take_in
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
    first: Route
    names: ToolNames = field(init=False)
    _chats: dict[bool, ChatCall] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        # Translated now, as the first route needs it, so a malformed request fails before any attempt.
        self._chat(_keeps_cache_control(self.first))

    def _chat(self, keep_cache_control: bool) -> ChatCall:
        """The translation for routes that do (Claude) or do not understand cache_control.
        Tool names are rewritten the same way in both, so `names` serves either answer."""
        if keep_cache_control not in self._chats:
            chat_body, self.names = messages_to_chat(self.body, keep_cache_control=keep_cache_control)
            call = ChatCall(orjson.dumps(chat_body), chat_body, self.headers, self.backends, self.stream)
            self._chats[keep_cache_control] = call
        return self._chats[keep_cache_control]

    def is_native(self, route: Route) -> bool:
        backend = self.backends.get(route.backend)
        return route.hybrid is None and backend is not None and backend.serves_messages(route.model)

    async def send(self, route: Route, key: int | None) -> UpstreamResponse:
        if self.is_native(route):
            return await self.backends[route.backend].messages(apply_route(self.raw, self.body, route), self.headers, key=key)
        return await self._chat(_keeps_cache_control(route)).send(route, key)


def _keeps_cache_control(route: Route) -> bool:
    """Only Claude models understand Anthropic's cache_control marks."""
    return "claude" in (route.hybrid.execution if route.hybrid else route).model.lower()


async def messages(request: Request) -> Response | EventStreamResponse:
    intake = await take_in(request, "anthropic", _check)
    runtime, body, stream = intake.runtime, intake.body, intake.stream
    try:
        call = MessagesCall(intake.raw, body, intake.headers, runtime.dispatcher.backends, stream, intake.plan[0])
    except ProxyError as error:
        intake.meter.failed(error)
        raise
    served = await serve(request, intake, call)
    upstream, route, meter = served.response, served.route, intake.meter
    response_headers = served.headers()
    if call.is_native(route):
        if stream:
            events = relay_events(upstream, route.backend, _error_event(runtime), runtime.redact, is_message_stop)
            return _stream(events, upstream, response_headers, runtime)
        content = await upstream.read()
        return Response(content, upstream.status, response_headers, "application/json", partial(meter.finish, content))
    stop_sequences = _stop_sequences(body)
    if stream:
        translator = StreamTranslator(body["model"], call.names, stop_sequences=stop_sequences)
        events = translated_events(upstream, translator, route.backend, runtime.redact)
        return _stream(events, upstream, response_headers, runtime)
    try:
        completion = _completion(await upstream.read(), route.backend)
    except ProxyError as error:
        meter.failed(error)
        raise
    meter.saw_usage(completion.get("usage"))
    message = chat_to_message(completion, body["model"], call.names, stop_sequences=stop_sequences)
    return JSONResponse(message, headers=response_headers, background=meter.finish)


async def count_tokens(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    reject_loops(request.headers)
    runtime.keys.authenticate(request.headers)
    body = parse_json_object(await read_body(request.receive, request.headers, runtime.body_limit))
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

"""The OpenAI-compatible front-end: `/v1/chat/completions` and `/v1/models`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from functools import partial

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from src.core.completion_stream import completion_as_events
from src.core.envelopes import openai_stream_error
from src.core.errors import NotFound, ProxyError, UpstreamError, UpstreamProtocolError
from src.core.pipeline import reject_loops
from src.core.routing import Route
from src.core.runtime import Runtime
from src.core.streaming import ErrorEvent, EventStreamResponse, relay_events
from src.frontends.intake import serve, take_in
from src.transports.base import UpstreamResponse

# Upstream response headers a client may want; the rest (hop-by-hop, cookies, lengths) stay behind.
FORWARDED_HEADERS = ("x-generation-id", "x-request-id")


async def chat_completions(request: Request) -> Response | EventStreamResponse:
    intake = await take_in(request, "openai")
    runtime, stream = intake.runtime, intake.stream
    call = runtime.dispatcher.chat(intake.raw, intake.body, intake.headers, stream)
    served = await serve(request, intake, call)
    upstream = served.response
    response_headers = {**_forwarded(upstream.headers), **served.headers()}
    if not stream:
        content = await upstream.read()
        media_type = upstream.headers.get("content-type", "application/json")
        return Response(content, upstream.status, response_headers, media_type, partial(intake.meter.finish, content))
    return _event_stream(upstream, served.route, runtime, response_headers)


def _event_stream(
    upstream: UpstreamResponse, route: Route, runtime: Runtime, headers: dict[str, str]
) -> EventStreamResponse:
    def error_event(error: ProxyError) -> bytes:
        return openai_stream_error(error, runtime.redact(error.message))

    name = route.backend
    if upstream.headers.get("content-type", "").startswith("text/event-stream"):
        events = relay_events(upstream, name, error_event, runtime.redact)
    else:
        events = _replayed(upstream, name, error_event)
    return EventStreamResponse(events, upstream.aclose, headers, error_event)


async def _replayed(upstream: UpstreamResponse, backend: str, error_event: ErrorEvent) -> AsyncIterator[bytes]:
    """The stream of an upstream that answered a streaming request with one JSON body."""
    try:
        completion = orjson.loads(await upstream.read())
    except orjson.JSONDecodeError:
        completion = None
    except UpstreamError as exc:
        yield error_event(exc)
        return
    problem = "answered a streaming request with neither a stream nor a chat completion"
    yield completion_as_events(completion) or error_event(UpstreamProtocolError(backend, problem))


async def list_models(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    reject_loops(request.headers)
    runtime.keys.authenticate(request.headers)
    return JSONResponse({"object": "list", "data": await runtime.catalog.models()})


async def retrieve_model(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    reject_loops(request.headers)
    runtime.keys.authenticate(request.headers)
    model_id = request.path_params["model_id"]
    for model in await runtime.catalog.models():
        if model["id"] == model_id:
            return JSONResponse(model)
    raise NotFound(f"model {model_id!r} is not in any backend's model list", param="model", code="model_not_found")


def _forwarded(headers: Mapping[str, str]) -> dict[str, str]:
    # Only plain ASCII values: anything else cannot be re-sent as a header and is not worth a failure.
    return {name: value for name in FORWARDED_HEADERS if (value := headers.get(name)) and value.isascii()}

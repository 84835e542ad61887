"""The OpenAI-compatible front-end: `/v1/chat/completions` and `/v1/models`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from src.backends.base import Backend
from src.core.completion_stream import completion_as_events
from src.core.disconnect import cancelled_on_disconnect
from src.core.envelopes import openai_stream_error
from src.core.errors import NotFound, ProxyError, UpstreamError, UpstreamProtocolError
from src.core.pipeline import apply_route, parse_json_object, read_body
from src.core.runtime import Runtime
from src.core.streaming import ErrorEvent, EventStreamResponse, relay_events
from src.transports.base import UpstreamResponse

# Upstream response headers a client may want; the rest (hop-by-hop, cookies, lengths) stay behind.
FORWARDED_HEADERS = ("x-generation-id", "x-request-id")


async def chat_completions(request: Request) -> Response | EventStreamResponse:
    runtime: Runtime = request.app.state.runtime
    headers = request.headers
    runtime.keys.authenticate(headers)
    raw = await read_body(request, runtime.body_limit)
    body = parse_json_object(raw)
    route = runtime.router.resolve(body.get("model"))
    backend = runtime.backends[route.backend]
    stream = body.get("stream") is True
    async with cancelled_on_disconnect(request.receive):
        upstream = await backend.chat(apply_route(raw, body, route), headers)
        try:
            if not stream:
                content = await upstream.read()
                media_type = upstream.headers.get("content-type", "application/json")
                return Response(content, upstream.status, _forwarded(upstream.headers), media_type)
            return _event_stream(upstream, backend, runtime)
        except BaseException:
            await upstream.aclose()
            raise


def _event_stream(upstream: UpstreamResponse, backend: Backend, runtime: Runtime) -> EventStreamResponse:
    def error_event(error: ProxyError) -> bytes:
        return openai_stream_error(error, runtime.redact(error.message))

    if upstream.headers.get("content-type", "").startswith("text/event-stream"):
        events = relay_events(upstream, backend.name, error_event, backend.redact)
    else:
        events = _replayed(upstream, backend.name, error_event)
    return EventStreamResponse(events, upstream.aclose, _forwarded(upstream.headers), error_event)


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
    runtime.keys.authenticate(request.headers)
    return JSONResponse({"object": "list", "data": await runtime.catalog.models()})


async def retrieve_model(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    runtime.keys.authenticate(request.headers)
    model_id = request.path_params["model_id"]
    for model in await runtime.catalog.models():
        if model["id"] == model_id:
            return JSONResponse(model)
    raise NotFound(f"model {model_id!r} is not in any backend's model list", param="model", code="model_not_found")


def _forwarded(headers: Mapping[str, str]) -> dict[str, str]:
    # Only plain ASCII values: anything else cannot be re-sent as a header and is not worth a failure.
    return {name: value for name in FORWARDED_HEADERS if (value := headers.get(name)) and value.isascii()}

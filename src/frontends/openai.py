"""The OpenAI-compatible front-end: `/v1/chat/completions` and `/v1/models`."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from src.core.envelopes import openai_stream_error
from src.core.errors import NotFound, ProxyError
from src.core.pipeline import apply_route, parse_json_object
from src.core.runtime import Runtime
from src.core.streaming import EventStreamResponse, relay_events

# Upstream response headers a client may want; the rest (hop-by-hop, cookies, lengths) stay behind.
FORWARDED_HEADERS = ("x-generation-id", "x-request-id")


async def chat_completions(request: Request) -> Response | EventStreamResponse:
    runtime: Runtime = request.app.state.runtime
    headers = request.headers
    runtime.keys.authenticate(headers)
    body = parse_json_object(await request.body())
    route = runtime.router.resolve(body.get("model"))
    backend = runtime.backends[route.backend]
    upstream = await backend.chat(apply_route(body, route), headers)
    forwarded = _forwarded(upstream.headers)
    if body.get("stream") is True and upstream.headers.get("content-type", "").startswith("text/event-stream"):

        def error_event(error: ProxyError) -> bytes:
            return openai_stream_error(error, runtime.redact(error.message))

        return EventStreamResponse(relay_events(upstream, backend.name, error_event), upstream.aclose, forwarded)
    content = await upstream.read()
    media_type = upstream.headers.get("content-type", "application/json")
    return Response(content, status_code=upstream.status, headers=forwarded, media_type=media_type)


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
    return {name: value for name in FORWARDED_HEADERS if (value := headers.get(name)) is not None}

"""The ASGI app: routes, the lifespan that owns the upstream connection pool, and error mapping.

A bare ASGI callable rather than a Starlette app: Starlette's router and its two exception
middlewares cost about a tenth of the proxy's CPU per request, for a table of eight routes
and one error mapping. Requests and responses are still Starlette's.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.datastructures import State
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from src.core.config import Config
from src.core.disconnect import ClientDisconnected
from src.core.envelopes import anthropic_error, openai_error
from src.core.errors import InternalError, MethodNotAllowed, NotFound, ProxyError
from src.core.runtime import Runtime
from src.frontends import admin, anthropic, openai
from src.transports.base import Transport
from src.transports.http1 import Http1Transport

log = logging.getLogger("switchyard")
ANTHROPIC_PATHS = "/v1/messages"  # errors here are in Anthropic's envelope; everywhere else in OpenAI's
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    path: str  # exact, or a prefix when it ends in "/" (the rest is the `tail` path parameter)
    method: str
    endpoint: Endpoint
    tail: str | None = None


async def health(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    return JSONResponse(runtime.health())


ROUTES = (
    Route("/v1/chat/completions", "POST", openai.chat_completions),
    Route("/v1/messages", "POST", anthropic.messages),
    Route("/v1/messages/count_tokens", "POST", anthropic.count_tokens),
    Route("/v1/models", "GET", openai.list_models),
    Route("/v1/models/", "GET", openai.retrieve_model, tail="model_id"),
    Route("/v1/usage", "GET", admin.usage),
    Route("/metrics", "GET", admin.metrics),
    Route("/health", "GET", health),
)
_EXACT = {route.path: route for route in ROUTES if route.tail is None}
_PREFIXED = tuple(route for route in ROUTES if route.tail is not None)


class App:
    def __init__(self, config: Config, transport_factory: Callable[[], Transport]) -> None:
        self.config = config
        self.state = State()  # `runtime` once started: request.app.state.runtime
        self.routes = ROUTES
        self._transport_factory = transport_factory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["app"] = self
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket":
            await receive()  # websocket.connect; a close before accepting is refused with a 403
            await send({"type": "websocket.close", "code": 1008})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await route_for(scope)(request)
        except ProxyError as error:
            response = render_error(request, error)
        except (ClientDisconnected, ClientDisconnect):
            # Nobody will read this answer; the status only names the case in server logs (nginx's 499).
            log.debug("client disconnected: %s %s", scope["method"], scope["path"])
            response = Response(status_code=499)
        except Exception:
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            response = render_error(request, InternalError())
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        transport = self._transport_factory()
        try:
            self.state.runtime = runtime = Runtime.build(self.config, transport)
            await runtime.accounting.store.start()
        except BaseException:
            await transport.aclose()
            await send({"type": "lifespan.startup.failed", "message": traceback.format_exc()})
            raise
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        try:
            try:
                await runtime.accounting.store.close()  # every usage record is written before exit
            finally:
                await transport.aclose()
        except BaseException:
            await send({"type": "lifespan.shutdown.failed", "message": traceback.format_exc()})
            raise
        await send({"type": "lifespan.shutdown.complete"})


def create_app(config: Config, transport_factory: Callable[[], Transport] = Http1Transport) -> App:
    return App(config, transport_factory)


def route_for(scope: Scope) -> Endpoint:
    """The endpoint for the request's method and path; raises NotFound or MethodNotAllowed."""
    path, method = scope["path"], scope["method"]
    route = _EXACT.get(path) or next((r for r in _PREFIXED if path.startswith(r.path) and path != r.path), None)
    if route is None:
        raise NotFound(f"no such endpoint: {path}")
    if method != route.method and not (method == "HEAD" and route.method == "GET"):
        allowed = "GET, HEAD" if route.method == "GET" else route.method
        raise MethodNotAllowed(f"{method} is not allowed on {path}", headers={"allow": allowed})
    if route.tail is not None:
        scope["path_params"] = {route.tail: path[len(route.path):]}
    return route.endpoint


def render_error(request: Request, error: ProxyError) -> Response:
    """The one place a ProxyError becomes an HTTP response."""
    runtime: Runtime = request.app.state.runtime
    message = runtime.redact(error.message)
    path = request.scope["path"]
    log.log(logging.WARNING if error.status >= 500 else logging.INFO, "%s %s -> %d: %s",
            request.scope["method"], path, error.status, message)
    envelope = anthropic_error if path.startswith(ANTHROPIC_PATHS) else openai_error
    return Response(envelope(error, message), status_code=error.status, headers=error.headers,
                    media_type="application/json")

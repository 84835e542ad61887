"""The ASGI app: routes, the lifespan that owns the upstream connection pool, and error mapping."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from src.core.config import Config
from src.core.disconnect import ClientDisconnected
from src.core.envelopes import anthropic_error, openai_error
from src.core.errors import InternalError, MethodNotAllowed, NotFound, ProxyError
from src.core.runtime import Runtime
from src.frontends import admin, anthropic, openai
from src.transports.aiohttp import AiohttpTransport
from src.transports.base import Transport

log = logging.getLogger("switchyard")
ANTHROPIC_PATHS = "/v1/messages"  # errors here are in Anthropic's envelope; everywhere else in OpenAI's


def create_app(config: Config, transport_factory: Callable[[], Transport] = AiohttpTransport) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        transport = transport_factory()
        app.state.runtime = runtime = Runtime.build(config, transport)
        await runtime.accounting.store.start()
        try:
            yield
        finally:
            await runtime.accounting.store.close()  # every usage record is written before exit
            await transport.aclose()

    # Plain Starlette: FastAPI's extra middleware (exit stacks, body limits, telemetry) and its
    # dependency machinery cost time on every request, and the proxy uses none of them.
    app = Starlette(lifespan=lifespan)
    app.router.redirect_slashes = False  # a redirect would be built from the client's Host header
    app.add_route("/v1/chat/completions", openai.chat_completions, methods=["POST"])
    app.add_route("/v1/messages", anthropic.messages, methods=["POST"])
    app.add_route("/v1/messages/count_tokens", anthropic.count_tokens, methods=["POST"])
    app.add_route("/v1/models", openai.list_models, methods=["GET"])
    app.add_route("/v1/models/{model_id:path}", openai.retrieve_model, methods=["GET"])
    app.add_route("/v1/usage", admin.usage, methods=["GET"])
    app.add_route("/metrics", admin.metrics, methods=["GET"])
    app.add_route("/health", health, methods=["GET"])
    app.add_exception_handler(ProxyError, render_error)
    app.add_exception_handler(HTTPException, render_http_exception)
    app.add_exception_handler(ClientDisconnected, client_gone)
    app.add_exception_handler(ClientDisconnect, client_gone)
    app.add_exception_handler(Exception, render_unexpected)
    return app


async def health(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    return JSONResponse(runtime.health())


async def render_error(request: Request, error: Exception) -> Response:
    """The one place a ProxyError becomes an HTTP response."""
    assert isinstance(error, ProxyError)
    runtime: Runtime = request.app.state.runtime
    message = runtime.redact(error.message)
    log.log(logging.WARNING if error.status >= 500 else logging.INFO, "%s %s -> %d: %s",
            request.method, request.url.path, error.status, message)
    envelope = anthropic_error if request.url.path.startswith(ANTHROPIC_PATHS) else openai_error
    return Response(envelope(error, message), status_code=error.status, headers=error.headers,
                    media_type="application/json")


async def client_gone(request: Request, exc: Exception) -> Response:
    """Nobody will read this answer; the status only names the case in server logs (nginx's 499)."""
    log.debug("client disconnected: %s %s", request.method, request.url.path)
    return Response(status_code=499)


async def render_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return await render_error(request, MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}"))
    if exc.status_code == 404:
        return await render_error(request, NotFound(f"no such endpoint: {request.url.path}"))
    return await render_error(request, ProxyError(str(exc.detail), status=exc.status_code))


async def render_unexpected(request: Request, exc: Exception) -> Response:
    # Starlette re-raises the exception after this response, and the server logs its traceback.
    return await render_error(request, InternalError())

"""The ASGI app: the route table, the lifespan that owns the upstream connection pool, the steps
every request takes before its endpoint (loop guard, proxy key, body), and error mapping.

A bare ASGI callable rather than a Starlette app: Starlette's router and its two exception
middlewares cost about a tenth of the proxy's CPU per request, for a table of eight routes
and one error mapping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from src.backends.identity import HOP_HEADER
from src.config import Config
from src.core import admin
from src.core.asgi import Receive, Scope, Send
from src.core.body import read_body
from src.core.byok import fingerprint, take_own_key
from src.core.delivery import SHUTTING_DOWN, deliver
from src.core.disconnect import ClientDisconnected, Watchers, cancelled_on_disconnect
from src.core.runtime import Runtime
from src.frontends import anthropic_messages, models, openai_chat, responses
from src.frontends.gateway import Gateway
from src.frontends.incoming import Incoming
from src.frontends.reply import BodyReply, Reply
from src.transports.base import Transport
from src.transports.http1 import Http1Transport
from src.usage.meter import CLIENT_LEFT, Meter
from src.wire.anthropic import MESSAGES
from src.wire.errors import InternalError, LoopDetected, MethodNotAllowed, NotFound, ProxyError
from src.wire.json_body import parse_json_object
from src.wire.openai_chat import CHAT
from src.wire.protocol import WireProtocol
from src.wire.responses import RESPONSES

log = logging.getLogger("switchyard")
access = logging.getLogger("switchyard.access")
SETTLE_WAIT = 5.0  # seconds
Serve = Callable[[Runtime, Incoming], Awaitable[Reply]]


@dataclass(frozen=True)
class Endpoint:
    path: str  # exact, or a prefix when `prefix` (the rest is the request's `tail`)
    method: str
    serve: Serve
    protocol: WireProtocol = CHAT  # the envelope its errors are written in
    body: bool = False  # takes a JSON body, read and parsed before `serve`
    metered: bool = False  # a proxied request: recorded, budgeted, and its failures too
    auth: bool = True  # needs a proxy key (/metrics decides for itself)
    prefix: bool = False


def front(serve: Callable[[Gateway, Incoming], Awaitable[Reply]]) -> Serve:
    """A front-end's endpoint, which sees only the gateway."""

    def endpoint(runtime: Runtime, incoming: Incoming) -> Awaitable[Reply]:
        return serve(runtime.gateway, incoming)  # its coroutine: no second one per request to pass it on

    return endpoint


ENDPOINTS = (
    Endpoint("/v1/chat/completions", "POST", front(openai_chat.completions), body=True, metered=True),
    Endpoint("/v1/messages", "POST", front(anthropic_messages.messages), MESSAGES, body=True, metered=True),
    Endpoint("/v1/messages/count_tokens", "POST", front(anthropic_messages.count_tokens), MESSAGES, body=True),
    Endpoint("/v1/responses", "POST", front(responses.create), RESPONSES, body=True, metered=True),
    Endpoint("/v1/responses/compact", "POST", front(responses.compact), RESPONSES, body=True, metered=True),
    Endpoint("/v1/models", "GET", front(models.list_models)),
    Endpoint("/v1/models/", "GET", front(models.retrieve_model), prefix=True),
    Endpoint("/v1/usage", "GET", admin.usage),
    Endpoint("/metrics", "GET", admin.metrics, auth=False),
    Endpoint("/health", "GET", admin.health, auth=False),
)
_EXACT = {endpoint.path: endpoint for endpoint in ENDPOINTS if not endpoint.prefix}
_PREFIXED = tuple(endpoint for endpoint in ENDPOINTS if endpoint.prefix)


class App:
    def __init__(self, config: Config, transport_factory: Callable[[], Transport], metrics_dir: Path | None) -> None:
        self.config = config
        self.runtime: Runtime | None = None  # once started
        self._transport_factory = transport_factory
        self._metrics_dir = metrics_dir
        self._active = 0  # requests under way: those cut at shutdown still record their usage
        self._watchers = Watchers()  # of the requests that may see their client leave

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self._active += 1
            try:
                await self._http(scope, receive, send)
            finally:
                self._active -= 1
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket":
            await receive()  # websocket.connect; a close before accepting is refused with a 403
            await send({"type": "websocket.close", "code": 1008})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime = self.runtime
        assert runtime is not None, "the lifespan starts the runtime before any request"
        started = time.monotonic()
        meter: Meter | None = None
        key_name, redact = "-", runtime.redact
        protocol: WireProtocol = MESSAGES if scope["path"].startswith("/v1/messages") else CHAT
        try:
            endpoint, tail = endpoint_for(scope)
            protocol = endpoint.protocol
            incoming = take_in(runtime, scope, endpoint, tail)
            meter, key_name = incoming.meter, incoming.key_name or "-"
            if endpoint.body:
                incoming.raw = await read_body(receive, incoming.headers, runtime.body_limit)
                incoming.body = parse_json_object(incoming.raw)
                if meter is not None:
                    meter.asked_for(incoming.body)
                    incoming.upstream_key = own = take_own_key(incoming, runtime.accounting)
                    if own is not None:
                        redact, meter.upstream_key = redact.with_secrets((own,)), fingerprint(own)
            with cancelled_on_disconnect(receive, self._watchers) if endpoint.body else contextlib.nullcontext():
                reply = await endpoint.serve(runtime, incoming)
        except ProxyError as error:
            reply = error_reply(scope, protocol, error.amended(redact(error.message)), meter)
        except ClientDisconnected:
            # Nobody will read an answer; the status only names the case in the record (nginx's 499).
            log.debug("client disconnected: %s %s", scope["method"], scope["path"])
            if meter is not None:
                meter.failed(ProxyError("the client left", status=CLIENT_LEFT))
            _accessed(scope, CLIENT_LEFT, {}, started, key_name)
            return
        except Exception:
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            reply = error_reply(scope, protocol, InternalError(), meter)
        except asyncio.CancelledError:
            # A client that left is ClientDisconnected above: this is uvicorn ending what still runs
            # once shutdown_grace is over. The client is still there and gets an answer, not a cut;
            # not re-raised, as uvicorn would log it as the app's crash.
            reply = error_reply(scope, protocol, SHUTTING_DOWN, meter)
        await deliver(reply, receive, send, redact, self._watchers)
        _accessed(scope, reply.status if isinstance(reply, BodyReply) else 200, reply.headers, started, key_name)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        transport = self._transport_factory()
        try:
            self.runtime = runtime = Runtime.build(self.config, transport, self._metrics_dir)
            await runtime.accounting.start()
            if runtime.sharing is not None:
                await runtime.sharing.syncer.once()  # leases before the first request
        except BaseException:
            await transport.aclose()
            await send({"type": "lifespan.startup.failed", "message": traceback.format_exc()})
            raise
        background = [asyncio.ensure_future(task) for task in _background(runtime)]
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await self._settled()
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if runtime.sharing is not None:
            await runtime.sharing.store.close()
        try:
            try:
                await runtime.accounting.store.close()  # every usage record is written before exit
            finally:
                await transport.aclose()
        except BaseException:
            await send({"type": "lifespan.shutdown.failed", "message": traceback.format_exc()})
            raise
        await send({"type": "lifespan.shutdown.complete"})


    async def _settled(self) -> None:
        """Waits (a little) for the requests uvicorn cancelled past shutdown_grace to record their usage."""
        deadline = time.monotonic() + SETTLE_WAIT
        while self._active and time.monotonic() < deadline:
            await asyncio.sleep(0.02)


def _background(runtime: Runtime) -> list[Coroutine[Any, Any, None]]:
    tasks = [runtime.shared_metrics.run()] if runtime.shared_metrics else []
    if runtime.sharing is not None:
        tasks += [runtime.sharing.syncer.run(), runtime.sharing.relay.run()]
    return tasks


def create_app(
    config: Config, transport_factory: Callable[[], Transport] = Http1Transport, metrics_dir: Path | None = None
) -> App:
    """`metrics_dir`: the folder the workers of `--workers N` share their metrics through."""
    return App(config, transport_factory, metrics_dir)


def endpoint_for(scope: Scope) -> tuple[Endpoint, str]:
    """The endpoint for the request's method and path, and the path's tail; raises NotFound or MethodNotAllowed."""
    path, method = scope["path"], scope["method"]
    endpoint = _EXACT.get(path) or next((e for e in _PREFIXED if path.startswith(e.path) and path != e.path), None)
    if endpoint is None:
        raise NotFound(f"no such endpoint: {path}")
    if method != endpoint.method and not (method == "HEAD" and endpoint.method == "GET"):
        allowed = "GET, HEAD" if endpoint.method == "GET" else endpoint.method
        raise MethodNotAllowed(f"{method} is not allowed on {path}", headers={"allow": allowed})
    return endpoint, path[len(endpoint.path) :] if endpoint.prefix else ""


def take_in(runtime: Runtime, scope: Scope, endpoint: Endpoint, tail: str) -> Incoming:
    """The request as an endpoint receives it: not from a proxy, with a valid key, metered if proxied."""
    # Header names arrive lower-case; a dict, since each is looked up often.
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    if HOP_HEADER in headers:
        raise LoopDetected(
            "this request came from a Switchyard proxy (x-switchyard-hop): a backend's base_url points back at a proxy"
        )
    key_name = runtime.keys.authenticate(headers) if endpoint.auth else ""
    query = dict(parse_qsl(scope["query_string"].decode("latin-1"))) if scope.get("query_string") else {}
    incoming = Incoming(headers, key_name, tail, query)
    if endpoint.metered:
        incoming.meter = Meter(runtime.accounting, key_name, headers.get("user-agent"), endpoint.protocol.name)
    return incoming


def error_reply(scope: Scope, protocol: WireProtocol, error: ProxyError, meter: Meter | None) -> BodyReply:
    """The one place a ProxyError becomes an HTTP response, and a proxied request's failure a record."""
    if meter is not None:
        meter.failed(error)
    level = logging.WARNING if error.status >= 500 else logging.INFO
    log.log(level, "%s %s -> %d: %s", scope["method"], scope["path"], error.status, error.message)
    return BodyReply(error.status, protocol.error_body(error, error.message), dict(error.headers))



def _accessed(scope: Scope, status: int, headers: dict[str, str], started: float, key_name: str) -> None:
    """One line per request, once it is answered (a stream, once it ended): never a body or a key."""
    if access.isEnabledFor(logging.INFO):
        route, attempts = headers.get("x-switchyard-route", "-"), headers.get("x-switchyard-attempts", "-")
        access.info("%s %s %d route=%s attempts=%s %.1fms key=%s", scope["method"], scope["path"], status, route,
                    attempts, (time.monotonic() - started) * 1000, key_name)  # fmt: skip

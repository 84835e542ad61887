"""The steps every proxied request takes, whatever its protocol: guard, authenticate, read,
route, admit, then serve through failover, with its usage metered from the first step on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from src.core.disconnect import ClientDisconnected, cancelled_on_disconnect
from src.core.dispatcher import Outbound, Served
from src.core.errors import ProxyError, UpstreamStatusError
from src.core.meter import CLIENT_LEFT, Meter, MeteredStream
from src.core.pipeline import parse_json_object, read_body, reject_loops
from src.core.routing import Route
from src.core.runtime import Runtime
from src.core.suggestions import add_suggestions


@dataclass
class Intake:
    runtime: Runtime
    headers: dict[str, str]  # the client's, lower-case names: a dict, since each is looked up often
    raw: bytes
    body: dict[str, Any]
    plan: tuple[Route, ...]
    meter: Meter

    @property
    def stream(self) -> bool:
        return self.meter.stream


async def take_in(request: Request, frontend: str, check: Callable[[dict[str, Any]], None] | None = None) -> Intake:
    runtime: Runtime = request.app.state.runtime
    headers = dict(request.headers.items())  # Starlette's Headers scan their whole list on every get()
    reject_loops(headers)
    key_name = runtime.keys.authenticate(headers)
    meter = Meter(runtime.accounting, key_name, headers.get("user-agent"), frontend, "", False)
    try:
        raw = await read_body(request.receive, headers, runtime.body_limit)
        body = parse_json_object(raw)
        meter.requested_model = str(body.get("model", ""))[:200]
        meter.stream = body.get("stream") is True
        if check is not None:
            check(body)
        plan = runtime.accounting.allowed_routes(key_name, runtime.router.plan(body.get("model")))
        meter.reservation = runtime.accounting.admit(key_name)
    except ProxyError as error:
        meter.failed(error)
        raise
    return Intake(runtime, headers, raw, body, plan, meter)


async def serve(request: Request, intake: Intake, outbound: Outbound) -> Served:
    """The answer of the first route that can serve; a failure is recorded before it is raised."""
    meter = intake.meter
    try:
        async with cancelled_on_disconnect(request.receive):
            served = await intake.runtime.dispatcher.serve(intake.plan, outbound, intake.stream)
    except UpstreamStatusError as error:
        await add_suggestions(error, intake.runtime.catalog)
        meter.failed(error)
        raise
    except ProxyError as error:
        meter.failed(error)
        raise
    except ClientDisconnected:
        meter.failed(ProxyError("client left", status=CLIENT_LEFT))
        raise
    meter.served(served)
    if intake.stream:
        served.response = MeteredStream(served.response, meter)
    return served

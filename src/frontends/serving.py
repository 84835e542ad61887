"""The steps every proxied request takes after `src.core` took it in, whatever its protocol:
plan and admit it, dispatch it through failover, and build the reply's event pipeline."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from functools import partial

from src.backends.answer import Answer
from src.backends.base import Backend, Call
from src.backends.catalog import ModelCatalog
from src.failover.dispatcher import Failed, Outbound, Served
from src.frontends.gateway import Gateway
from src.frontends.incoming import Incoming
from src.frontends.relay import relay
from src.frontends.reply import BodyReply, Reply, StreamReply
from src.routing.plan import Route
from src.routing.suggestions import did_you_mean, is_unknown_model
from src.usage.meter import Meter
from src.wire.errors import InvalidRequest, ProxyError, UpstreamStatusError
from src.wire.protocol import WireProtocol
from src.wire.sse import Event

Step = Callable[[AsyncIterator[list[Event]]], AsyncIterator[list[Event]]]


def call_of(gateway: Gateway, incoming: Incoming) -> Call:
    fallback = bool(incoming.upstream_key) and gateway.accounting.byok_fallback(incoming.key_name)
    return Call(incoming.raw, incoming.body, incoming.headers, incoming.upstream_key, fallback)


async def admit(gateway: Gateway, incoming: Incoming) -> tuple[Route, ...]:
    """The routes the request may take; its key's budget and rate are checked and a place reserved."""
    plan = gateway.router.plan(incoming.body.get("model"))
    plan = gateway.accounting.allowed_routes(incoming.key_name, plan)
    if incoming.upstream_key and not gateway.accounting.byok_fallback(incoming.key_name):
        plan = own_key_routes(plan, gateway.backends)
    reservation = await gateway.accounting.admit(incoming.key_name, plan[0], len(incoming.raw), incoming.body)
    incoming.metered.reservation = reservation
    return plan


def own_key_routes(plan: tuple[Route, ...], backends: Mapping[str, Backend]) -> tuple[Route, ...]:
    """The routes a client's own upstream key can serve: nothing may fall back to the proxy's keys."""
    def takes(route: Route) -> bool:
        return all(backends[leg.backend].takes_client_keys for leg in route.legs or (route,))

    kept = tuple(route for route in plan if takes(route))
    if not kept:
        raise InvalidRequest(
            f"{plan[0]}: none of this model's routes takes your own upstream key (an OpenRouter backend does); "
            "the proxy's own keys need byok_fallback on your proxy key", param="model", code="byok_route",
        )  # fmt: skip
    return kept


async def dispatch(gateway: Gateway, incoming: Incoming, plan: tuple[Route, ...], outbound: Outbound) -> Served:
    """The answer of the first route that can serve; raises the failure the client gets."""
    meter = incoming.metered
    outcome = await gateway.dispatcher.serve(plan, outbound, meter.stream)
    meter.tried(outcome.route, outcome.attempts)
    if isinstance(outcome, Failed):
        raise await with_suggestions(outcome.error, outcome.route, gateway.catalog)
    return outcome


def stream_reply(served: Served, meter: Meter, client: WireProtocol, headers: dict[str, str], step: Step | None = None) -> StreamReply:
    """The one event pipeline of a stream: metered as the upstream sent it, translated by `step`
    if the client speaks another protocol, then relayed so that a failure never looks like an end."""
    answer = served.answer
    events = meter.observe(answer.events(), answer.protocol)
    if step is not None:
        events = step(events)
    return StreamReply(relay(events, client, served.route.backend), partial(_closed, answer, meter), client, headers)


async def passed_on(served: Served, meter: Meter, protocol: WireProtocol, headers: dict[str, str]) -> Reply:
    """An answer already in the client's protocol, as the upstream sent it: streamed through the
    pipeline, or whole (its usage read once it is out)."""
    if meter.stream:
        return stream_reply(served, meter, protocol, headers)
    answer = served.answer
    body = await answer.read()
    media_type = answer.headers.get("content-type", "application/json")
    return BodyReply(answer.status, body, headers, media_type, partial(meter.finish, body, protocol))


async def _closed(answer: Answer, meter: Meter, failure: ProxyError | None) -> None:
    if failure is not None:
        meter.status = failure.status  # the proxy ended it: not a client that left (499)
    try:
        await answer.aclose()
    finally:
        await meter.finish()


async def with_suggestions(error: ProxyError, route: Route, catalog: ModelCatalog) -> ProxyError:
    """A backend's "no such model", with the closest ids of its catalog added; its status kept."""
    if not isinstance(error, UpstreamStatusError) or not is_unknown_model(error.status, error.code, error.message):
        return error
    if not catalog.lists(route.backend):
        return error
    # The catalog's ids are what a client sends back: `backend:id` on all but the default backend.
    ids = [entry["id"] for entry in await catalog.backend_models(route.backend)]
    prefix = catalog.public_id(route.backend, "")
    suggestions = did_you_mean(route.model, [i.removeprefix(prefix) for i in ids])
    if not suggestions:
        return error
    return error.amended(f"{error.message} (did you mean {', '.join(repr(prefix + s) for s in suggestions)}?)")


# Upstream response headers a client may want; the rest (hop-by-hop, cookies, lengths) stay behind.
FORWARDED_HEADERS = ("x-generation-id", "x-request-id")


def forwarded(headers: Mapping[str, str]) -> dict[str, str]:
    # Only short plain ASCII values: anything else cannot be re-sent as a header and is not worth a failure.
    return {
        name: value for name in FORWARDED_HEADERS if (value := headers.get(name)) and value.isascii() and len(value) <= 256
    }

"""Serving one request through its routes: attempts, retries, key rotation, failover.

The decisions are `failover.decide`'s; this module only carries them out, with I/O.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from src.backends.base import Backend
from src.backends.hybrid import Hybrid
from src.core.config import FailoverConfig
from src.core.cooldown import Cooldowns
from src.core.errors import DeadlineExceeded, UpstreamError
from src.core.failover import KEY_FAULTS, Action, History, classify, decide, moves_on
from src.core.held import first_event, read_whole
from src.core.pipeline import apply_route
from src.core.routing import Route
from src.transports.base import UpstreamResponse

log = logging.getLogger("switchyard.failover")


@dataclass(frozen=True)
class Attempt:
    route: str
    key: int | None
    status: int | None  # the upstream's status, or what the client would get for a failure
    outcome: str  # "ok", or why it failed
    seconds: float
    kind: str = "ok"  # "ok", or the failure's kind: status, connect, timeout, protocol


class Outbound(Protocol):
    """One client request, as any route of its plan will receive it."""

    async def send(self, route: Route, key: int | None) -> UpstreamResponse: ...


@dataclass(frozen=True)
class ChatCall:
    """A chat-completions request: each route gets the client's body with its own model and parameters."""

    raw: bytes
    body: dict[str, Any]
    headers: Mapping[str, str]
    backends: Mapping[str, Backend]
    stream: bool

    async def send(self, route: Route, key: int | None) -> UpstreamResponse:
        if route.hybrid is not None:
            return await Hybrid(self.backends).chat(route, self.raw, self.body, self.headers, self.stream)
        return await self.backends[route.backend].chat(apply_route(self.raw, self.body, route), self.headers, key=key)


@dataclass
class Served:
    response: UpstreamResponse
    route: Route
    attempts: list[Attempt] = field(default_factory=list)

    def headers(self) -> dict[str, str]:
        return route_headers(self.route, len(self.attempts))


def route_headers(route: Route, attempts: int) -> dict[str, str]:
    return {"x-switchyard-route": quote(str(route), safe=":/[],?=&~@+-._"), "x-switchyard-attempts": str(attempts)}


class Dispatcher:
    def __init__(
        self,
        backends: Mapping[str, Backend],
        policy: FailoverConfig,
        cooldowns: Cooldowns,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backends = backends
        self._policy = policy
        self.cooldowns = cooldowns
        self._sleep = sleep
        self._clock = clock

    def chat(self, raw: bytes, body: dict[str, Any], headers: Mapping[str, str], stream: bool) -> ChatCall:
        return ChatCall(raw, body, headers, self.backends, stream)

    async def serve(self, plan: Sequence[Route], outbound: Outbound, stream: bool) -> Served:
        """The first route's answer that can be committed to the client; else the last error."""
        started = self._clock()
        routes = self.cooldowns.order_routes(plan)
        attempts: list[Attempt] = []
        for position, route in enumerate(routes):
            keys = self._keys(route)
            key_index, retries, waited = 0, 0, False
            while True:
                key = keys[key_index]
                began = self._clock()
                try:
                    response = await self._attempt(route, key, outbound, stream, started)
                except UpstreamError as error:
                    failure = classify(error, time.time())
                    attempts.append(
                        Attempt(str(route), key, failure.status, _short(error), self._clock() - began, failure.kind)
                    )
                    # A spent deadline is spent, whatever the clocks' rounding says.
                    elapsed = self._policy.deadline if isinstance(error, DeadlineExceeded) else self._clock() - started
                    history = History(
                        attempts=len(attempts),
                        route_retries=retries,
                        waited=waited,
                        keys_left=len(keys) - key_index - 1,
                        routes_left=len(routes) - position - 1,
                        elapsed=elapsed,
                    )
                    decision = decide(failure, history, self._policy, jitter=random.uniform(0.5, 1.0))
                    if key is not None and failure.status in KEY_FAULTS:
                        self.cooldowns.cool_key(route.backend, key)
                    following = routes[position + 1] if decision.action is Action.NEXT_ROUTE else route
                    log.info(
                        "failover: %s%s failed with %s (%s); %s: %s%s",
                        route, _key_label(key), failure.status, _short(error), decision.reason,
                        decision.action.value, f" {following}" if decision.action is Action.NEXT_ROUTE else "",
                    )
                    if decision.action in (Action.GIVE_UP, Action.NEXT_ROUTE) and moves_on(failure):
                        self.cooldowns.cool_route(str(route))
                    if decision.action is Action.GIVE_UP:
                        raise _final(error, route, attempts) from None
                    if decision.action is Action.NEXT_ROUTE:
                        break
                    if decision.action is Action.NEXT_KEY:
                        key_index += 1
                        continue
                    retries, waited = retries + 1, waited or failure.retry_after is not None
                    await self._sleep(decision.wait)
                    continue
                attempts.append(Attempt(str(route), key, response.status, "ok", self._clock() - began))
                return Served(response, route, attempts)
        raise AssertionError("a plan always has a route")  # pragma: no cover - decide gives up on the last

    def _keys(self, route: Route) -> list[int | None]:
        backend = self.backends.get(route.backend)
        if route.hybrid is not None or backend is None or backend.key_count < 2:
            return [None]
        start = backend.next_key_turn()
        order = [(start + i) % backend.key_count for i in range(backend.key_count)]
        return list(self.cooldowns.order_keys(route.backend, order))

    async def _attempt(
        self,
        route: Route,
        key: int | None,
        outbound: Outbound,
        stream: bool,
        started: float,
    ) -> UpstreamResponse:
        remaining = self._policy.deadline - (self._clock() - started)
        backend = self.backends[route.hybrid.execution.backend if route.hybrid else route.backend]
        try:
            async with asyncio.timeout(max(remaining, 0.001)):
                response = await outbound.send(route, key)
                try:
                    return await (first_event(response, backend) if stream else read_whole(response, backend))
                except BaseException:
                    await response.aclose()
                    raise
        except TimeoutError:
            deadline = self._policy.deadline
            raise DeadlineExceeded(route.backend, f"no answer within the request's deadline ({deadline:g}s)") from None


def _key_label(key: int | None) -> str:
    return f" (key {key + 1})" if key is not None else ""


def _short(error: UpstreamError, limit: int = 160) -> str:
    text = error.message
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _final(error: UpstreamError, route: Route, attempts: list[Attempt]) -> UpstreamError:
    """The last error, as the client will get it: with every route tried when there was more than one try."""
    if len(attempts) > 1:
        tried = "; ".join(f"{a.route}{_key_label(a.key)}: {a.status} {a.outcome}" for a in attempts)
        error.message = f"{error.message} [all {len(attempts)} attempts failed: {tried}]"
        error.args = (error.message,)
    error.headers = {**error.headers, **route_headers(route, len(attempts))}
    error.route, error.attempts = str(route), tuple(attempts)
    return error

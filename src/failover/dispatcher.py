"""Serving one request through its routes: attempts, retries, key rotation, failover.

The decisions are `decision.decide`'s; this module only carries them out, with I/O. It
returns what happened, `Served` or `Failed`, each with every attempt made.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from src.backends.answer import Answer
from src.backends.base import Backend, Call
from src.config import FailoverConfig
from src.failover.cooldown import Cooldowns
from src.failover.deadline import TimeLimit
from src.failover.decision import KEY_FAULTS, Action, History, classify, decide, moves_on
from src.failover.health import BackendHealth
from src.failover.held import first_event, read_whole
from src.routing.plan import Route
from src.wire.errors import DeadlineExceeded, ProxyError, UpstreamError, UpstreamProtocolError
from src.wire.redaction import Redactor

log = logging.getLogger("switchyard.failover")
OUTCOME_TEXT = 160  # characters of a failure kept in logs and in the list of attempts


@dataclass(slots=True)  # not frozen: made for every attempt, where frozen costs twice as much
class Attempt:
    route: str
    key: int | None
    status: int | None  # the upstream's status, or what the client would get for a failure
    outcome: str  # "ok", or why it failed
    seconds: float
    kind: str = "ok"  # "ok", or the failure's kind: status, connect, timeout, protocol


class Outbound(Protocol):
    """One client request, as any route of its plan will receive it."""

    @property
    def call(self) -> Call: ...

    def send(self, route: Route, key: int | None) -> Awaitable[Answer]: ...


@dataclass(slots=True)  # not frozen: made for every request, where frozen costs twice as much
class ChatOutbound:
    """A chat-completions request: each route gets the client's body with its own model and parameters."""

    call: Call
    backends: Mapping[str, Backend]

    def send(self, route: Route, key: int | None) -> Awaitable[Answer]:
        return self.backends[route.backend].chat(self.call, route, key)  # no coroutine of its own to pass it on


@dataclass(slots=True)  # not frozen: made for every request
class Served:
    answer: Answer
    route: Route
    attempts: tuple[Attempt, ...]

    def headers(self) -> dict[str, str]:
        return route_headers(self.route, len(self.attempts))


@dataclass(frozen=True, slots=True)
class Failed:
    error: ProxyError  # as the client gets it: every attempt named, with the route headers
    route: Route
    attempts: tuple[Attempt, ...]


def route_headers(route: Route, attempts: int) -> dict[str, str]:
    return {"x-switchyard-route": _header_value(route.label), "x-switchyard-attempts": str(attempts)}


@functools.lru_cache(maxsize=1024)  # the same few routes serve most requests; bounded, as labels are the client's
def _header_value(label: str) -> str:
    return quote(label, safe=":/[],?=&~@+-._")


class Dispatcher:
    def __init__(
        self,
        backends: Mapping[str, Backend],
        policy: FailoverConfig,
        cooldowns: Cooldowns,
        mask: Redactor,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backends = backends
        self._policy = policy
        self.cooldowns = cooldowns
        self.health = BackendHealth(policy.cooldown)
        self._mask = mask  # failure texts are cut for logs and messages: masked before they are cut
        self._sleep = sleep
        self._clock = clock

    async def serve(self, plan: Sequence[Route], outbound: Outbound, stream: bool) -> Served | Failed:
        """The first route's answer that can be committed to the client; else the last error."""
        started = self._clock()
        routes = self.cooldowns.order_routes(plan)
        attempts: list[Attempt] = []
        for position, route in enumerate(routes):
            keys = self._keys(route, outbound.call)
            key_index, retries, waited = 0, 0, False
            while True:
                key = keys[key_index]
                began = self._clock()
                try:
                    answer = await self._attempt(route, key, outbound, stream, started)
                except UpstreamError as error:
                    failure = classify(error, time.time())
                    text = self._mask.clip(error.message, OUTCOME_TEXT)
                    attempts.append(Attempt(str(route), key, failure.status, text, self._clock() - began, failure.kind))
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
                        route, _key_label(key), failure.status, text, decision.reason,
                        decision.action.value, f" {following}" if decision.action is Action.NEXT_ROUTE else "",
                    )  # fmt: skip
                    if moves_on(failure):
                        self.health.failed(route.backend, f"status_{failure.status}" if failure.kind == "status" else failure.kind)
                    if decision.action in (Action.GIVE_UP, Action.NEXT_ROUTE) and moves_on(failure):
                        self.cooldowns.cool_route(str(route))
                    if decision.action is Action.GIVE_UP:
                        return _failed(error, route, tuple(attempts))
                    if decision.action is Action.NEXT_ROUTE:
                        break
                    if decision.action is Action.NEXT_KEY:
                        key_index += 1
                        continue
                    retries, waited = retries + 1, waited or failure.retry_after is not None
                    await self._sleep(decision.wait)
                    continue
                attempts.append(Attempt(str(route), key, answer.status, "ok", self._clock() - began))
                self.health.succeeded(route.backend)
                return Served(answer, route, tuple(attempts))
        raise AssertionError("a plan always has a route")  # pragma: no cover - decide gives up on the last

    def _keys(self, route: Route, call: Call) -> list[int | None]:
        """The keys to try on `route`, in order; None is the backend's next in turn, or the client's own (byok)."""
        backend = self.backends.get(route.backend)
        own = bool(call.upstream_key) and backend is not None and backend.takes_client_keys
        if backend is None or (own and not call.key_fallback) or (not own and backend.key_count < 2):
            return [None]
        start = backend.next_key_turn()
        order = [(start + i) % backend.key_count for i in range(backend.key_count)]
        keys: list[int | None] = list(self.cooldowns.order_keys(route.backend, order))
        return [None, *keys] if own else keys

    async def _attempt(self, route: Route, key: int | None, outbound: Outbound, stream: bool, started: float) -> Answer:
        remaining = self._policy.deadline - (self._clock() - started)
        try:
            with TimeLimit(max(remaining, 0.001)):
                answer = await outbound.send(route, key)
                try:
                    return await (first_event(answer) if stream else read_whole(answer))
                except BaseException:
                    await answer.aclose()
                    raise
        except TimeoutError:
            deadline = self._policy.deadline
            raise DeadlineExceeded(route.backend, f"no answer within the request's deadline ({deadline:g}s)") from None
        except (ProxyError, asyncio.CancelledError):
            raise
        except Exception:
            # Whatever an upstream sends must not crash the request: what could not be read is its failure.
            log.exception("failover: the answer of %s could not be read", route)
            raise UpstreamProtocolError(route.backend, "answered with something the proxy could not read") from None


def _key_label(key: int | None) -> str:
    return f" (key {key + 1})" if key is not None else ""


def _failed(error: UpstreamError, route: Route, attempts: tuple[Attempt, ...]) -> Failed:
    """The last error, as the client will get it: with every route tried when there was more than one try."""
    message = None
    if len(attempts) > 1:
        tried = "; ".join(f"{a.route}{_key_label(a.key)}: {a.status} {a.outcome}" for a in attempts)
        message = f"{error.message} [all {len(attempts)} attempts failed: {tried}]"
    return Failed(error.amended(message, route_headers(route, len(attempts))), route, attempts)

"""One request's usage: what it tried, what it used and how long it took, recorded when it ends.

A Meter belongs to one request and is never shared. The record is written after the answer
has gone out (after the body is sent, or when the stream closes), so that pricing look-ups and
the record queue never delay a client. On a stream it is one step of the event pipeline.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from src.failover.dispatcher import Attempt
from src.usage.accounting import Accounting
from src.usage.limits import Reservation
from src.usage.record import OK, Tokens, UsageRecord, new_request_id, usage_from
from src.usage.record import Attempt as AttemptRecord
from src.wire.errors import ProxyError, UpstreamError
from src.wire.protocol import WireProtocol
from src.wire.sse import Event

log = logging.getLogger("switchyard.usage")
CLIENT_LEFT = 499  # as nginx names it: the client went away before the answer was whole
MAX_MODEL_TEXT = 200  # characters of the requested model kept in a record


@dataclass(slots=True)
class Meter:
    accounting: Accounting
    key_name: str
    user_agent: str | None
    frontend: str
    requested_model: str = ""
    stream: bool = False
    reservation: Reservation | None = None
    started: float = field(default_factory=time.monotonic)
    wall_time: float = field(default_factory=time.time)
    attempts: tuple[Attempt, ...] = ()
    route: str | None = None
    status: int = 200
    usage: dict[str, Any] = field(default_factory=dict)
    first_token: float | None = None
    ended: float | None = None
    recorded: bool = False
    upstream_key: str | None = None  # the fingerprint of the client's own key, when it sent one

    def asked_for(self, body: Mapping[str, Any]) -> None:
        model = body.get("model")
        self.requested_model = model[:MAX_MODEL_TEXT] if isinstance(model, str) else ""
        self.stream = body.get("stream") is True

    def tried(self, route: object, attempts: Sequence[Attempt]) -> None:
        """What dispatching did: every attempt, and the route that served or failed last."""
        self.attempts, self.route = tuple(attempts), str(route)

    def failed(self, error: ProxyError) -> None:
        """Records a request that ended in an error before any answer went out."""
        self.status = error.status
        self._write(None)

    def saw_usage(self, usage: Mapping[str, Any] | None) -> None:
        """Merges a usage object, in OpenAI's shape; Anthropic's arrives in two events."""
        if usage:
            self.usage.update(usage)

    async def finish(self, answer: bytes | None = None, protocol: WireProtocol | None = None) -> None:
        """Prices and records the request; the answer (read for its usage here, off the client's
        path) has already gone out."""
        if self.recorded:
            return
        self.ended = time.monotonic()  # the price look-up below is not the client's wait
        if answer is not None and protocol is not None and b'"usage"' in answer:
            with contextlib.suppress(orjson.JSONDecodeError):
                self.saw_usage(protocol.usage(orjson.loads(answer)))
        tokens = usage_from(self.usage)
        try:
            cost = await self.accounting.cost(self.route, tokens)
        except Exception:  # a failed price look-up must not lose the record
            log.exception("cannot price a request")
            cost = None
        self._write(cost, tokens)

    async def observe(self, batches: AsyncIterator[list[Event]], protocol: WireProtocol) -> AsyncIterator[list[Event]]:
        """The stream step: its first event's time, its usage, and how it ended (a stream cut
        short by the client is 499; one that ended without its last event, 502)."""
        metrics = self.accounting.metrics
        metrics.stream_started()
        complete = ended = False
        try:
            async with contextlib.aclosing(batches):  # type: ignore[type-var]
                async for batch in batches:
                    if self.first_token is None:
                        self.first_token = time.monotonic()
                    for event in batch:
                        complete = self._scan(event, protocol) or complete
                    yield batch
            ended = True
            if not complete and self.status < 400:
                self.status = 502  # the client got an error event in its place
                self._broke(502)
        except UpstreamError as exc:
            self.status, ended = exc.status, True
            self._broke(exc.status)
            raise
        finally:
            if not ended and self.status < 400:
                self.status = CLIENT_LEFT  # cut short: recorded with what was known
            metrics.stream_ended()

    def _scan(self, event: Event, protocol: WireProtocol) -> bool:
        """Reads one event; True once the stream's last event (its end, or an error) is in."""
        raw = event.raw
        if b'"usage"' in raw:
            self.saw_usage(protocol.usage(event.payload))
        if b'"error"' in raw:
            error = protocol.in_band_error(event.payload)
            if error is not None:
                self.status = error.status
                self._broke(error.status)
                return True
        return protocol.is_last(event)

    def _broke(self, status: int) -> None:
        """An upstream failure after the stream began: no attempt records it, so it is counted here."""
        self.accounting.metrics.broke_midstream((self.route or "none").partition(":")[0], status)

    def _write(self, cost: float | None, tokens: Tokens | None = None) -> None:
        if self.recorded:
            return
        self.recorded = True
        tokens = tokens or usage_from(self.usage)
        record = UsageRecord(
            time=self.wall_time,
            key_name=self.key_name,
            user_agent=self.user_agent,
            frontend=self.frontend,
            requested_model=self.requested_model,
            status=self.status,
            request_id=new_request_id(),  # once per request, as a meter writes once
            attempts=tuple(map(_attempt_record, self.attempts)),
            route=self.route,
            prompt_tokens=tokens.prompt_tokens,
            completion_tokens=tokens.completion_tokens,
            reasoning_tokens=tokens.reasoning_tokens,
            cached_tokens=tokens.cached_tokens,
            cost_usd=cost,
            latency_ms=((self.ended or time.monotonic()) - self.started) * 1000,
            ttft_ms=None if self.first_token is None else (self.first_token - self.started) * 1000,
            stream=self.stream,
            upstream_key=self.upstream_key,
        )
        self.accounting.record(record, self.reservation)


def _attempt_record(attempt: Attempt) -> AttemptRecord:
    outcome, status = attempt.kind, attempt.status
    if outcome == "ok":
        outcome = OK
    elif outcome == "status":
        outcome = f"status_{status}"
    else:
        status = None  # it never answered
    return AttemptRecord(attempt.route, status, outcome, attempt.seconds * 1000)

"""One request's usage: what it tried, what it used and how long it took, recorded when it ends.

A Meter belongs to one request and is never shared. The record is written after the answer
has gone out (a background task, or the stream's close), so that pricing look-ups and the
record queue never delay a client.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from src.core.accounting import Accounting
from src.core.dispatcher import Attempt, Served
from src.core.errors import ProxyError, UpstreamError
from src.core.streaming import EventSplitter, event_data, is_done, is_message_stop
from src.transports.base import UpstreamResponse
from src.usage.limits import Reservation
from src.usage.record import OK
from src.usage.record import Attempt as AttemptRecord
from src.usage.record import Tokens, UsageRecord, usage_from

log = logging.getLogger("switchyard.usage")
CLIENT_LEFT = 499


@dataclass
class Meter:
    accounting: Accounting
    key_name: str
    user_agent: str | None
    frontend: str
    requested_model: str
    stream: bool
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

    def served(self, served: Served) -> None:
        self.attempts, self.route = tuple(served.attempts), str(served.route)

    def failed(self, error: ProxyError) -> None:
        """Records a request that ended in an error before any answer went out."""
        self.status = error.status
        if isinstance(error, UpstreamError) and error.attempts:  # a failover that gave up
            self.attempts = tuple(a for a in error.attempts if isinstance(a, Attempt))
            self.route = error.route
        self._write(None)

    def saw_usage(self, usage: object) -> None:
        """Merges a usage object: OpenAI's, or Anthropic's, which arrives in two events."""
        if isinstance(usage, Mapping):
            self.usage.update(_openai_shaped(usage))

    def saw_completion(self, body: bytes) -> None:
        if b'"usage"' in body:
            try:
                completion = orjson.loads(body)
            except orjson.JSONDecodeError:
                return
            if isinstance(completion, dict):
                self.saw_usage(completion.get("usage"))

    async def finish(self, answer: bytes | None = None) -> None:
        """Prices and records the request; the answer (read for its usage here, off the
        client's path) has already gone out."""
        if self.recorded:
            return
        self.ended = time.monotonic()  # the price look-up below is not the client's wait
        if answer is not None:
            self.saw_completion(answer)
        tokens = usage_from(self.usage)
        try:
            cost = await self.accounting.cost(self.route, tokens)
        except Exception:  # a failed price look-up must not lose the record
            log.exception("cannot price a request")
            cost = None
        self._write(cost, tokens)

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
            attempts=tuple(_attempt_record(a) for a in self.attempts),
            route=self.route,
            prompt_tokens=tokens.prompt_tokens,
            completion_tokens=tokens.completion_tokens,
            reasoning_tokens=tokens.reasoning_tokens,
            cached_tokens=tokens.cached_tokens,
            cost_usd=cost,
            latency_ms=((self.ended or time.monotonic()) - self.started) * 1000,
            ttft_ms=None if self.first_token is None else (self.first_token - self.started) * 1000,
            stream=self.stream,
        )
        self.accounting.record(record, self.reservation)


class MeteredStream:
    """An upstream stream that tells its meter about its first chunk, its usage and how it ended."""

    def __init__(self, upstream: UpstreamResponse, meter: Meter) -> None:
        self._upstream = upstream
        self._meter = meter
        self.status = upstream.status
        self.headers = upstream.headers
        self._ended = False
        self._complete = False  # its last event ([DONE], message_stop or an error) has arrived
        meter.accounting.metrics.stream_started()

    async def read(self) -> bytes:
        body = await self._upstream.read()
        self._meter.saw_completion(body)
        self._ended = True
        return body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        splitter = EventSplitter()
        meter = self._meter
        try:
            async for chunk in self._upstream.iter_chunks():
                if meter.first_token is None:
                    meter.first_token = time.monotonic()
                self._scan(splitter.feed(chunk))
                yield chunk
        except UpstreamError as exc:
            meter.status = exc.status
            self._ended = True
            raise
        self._scan([splitter.flush()])
        if not self._complete and meter.status < 400:
            meter.status = 502  # ended without its last event: the client got an error event
        self._ended = True  # not in a `finally`: a cancelled read is a client that left

    def _scan(self, events: list[bytes]) -> None:
        for event in events:
            if is_done(event) or is_message_stop(event):
                self._complete = True
                continue
            if b'"usage"' not in event and b'"error"' not in event:
                continue
            try:
                payload = orjson.loads(event_data(event))
            except orjson.JSONDecodeError:
                continue
            if not isinstance(payload, dict):
                continue
            self._meter.saw_usage(payload.get("usage") or (payload.get("message") or {}).get("usage"))
            if payload.get("error"):
                self._meter.status = _error_status(payload["error"])
                self._complete = True

    async def aclose(self) -> None:
        """The stream is over: closed at its end, on an error, or because the client left."""
        meter = self._meter
        if not self._ended:
            meter.status = CLIENT_LEFT  # cut short: recorded with what was known
            self._ended = True
        meter.accounting.metrics.stream_ended()
        await self._upstream.aclose()
        await meter.finish()


def _attempt_record(attempt: Attempt) -> AttemptRecord:
    if attempt.kind == "ok":
        outcome = OK
    else:
        outcome = f"status_{attempt.status}" if attempt.kind == "status" else attempt.kind
    status = attempt.status if attempt.kind in ("ok", "status") else None  # None: it never answered
    return AttemptRecord(attempt.route, status, outcome, attempt.seconds * 1000)


def _openai_shaped(usage: Mapping[str, Any]) -> dict[str, Any]:
    if "input_tokens" not in usage and "output_tokens" not in usage:
        return dict(usage)
    shaped: dict[str, Any] = {}
    if isinstance(usage.get("input_tokens"), int):
        cached = usage.get("cache_read_input_tokens") or 0
        written = usage.get("cache_creation_input_tokens") or 0
        shaped["prompt_tokens"] = usage["input_tokens"] + cached + written
        shaped["prompt_tokens_details"] = {"cached_tokens": cached}
    if isinstance(usage.get("output_tokens"), int):
        shaped["completion_tokens"] = usage["output_tokens"]
    return shaped


def _error_status(error: object) -> int:
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) and 400 <= code <= 599 else 502

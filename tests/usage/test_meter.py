"""Meter: one request's usage, attempts, status and timings, priced and recorded exactly once."""

from __future__ import annotations

import pytest

from src.failover.dispatcher import Attempt
from src.routing.plan import Route
from src.usage.record import Attempt as AttemptRecord
from src.usage.record import Tokens
from src.wire.errors import InvalidRequest, UpstreamStatusError
from src.wire.openai_chat import CHAT
from tests.usage.meter_helpers import FakeAccounting, meter

pytestmark = pytest.mark.anyio


async def test_a_finished_request_is_priced_and_recorded_once() -> None:
    books = FakeAccounting(cost=0.25)
    m = meter(books, stream=False)
    m.tried(
        Route("openrouter", "m"),
        [Attempt("openrouter:x", None, 503, "busy", 0.5, "status"), Attempt("openrouter:m", None, 200, "ok", 0.2)],
    )
    await m.finish(b'{"usage": {"prompt_tokens": 10, "completion_tokens": 4}}', CHAT)
    await m.finish()
    ((record, reservation),) = books.records
    assert books.priced == [("openrouter:m", Tokens(10, 4))]
    assert (record.status, record.route, record.cost_usd, record.prompt_tokens, record.ttft_ms) == (
        200,
        "openrouter:m",
        0.25,
        10,
        None,
    )
    assert record.attempts[0] == AttemptRecord("openrouter:x", 503, "status_503", 500.0)
    assert (record.attempts[1].route, record.attempts[1].status, record.attempts[1].outcome) == (
        "openrouter:m",
        200,
        "ok",
    )
    assert reservation is m.reservation and record.key_name == "alice" and record.user_agent == "ua/1"


async def test_a_price_look_up_that_fails_still_records_with_an_unknown_cost() -> None:
    books = FakeAccounting(fails=True)
    m = meter(books, stream=False)
    m.saw_usage({"prompt_tokens": 1, "completion_tokens": 1})
    await m.finish()
    assert [r.cost_usd for r, _ in books.records] == [None]


@pytest.mark.parametrize("body", [b"not json", b'["usage"]', b'{"id": "x"}', b'{"usage": "lots"}', b'{"usage": 1'])
async def test_a_completion_without_a_usable_usage_adds_nothing(body: bytes) -> None:
    books = FakeAccounting()
    m = meter(books, stream=False)
    await m.finish(body, CHAT)
    assert m.usage == {}
    assert books.priced == [(None, Tokens())]


def test_a_request_that_failed_upstream_keeps_its_route_and_attempts() -> None:
    books = FakeAccounting()
    m = meter(books, stream=False)
    m.tried(
        Route("local", "m"),
        (Attempt("openrouter:m", 0, 502, "refused", 0.1, "connect"), Attempt("local:m", None, 502, "x", 0.2, "status")),
    )
    error = UpstreamStatusError("local", 502, "bad gateway")
    m.failed(error)
    m.failed(error)
    ((record, _),) = books.records
    assert (record.status, record.route, record.cost_usd) == (502, "local:m", None)
    assert record.attempts == (
        AttemptRecord("openrouter:m", None, "connect", 100.0),
        AttemptRecord("local:m", 502, "status_502", 200.0),
    )


def test_a_request_refused_before_any_upstream_has_no_route() -> None:
    books = FakeAccounting()
    meter(books).failed(InvalidRequest("bad"))
    ((record, _),) = books.records
    assert (record.status, record.route, record.attempts) == (400, None, ())

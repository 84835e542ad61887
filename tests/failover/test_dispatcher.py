"""Dispatcher.serve: routes, keys and retries carried out against fake backends; Served or Failed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from src.backends.answer import Answer, BufferedAnswer, HttpAnswer
from src.backends.base import Backend, Call
from src.config import FailoverConfig
from src.failover.cooldown import Cooldowns
from src.failover.dispatcher import Attempt, ChatOutbound, Dispatcher, Failed, Served, route_headers
from src.failover.held import PrimedAnswer
from src.routing.plan import Route
from src.wire.errors import (
    DeadlineExceeded,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamUnreachable,
)
from src.wire.openai_chat import CHAT
from src.wire.redaction import MASK, Redactor
from src.wire.sse import MAX_EVENT
from tests.backends.responses import JSON, SSE, FakeResponse

pytestmark = pytest.mark.anyio

SECRET = "sk-dispatch-secret-0001"
BODY = orjson.dumps({"id": "c1", "choices": [{"index": 0, "message": {"content": "Hi"}}]})
A, B, C = Route("a", "x"), Route("b", "y"), Route("c", "z", {"temperature": 0.5})
Outcome = Answer | Exception | Callable[[], Any]


class FakeBackend(Backend):
    """Answers each call with the next outcome of its script: an Answer, an exception to raise, or a coroutine."""

    def __init__(self, name: str, *script: Outcome, keys: int = 0) -> None:
        super().__init__(name)
        self.script = list(script)
        self.calls: list[tuple[str, int | None]] = []
        self.keys = keys

    @property
    def key_count(self) -> int:
        return self.keys

    async def chat(self, call: Call, route: Route, key: int | None = None) -> Answer:
        self.calls.append((str(route), key))
        outcome = self.script.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        if callable(outcome):
            return await outcome()
        return outcome


def failure(error: Any, payload: bytes, headers: Any) -> UpstreamStatusError:
    """How a backend describes an in-band error of its answer."""
    return UpstreamStatusError("a", error.status, error.message)


def ok(origin: str = "a") -> BufferedAnswer:
    return BufferedAnswer(200, JSON, BODY, CHAT, origin)


class Waits(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def dispatcher(*backends: FakeBackend, policy: FailoverConfig | None = None, **kwargs: Any) -> Dispatcher:
    policy = policy or FailoverConfig()
    registry = {backend.name: backend for backend in backends}
    options = {"sleep": Waits(), "clock": lambda: 100.0, **kwargs}
    return Dispatcher(registry, policy, Cooldowns(policy.cooldown), Redactor([SECRET]), **options)


async def serve(chooser: Dispatcher, plan: list[Route], stream: bool = False) -> Served | Failed:
    call = Call(b'{"model":"x"}', {"model": "x"}, {})
    return await chooser.serve(plan, ChatOutbound(call, chooser.backends), stream)


def busy(backend: str, retry_after: str | None = None) -> UpstreamStatusError:
    return UpstreamStatusError(backend, 503, "busy", retry_after=retry_after)


async def test_first_route_serves() -> None:
    result = await serve(dispatcher(FakeBackend("a", ok())), [A, B])
    assert isinstance(result, Served)
    assert (result.route, await result.answer.read()) == (A, BODY)
    assert result.attempts == (Attempt("a:x", None, 200, "ok", 0.0),)
    assert result.headers() == {"x-switchyard-route": "a:x", "x-switchyard-attempts": "1"}


@pytest.mark.parametrize(
    ("a_script", "b_script", "expected"),
    [
        ([busy("a")], [ok("b")], [("a:x", 503, "status"), ("b:y", 200, "ok")]),
        ([UpstreamUnreachable("a", "refused")] * 3, [ok("b")], [("a:x", 502, "connect")] * 3 + [("b:y", 200, "ok")]),
        ([UpstreamProtocolError("a", "odd")], [ok("b")], [("a:x", 502, "protocol"), ("b:y", 200, "ok")]),
        ([ValueError("malformed")], [ok("b")], [("a:x", 502, "protocol"), ("b:y", 200, "ok")]),
        ([KeyError("choices")], [ok("b")], [("a:x", 502, "protocol"), ("b:y", 200, "ok")]),
        ([busy("a", "1"), ok()], [], [("a:x", 503, "status"), ("a:x", 200, "ok")]),  # Retry-After waited for
    ],
)
async def test_failover_to_a_route_that_serves(a_script: list, b_script: list, expected: list) -> None:
    a, b = FakeBackend("a", *a_script), FakeBackend("b", *b_script)
    result = await serve(dispatcher(a, b), [A, B])
    assert isinstance(result, Served)
    assert [(x.route, x.status, x.kind) for x in result.attempts] == expected
    assert result.route == (A if expected[-1][0] == "a:x" else B)
    assert result.headers()["x-switchyard-attempts"] == str(len(expected))
    assert len(a.calls) + len(b.calls) == len(expected)


async def test_a_non_proxy_error_is_a_protocol_error_of_that_route() -> None:
    result = await serve(dispatcher(FakeBackend("a", ValueError("bad JSON")), FakeBackend("b", ok("b"))), [A, B])
    assert isinstance(result, Served) and result.route == B
    failed = result.attempts[0]
    assert (failed.kind, failed.status) == ("protocol", 502)
    assert failed.outcome == "a: answered with something the proxy could not read"


async def test_an_answer_that_cannot_be_read_is_closed_and_the_next_route_tried() -> None:
    class Malformed(BufferedAnswer):
        closed = False

        async def read(self) -> bytes:
            raise ValueError("malformed")

        async def aclose(self) -> None:
            self.closed = True

    broken = Malformed(200, JSON, b"", CHAT, "a")
    result = await serve(dispatcher(FakeBackend("a", broken), FakeBackend("b", ok("b"))), [A, B])
    assert isinstance(result, Served) and result.route == B
    assert result.attempts[0].kind == "protocol" and broken.closed


async def test_every_route_failing_is_failed_with_every_attempt() -> None:
    last = UpstreamStatusError("c", 502, "down", retry_after="9")
    backends = FakeBackend("a", busy("a")), FakeBackend("b", ValueError("no")), FakeBackend("c", last)
    result = await serve(dispatcher(*backends), [A, B, C])
    assert isinstance(result, Failed)
    assert result.route == C
    assert [x.route for x in result.attempts] == ["a:x", "b:y", "c:z"]
    assert result.error.message == (
        "c: down [all 3 attempts failed: a:x: 503 a: busy; "
        "b:y: 502 b: answered with something the proxy could not read; c:z: 502 c: down]"
    )
    assert result.error.headers == {
        "retry-after": "9",
        "x-switchyard-route": "c:z?temperature=0.5",
        "x-switchyard-attempts": "3",
    }
    assert (type(result.error), result.error.status) == (UpstreamStatusError, 502)
    # the raised error itself is left as it was
    assert result.error is not last
    assert (last.message, last.headers, last.args) == ("c: down", {"retry-after": "9"}, ("c: down",))


async def test_one_failed_attempt_keeps_its_message() -> None:
    error = UpstreamStatusError("a", 400, "bad request")
    result = await serve(dispatcher(FakeBackend("a", error), FakeBackend("b", ok("b"))), [A, B])
    assert isinstance(result, Failed)  # a 400 is the request's own problem: no other route is tried
    assert result.error.message == "a: bad request"
    assert result.error.headers == route_headers(A, 1)
    assert result.attempts == (Attempt("a:x", None, 400, "a: bad request", 0.0, "status"),)
    assert error.headers == {}


async def test_key_rotation_names_each_key() -> None:
    a = FakeBackend("a", UpstreamStatusError("a", 429, "slow"), UpstreamStatusError("a", 401, "no"), keys=2)
    chooser = dispatcher(a)
    result = await serve(chooser, [A])
    assert isinstance(result, Failed)
    assert a.calls == [("a:x", 0), ("a:x", 1)]
    assert [x.key for x in result.attempts] == [0, 1]
    assert "a:x (key 1): 429 a: slow; a:x (key 2): 401 a: no" in result.error.message
    assert not chooser.cooldowns.key_ready("a", 0) and not chooser.cooldowns.key_ready("a", 1)


async def test_failed_routes_cool_and_are_tried_last_next_time() -> None:
    chooser = dispatcher(FakeBackend("a", busy("a"), ok()), FakeBackend("b", ok("b"), ok("b")))
    first = await serve(chooser, [A, B])
    assert isinstance(first, Served) and first.route == B
    assert not chooser.cooldowns.route_ready("a:x")
    second = await serve(chooser, [A, B])
    assert isinstance(second, Served) and second.route == B
    assert [x.route for x in second.attempts] == ["b:y"]


async def test_retry_after_is_slept_through_the_given_sleep() -> None:
    waits = Waits()
    result = await serve(dispatcher(FakeBackend("a", busy("a", "2"), ok()), sleep=waits), [A])
    assert isinstance(result, Served) and len(result.attempts) == 2
    assert waits == [2.0]


async def test_a_stream_is_served_once_its_first_event_is_in() -> None:
    broken = HttpAnswer(
        FakeResponse([b'data: {"error":{"code":503,"message":"x"}}\n\n']), CHAT, "a", failure, MAX_EVENT
    )
    response = FakeResponse([b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n', b"data: [DONE]\n\n"])
    good = HttpAnswer(response, CHAT, "b", failure, MAX_EVENT)
    result = await serve(dispatcher(FakeBackend("a", broken), FakeBackend("b", good)), [A, B], stream=True)
    assert isinstance(result, Served) and isinstance(result.answer, PrimedAnswer)
    assert [(x.route, x.status) for x in result.attempts] == [("a:x", 503), ("b:y", 200)]
    assert response.served == 1 and not response.closed


async def test_a_stream_failing_before_its_first_event_is_closed() -> None:
    response = FakeResponse([b'data: {"error":{"code":503,"message":"x"}}\n\n'], SSE)
    result = await serve(dispatcher(FakeBackend("a", HttpAnswer(response, CHAT, "a", failure, MAX_EVENT))), [A], True)
    assert isinstance(result, Failed) and result.error.status == 503
    assert response.closed


async def test_the_deadline_ends_a_hanging_attempt() -> None:
    async def hang() -> Answer:
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    deadline = FailoverConfig(deadline=0.05)
    chooser = dispatcher(FakeBackend("a", hang), FakeBackend("b", ok("b")), policy=deadline, clock=time.monotonic)
    result = await serve(chooser, [A, B])
    assert isinstance(result, Failed)
    assert isinstance(result.error, DeadlineExceeded) and result.error.status == 504
    assert result.error.message == "a: no answer within the request's deadline (0.05s)"
    assert [x.route for x in result.attempts] == ["a:x"]  # a spent deadline is spent: nothing more is tried


async def testfailure_text_is_masked_before_it_is_cut() -> None:
    text = "x" * 150 + SECRET + "y" * 100  # the key straddles the 160-character cut
    result = await serve(dispatcher(FakeBackend("a", UpstreamStatusError("a", 400, text))), [A])
    assert isinstance(result, Failed)
    assert result.attempts[0].outcome == "a: " + "x" * 150 + MASK[:4] + "..."  # cut first, it would show "sk-d"


@pytest.mark.parametrize("error", [busy("a"), UpstreamError("a", "odd")])
async def test_max_attempts_is_respected(error: UpstreamError) -> None:
    chooser = dispatcher(*(FakeBackend(n, error) for n in "abc"), policy=FailoverConfig(max_attempts=2))
    result = await serve(chooser, [A, B, C])
    assert isinstance(result, Failed) and [x.route for x in result.attempts] == ["a:x", "b:y"]

"""Retries of the same route (Retry-After, lost connections) and the limits of a request's attempts."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from src.config import Config
from tests.e2e.failover_helpers import (  # noqa: F401 - fixtures
    KEYS,
    MESSAGES,
    ask,
    backend,
    closed_port_url,
    error_body,
    fail,
    make_config,
    proxy_pool,
    raw_post,
    sdk,
    shared_proxy_fixture,
    three_backends,
)
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step

STREAM = pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
StartProxy = Callable[[Config], RunningProxy]
ROUTES = {"a:m1": ["b:m2"]}


# --- Retry-After ------------------------------------------------------------------------------------------


@STREAM
def test_a_429_with_a_short_retry_after_is_retried_on_the_same_route(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(three_backends(scripted.base_url), failover_routes=ROUTES))
    scripted.script("m1", Step(status=429, retry_after="1"))
    started = time.monotonic()

    text, headers = ask(sdk(proxy), "a:m1", stream)

    assert time.monotonic() - started >= 0.95  # it waited for the Retry-After
    assert text == "Hello from m1"
    assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("a:m1", "2")
    assert scripted.models() == ["m1", "m1"]


@STREAM
def test_a_503_with_a_short_retry_after_is_retried_once_then_moves_on(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(three_backends(scripted.base_url), failover_routes=ROUTES))
    scripted.script("m1", Step(status=503, retry_after="1"), Step(status=503, retry_after="1"))

    text, headers = ask(sdk(proxy), "a:m1", stream)

    assert text == "Hello from m2"
    assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("b:m2", "3")
    assert scripted.models() == ["m1", "m1", "m2"]


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_longer_than_max_retry_wait_moves_on_at_once(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, status: int
) -> None:
    proxy = shared_proxy(make_config(three_backends(scripted.base_url), failover_routes=ROUTES))
    client = sdk(proxy)  # max_retry_wait: 2
    for stream in (False, True):
        scripted.script("m1", Step(status=status, retry_after="3"))
        started = time.monotonic()

        text, headers = ask(client, "a:m1", stream)

        assert time.monotonic() - started < 1  # far less than the Retry-After: no wait at all
        assert (text, headers["x-switchyard-route"]) == ("Hello from m2", "b:m2")
    assert scripted.models() == ["m1", "m2", "m1", "m2"]


def test_the_last_retry_after_is_passed_to_the_client(scripted: ScriptedUpstream, shared_proxy: StartProxy) -> None:
    proxy = shared_proxy(make_config(three_backends(scripted.base_url)))
    scripted.script("m1", Step(status=429, retry_after="30"))

    error = fail(sdk(proxy), "a:m1", stream=False)

    assert isinstance(error, openai.RateLimitError)
    assert error.response.headers["retry-after"] == "30"


# --- lost connections ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("retries", "attempts"), [(2, 3), (0, 1)])
def test_a_refused_connection_gets_quick_retries_before_the_error(
    shared_proxy: StartProxy, retries: int, attempts: int
) -> None:
    proxy = shared_proxy(make_config({"dead": backend(closed_port_url())}, failover={"connect_retries": retries}))
    client = sdk(proxy)
    for stream in (False, True):
        started = time.monotonic()

        error = fail(client, "dead:m1", stream)

        assert time.monotonic() - started < 1  # quick retries: 0.1 s, then 0.2 s at most
        assert error.status_code == 502
        assert "cannot connect" in error.message
        assert error.response.headers["x-switchyard-route"] == "dead:m1"
        assert error.response.headers["x-switchyard-attempts"] == str(attempts)


def test_a_refused_connection_is_retried_then_served_by_the_fallback(
    scripted: ScriptedUpstream, shared_proxy: StartProxy
) -> None:
    backends = {"dead": backend(closed_port_url()), "b": backend(scripted.base_url, KEYS["b"])}
    proxy = shared_proxy(make_config(backends, failover_routes={"dead:m1": ["b:m2"]}))

    text, headers = ask(sdk(proxy), "dead:m1", stream=True)

    assert text == "Hello from m2"
    assert headers["x-switchyard-attempts"] == "4"


# --- max_attempts and the deadline ------------------------------------------------------------------------


@STREAM
def test_max_attempts_ends_with_the_last_error_listing_every_try(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    routes = {"a:m1": ["b:m2", "c:m3"]}
    config = make_config(three_backends(scripted.base_url), failover_routes=routes, failover={"max_attempts": 2})
    proxy = shared_proxy(config)
    scripted.script("m1", Step(status=500, error={"message": "first broke"}))
    scripted.script("m2", Step(status=503, error={"message": "second overloaded"}))

    error = fail(sdk(proxy), "a:m1", stream)

    assert error.status_code == 503  # the last upstream error's status
    assert error_body(error)["message"].startswith("b: second overloaded")
    assert "a:m1: 500 a: first broke" in error.message
    assert "b:m2: 503 b: second overloaded" in error.message
    assert error.response.headers["x-switchyard-attempts"] == "2"
    assert scripted.models() == ["m1", "m2"]  # c:m3 was never tried


def test_the_final_error_is_an_openai_envelope(scripted: ScriptedUpstream, shared_proxy: StartProxy) -> None:
    routes = {"a:m1": ["b:m2", "c:m3"]}
    config = make_config(three_backends(scripted.base_url), failover_routes=routes, failover={"max_attempts": 2})
    proxy = shared_proxy(config)
    scripted.script("m1", Step(status=500))
    scripted.script("m2", Step(status=402, error={"code": 402, "message": "insufficient credits"}))

    response = raw_post(proxy, {"model": "a:m1", "messages": MESSAGES})

    assert response.status_code == 402
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "payment_required"
    assert "insufficient credits" in error["message"] and "a:m1: 500" in error["message"]


@STREAM
def test_the_deadline_ends_the_request_with_the_last_error_listing_every_try(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    backends = {name: backend(scripted.base_url, key, timeout=5) for name, key in KEYS.items()}
    routes = {"a:m1": ["b:m2", "c:m3"]}
    proxy = shared_proxy(make_config(backends, failover_routes=routes, failover={"deadline": 0.6}))
    scripted.script("m1", Step(status=500))
    scripted.script("m2", Step(stall=3))
    started = time.monotonic()

    error = fail(sdk(proxy), "a:m1", stream)

    assert 0.5 < time.monotonic() - started < 1.5
    assert error.status_code == 504
    assert "deadline" in error_body(error)["message"]
    assert "a:m1: 500" in error_body(error)["message"] and "b:m2: 504" in error_body(error)["message"]
    assert scripted.models()[:2] == ["m1", "m2"]
    assert "m3" not in scripted.models()


def test_a_spent_deadline_never_tries_or_cools_another_route(
    scripted: ScriptedUpstream, start_proxy: StartProxy
) -> None:
    # Regression: the deadline's timer (uvloop's millisecond clock) may fire a hair before time.monotonic()
    # says the deadline passed; the next route then got a ~1 ms attempt that was blamed and cooled.
    backends = {name: backend(scripted.base_url, key, timeout=5) for name, key in KEYS.items()}
    proxy = start_proxy(make_config(backends, failover={"deadline": 0.6, "cooldown": 30}))
    client = sdk(proxy)
    names = [f"{round_}-{i}" for round_ in range(3) for i in range(16)]
    for name in names:
        scripted.script(f"m{name}", Step(status=500))
        scripted.script(f"s{name}", Step(stall=3))

    def request(name: str) -> tuple[str, str]:
        error = fail(client, f"a:m{name}|b:s{name}|c:x{name}", stream=False)
        return error.response.headers["x-switchyard-route"], error.response.headers["x-switchyard-attempts"]

    with ThreadPoolExecutor(16) as pool:  # 48 requests, 16 at a time: the early timer is a matter of chance
        answers = list(pool.map(request, names))

    assert [a for a in answers if a[1] != "2"] == []
    assert {route for route, _ in answers} == {f"b:s{name}" for name in names}
    assert httpx.get(f"{proxy.url}/health", verify=False).json()["backends"]["c"]["cooling_routes"] == {}

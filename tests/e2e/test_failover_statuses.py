"""Which failures move a request on to its next route, and which reach the client as they are.

Each test sends the same request twice, once as JSON and once as a stream, through one proxy
(with cooldown 0, so that the first request leaves nothing behind for the second).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import openai
import pytest

from src.config import Config
from tests.e2e.failover_helpers import (  # noqa: F401 - fixtures
    KEYS,
    ask,
    backend,
    closed_port_url,
    fail,
    make_config,
    proxy_pool,
    sdk,
    shared_proxy_fixture,
    three_backends,
)
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step

StartProxy = Callable[[Config], RunningProxy]
ROUTES = {"a:m1": ["b:m2"]}


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 529, 401, 402, 403])
def test_a_move_on_status_is_served_by_the_fallback(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, status: int
) -> None:
    proxy = shared_proxy(make_config(three_backends(scripted.base_url), failover_routes=ROUTES))
    client = sdk(proxy)
    for stream in (False, True):
        scripted.script("m1", Step(status=status))

        text, headers = ask(client, "a:m1", stream)

        assert text == "Hello from m2", stream
        assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("b:m2", "2")
    assert scripted.models() == ["m1", "m2", "m1", "m2"]
    assert [seen.body.get("stream", False) for seen in scripted.requests] == [False, False, True, True]


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (400, openai.BadRequestError),
        (404, openai.NotFoundError),
        (413, openai.APIStatusError),
        (422, openai.UnprocessableEntityError),
    ],
)
def test_a_request_error_reaches_the_client_as_it_is(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, status: int, exception: type[openai.APIStatusError]
) -> None:
    proxy = shared_proxy(make_config(three_backends(scripted.base_url), failover_routes=ROUTES))
    client = sdk(proxy)
    for stream in (False, True):
        problem = {"code": status, "message": f"your request is wrong ({status})"}
        scripted.script("m1", Step(status=status, error=problem))

        error = fail(client, "a:m1", stream)

        assert type(error) is exception
        assert error.status_code == status
        assert f"your request is wrong ({status})" in error.message
        assert error.response.headers["x-switchyard-route"] == "a:m1"
        assert error.response.headers["x-switchyard-attempts"] == "1"
    assert scripted.models() == ["m1", "m1"]  # the fallback was never called


def test_a_refused_connection_moves_on(scripted: ScriptedUpstream, shared_proxy: StartProxy) -> None:
    backends = {"dead": backend(closed_port_url()), "b": backend(scripted.base_url, KEYS["b"])}
    proxy = shared_proxy(make_config(backends, failover_routes={"dead": ["b"]}))
    client = sdk(proxy)
    for stream in (False, True):
        text, headers = ask(client, "dead:m1", stream)

        assert text == "Hello from m1"
        assert headers["x-switchyard-route"] == "b:m1"
        assert headers["x-switchyard-attempts"] == "4"  # three tries of the refused route, then b
    assert [seen.key for seen in scripted.requests] == [KEYS["b"], KEYS["b"]]


def test_a_tls_failure_moves_on(scripted: ScriptedUpstream, shared_proxy: StartProxy) -> None:
    tls_on_plain_http = scripted.base_url.replace("http://", "https://")
    backends = {"tls": backend(tls_on_plain_http, "sk-tls-key-0001"), "b": backend(scripted.base_url, KEYS["b"])}
    proxy = shared_proxy(make_config(backends, failover_routes={"tls": ["b"]}, failover={"connect_retries": 0}))
    client = sdk(proxy)
    for stream in (False, True):
        text, headers = ask(client, "tls:m1", stream)

        assert text == "Hello from m1"
        assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("b:m1", "2")
    assert [seen.key for seen in scripted.requests] == [KEYS["b"], KEYS["b"]]  # no request reached it over TLS


def test_a_stalled_upstream_moves_on_after_its_timeout(scripted: ScriptedUpstream, shared_proxy: StartProxy) -> None:
    backends = {"a": backend(scripted.base_url, KEYS["a"], timeout=0.4), "b": backend(scripted.base_url, KEYS["b"])}
    proxy = shared_proxy(make_config(backends, failover_routes=ROUTES))
    client = sdk(proxy)
    for stream in (False, True):
        scripted.script("m1", Step(stall=3))
        started = time.monotonic()

        text, headers = ask(client, "a:m1", stream)

        assert text == "Hello from m2"
        assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("b:m2", "2")
        assert 0.3 < time.monotonic() - started < 2
    assert scripted.models() == ["m1", "m2", "m1", "m2"]


def test_an_error_hidden_in_a_200_body_moves_on(scripted: ScriptedUpstream, shared_proxy: StartProxy) -> None:
    proxy = shared_proxy(make_config(three_backends(scripted.base_url), failover_routes=ROUTES))
    scripted.script("m1", Step(completion={"error": {"code": 502, "message": "provider returned error"}}))

    text, headers = ask(sdk(proxy), "a:m1", stream=False)

    assert text == "Hello from m2"
    assert headers["x-switchyard-attempts"] == "2"

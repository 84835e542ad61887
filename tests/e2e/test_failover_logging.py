"""Every failover decision is logged at INFO on `switchyard.failover`: route, status, reason, next step.

The proxy runs in this process (in a thread), so caplog sees its records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from src.config import Config
from tests.e2e.failover_helpers import (  # noqa: F401 - fixtures
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
from tests.fakes.scripted import ScriptedUpstream, Step, error_event

StartProxy = Callable[[Config], RunningProxy]
LOGGER = "switchyard.failover"


def _decisions(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.INFO]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_moving_to_the_next_route_is_logged(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, caplog: pytest.LogCaptureFixture, stream: bool
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    proxy = shared_proxy(make_config(three_backends(scripted.base_url), failover_routes={"a:m1": ["b:m2"]}))
    scripted.script("m1", Step(status=503, error={"message": "no capacity"}))

    ask(sdk(proxy), "a:m1", stream)

    [line] = _decisions(caplog)
    assert line.startswith("failover: a:m1 failed with 503")
    assert "no capacity" in line  # the reason
    assert line.endswith("move to the next route b:m2")


def test_an_in_stream_error_before_the_first_event_is_logged(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    proxy = shared_proxy(make_config(three_backends(scripted.base_url), failover_routes={"a:m1": ["b:m2"]}))
    scripted.script("m1", Step(events=[error_event("m1", 529, "overloaded upstream")]))

    ask(sdk(proxy), "a:m1", stream=True)

    [line] = _decisions(caplog)
    assert "a:m1 failed with 529" in line and "overloaded upstream" in line and line.endswith("b:m2")


def test_every_step_of_a_long_failover_is_logged_in_order(
    scripted: ScriptedUpstream, start_proxy: StartProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    keys = ["sk-log-key-one-0001", "sk-log-key-two-0002"]
    backends = {"dead": backend(closed_port_url()), "a": backend(scripted.base_url, api_keys=keys),
                "b": backend(scripted.base_url, "sk-log-key-b-0003")}
    routes = {"dead:m0": ["a:m1", "b:m2"]}
    policy = {"connect_retries": 1, "max_attempts": 6}
    proxy = start_proxy(make_config(backends, failover_routes=routes, failover=policy))
    scripted.reject_key(keys[0], 401)
    scripted.script("m1", Step(), Step(status=429, retry_after="0"), Step(status=500))  # the first: K1, refused
    scripted.script("m2", Step(status=400))

    error = fail(sdk(proxy), "dead:m0", stream=False)

    assert error.status_code == 400
    lines = _decisions(caplog)
    assert len(lines) == 6
    assert "dead:m0 failed with 502" in lines[0] and "connection failed: retry the same route" in lines[0]
    assert "dead:m0 failed with 502" in lines[1] and lines[1].endswith("move to the next route a:m1")
    assert "a:m1 (key 1) failed with 401" in lines[2] and lines[2].endswith("try the backend's next key")
    assert "a:m1 (key 2) failed with 429" in lines[3] and "Retry-After 0s: retry the same route" in lines[3]
    assert "a:m1 (key 2) failed with 500" in lines[4] and lines[4].endswith("move to the next route b:m2")
    assert "b:m2 failed with 400" in lines[5] and "request's own problem: give up" in lines[5]
    assert not any(key in caplog.text for key in keys)


def test_giving_up_at_max_attempts_is_logged(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    config = make_config(three_backends(scripted.base_url), failover_routes={"a:m1": ["b:m2", "c:m3"]},
                         failover={"max_attempts": 2})
    proxy = shared_proxy(config)
    scripted.script("m1", Step(status=500))
    scripted.script("m2", Step(status=502))

    fail(sdk(proxy), "a:m1", stream=True)

    lines = _decisions(caplog)
    assert len(lines) == 2
    assert "b:m2 failed with 502" in lines[1] and "max_attempts (2) reached: give up" in lines[1]

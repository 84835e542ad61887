"""Cooldowns: a route that just failed is skipped by the next requests, for `cooldown` seconds."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from src.config import Config
from tests.e2e.failover_helpers import (  # noqa: F401 - fixtures
    ask,
    backends_called,
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


def _config(url: str, cooldown: float) -> Config:
    return make_config(three_backends(url), failover_routes=ROUTES, failover={"cooldown": cooldown})


@pytest.mark.parametrize("status", [500, 429, 401])
def test_a_failed_route_is_skipped_while_it_cools(
    scripted: ScriptedUpstream, start_proxy: StartProxy, status: int
) -> None:
    proxy = start_proxy(_config(scripted.base_url, cooldown=30))
    client = sdk(proxy)
    scripted.script("m1", Step(status=status))
    ask(client, "a:m1", stream=False)

    for stream in (False, True):
        text, headers = ask(client, "a:m1", stream)

        assert text == "Hello from m2"
        assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("b:m2", "1")
    assert scripted.models() == ["m1", "m2", "m2", "m2"]  # a:m1 was not called again


def test_a_cooling_route_is_still_the_fallback_of_the_route_that_skipped_it(
    scripted: ScriptedUpstream, start_proxy: StartProxy
) -> None:
    proxy = start_proxy(_config(scripted.base_url, cooldown=30))
    client = sdk(proxy)
    scripted.script("m1", Step(status=503))
    ask(client, "a:m1", stream=True)
    scripted.script("m2", Step(status=503))

    text, headers = ask(client, "a:m1", stream=True)

    assert text == "Hello from m1"  # b:m2 failed; a:m1, cooling but now the only route left, served
    assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("a:m1", "2")
    assert scripted.models() == ["m1", "m2", "m2", "m1"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_with_cooldown_zero_a_failed_route_is_tried_again(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(_config(scripted.base_url, cooldown=0))
    client = sdk(proxy)
    scripted.script("m1", Step(status=500), Step(status=500))

    first, second = ask(client, "a:m1", stream), ask(client, "a:m1", stream)

    assert first[0] == second[0] == "Hello from m2"
    assert second[1]["x-switchyard-attempts"] == "2"
    assert scripted.models() == ["m1", "m2", "m1", "m2"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_when_every_route_is_cooling_the_request_still_tries_them_in_order(
    scripted: ScriptedUpstream, start_proxy: StartProxy, stream: bool
) -> None:
    proxy = start_proxy(_config(scripted.base_url, cooldown=30))
    client = sdk(proxy)
    scripted.script("m1", Step(status=500))
    scripted.script("m2", Step(status=502))
    assert fail(client, "a:m1", stream).status_code == 502

    text, headers = ask(client, "a:m1", stream)

    assert text == "Hello from m1"
    assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("a:m1", "1")
    assert scripted.models() == ["m1", "m2", "m1"]


def test_a_route_is_tried_first_again_once_its_cooldown_ends(
    scripted: ScriptedUpstream, start_proxy: StartProxy
) -> None:
    proxy = start_proxy(_config(scripted.base_url, cooldown=0.3))
    client = sdk(proxy)
    scripted.script("m1", Step(status=500))
    ask(client, "a:m1", stream=False)
    ask(client, "a:m1", stream=False)
    time.sleep(0.35)

    text, _ = ask(client, "a:m1", stream=True)

    assert text == "Hello from m1"
    assert scripted.models() == ["m1", "m2", "m2", "m1"]


@pytest.mark.parametrize("status", [400, 404, 422])
def test_a_request_error_does_not_cool_the_route(
    scripted: ScriptedUpstream, start_proxy: StartProxy, status: int
) -> None:
    proxy = start_proxy(_config(scripted.base_url, cooldown=30))
    client = sdk(proxy)
    scripted.script("m1", Step(status=status))
    assert fail(client, "a:m1", stream=False).status_code == status

    text, _ = ask(client, "a:m1", stream=True)

    assert text == "Hello from m1"
    assert backends_called(scripted) == ["a", "a"]


def test_a_cooling_route_is_skipped_by_other_requests_whose_plans_hold_it(
    scripted: ScriptedUpstream, start_proxy: StartProxy
) -> None:
    proxy = start_proxy(_config(scripted.base_url, cooldown=30))
    client = sdk(proxy)
    scripted.script("m1", Step(status=500))
    ask(client, "a:m1", stream=False)

    text, _ = ask(client, "a:m1|c:m3", stream=True)

    assert text == "Hello from m3"
    assert scripted.models() == ["m1", "m2", "m3"]

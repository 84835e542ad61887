"""Key rotation: a backend with several upstream keys serves with the next one when a key is refused,
and never lets a key reach the client."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest

from src.config import Config
from tests.e2e.failover_helpers import (
    MESSAGES,
    ask,
    backend,
    error_body,
    fail,
    keys_of,
    make_config,
    raw_post,
    sdk,
)
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step, chunk

StartProxy = Callable[[Config], RunningProxy]
K1, K2, K3 = "sk-rotating-key-one-111", "sk-rotating-key-two-222", "sk-rotating-key-three-333"


def _config(url: str, **overrides: object) -> Config:
    backends = {"a": backend(url, api_keys=[K1, K2, K3]), "b": backend(url, "sk-fallback-b-0009")}
    return make_config(backends, failover_routes={"a": ["b"]}, **overrides)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("status", [401, 402, 429])
def test_a_refused_key_is_replaced_by_the_next_key_of_the_same_backend(
    scripted: ScriptedUpstream, start_proxy: StartProxy, status: int, stream: bool
) -> None:
    proxy = start_proxy(_config(scripted.base_url))
    scripted.reject_key(K1, status)

    text, headers = ask(sdk(proxy), "a:m1", stream)

    assert text == "Hello from m1"
    assert keys_of(scripted) == [K1, K2]
    assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("a:m1", "2")


def test_keys_are_used_round_robin(scripted: ScriptedUpstream, start_proxy: StartProxy) -> None:
    proxy = start_proxy(_config(scripted.base_url))
    client = sdk(proxy)

    for stream in (False, True, False, True):
        ask(client, "a:m1", stream)

    assert keys_of(scripted) == [K1, K2, K3, K1]


def test_a_refused_key_is_skipped_by_later_requests_while_it_cools(
    scripted: ScriptedUpstream, start_proxy: StartProxy
) -> None:
    proxy = start_proxy(_config(scripted.base_url, failover={"cooldown": 30}))
    client = sdk(proxy)
    scripted.script("m1", Step(status=401))  # the first request's first key, K1

    for stream in (False, True, False, True):
        text, _ = ask(client, "a:m1", stream)
        assert text == "Hello from m1"

    assert keys_of(scripted) == [K1, K2, K2, K3, K2]  # the fourth request's turn was K1's: it went to K2


def test_when_every_key_is_refused_the_request_moves_to_the_next_route(
    scripted: ScriptedUpstream, start_proxy: StartProxy
) -> None:
    proxy = start_proxy(_config(scripted.base_url))
    for key in (K1, K2, K3):
        scripted.reject_key(key, 402)

    text, headers = ask(sdk(proxy), "a:m1", stream=True)

    assert text == "Hello from m1"
    assert keys_of(scripted) == [K1, K2, K3, "sk-fallback-b-0009"]
    assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("b:m1", "4")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_upstream_keys_never_reach_the_client_in_a_final_error(
    scripted: ScriptedUpstream, start_proxy: StartProxy, stream: bool
) -> None:
    backends = {"a": backend(scripted.base_url, api_keys=[K1, K2, K3])}
    proxy = start_proxy(make_config(backends))
    echo = {"code": 401, "message": f"none of {K1}, {K2} or {K3} is valid (got Bearer {K1})"}
    scripted.script("m1", *(Step(status=401, error=echo) for _ in range(3)))

    error = fail(sdk(proxy), "a:m1", stream)

    assert isinstance(error, openai.AuthenticationError)
    text = error.response.text
    assert not any(key in text for key in (K1, K2, K3))
    assert "[redacted]" in error_body(error)["message"]
    assert all(f"a:m1 (key {n}): 401" in error_body(error)["message"] for n in (1, 2, 3))  # keys by position only
    assert keys_of(scripted) == [K1, K2, K3]


def test_a_key_echoed_in_an_error_event_is_masked(scripted: ScriptedUpstream, start_proxy: StartProxy) -> None:
    backends = {"a": backend(scripted.base_url, api_keys=[K1, K2])}
    proxy = start_proxy(make_config(backends))
    late_error = {**chunk("m1", {"content": ""}, "error"), "error": {"code": 502, "message": f"key {K1} broke"}}
    scripted.script("m1", Step(events=[chunk("m1", {"role": "assistant", "content": "Hi"}), late_error]))

    response = raw_post(proxy, {"model": "a:m1", "messages": MESSAGES, "stream": True})

    assert K1 not in response.text and "key [redacted] broke" in response.text

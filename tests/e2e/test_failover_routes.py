"""Which routes a request tries, in which order, and how the response says which one served it.

Backends `a`, `b` and `c` share one scripted upstream; each model name is scripted on its own,
and the key each request carried tells the backends apart.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from src.config import Config
from tests.e2e.failover_helpers import (  # noqa: F401 - fixtures
    KEYS,
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

STREAM = pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
StartProxy = Callable[[Config], RunningProxy]


@STREAM
def test_a_plain_success_names_its_route_and_one_attempt(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(three_backends(scripted.base_url), failover_routes={"a:m1": ["b:m2"]}))

    text, headers = ask(sdk(proxy), "a:m1", stream)

    assert text == "Hello from m1"
    assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("a:m1", "1")
    assert scripted.models() == ["m1"]


@STREAM
def test_routes_are_looked_up_by_selector_then_backend_then_default(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    routes = {"a:m1": ["b:s1"], "a": ["c:s2"], "default": ["c:s3"]}
    proxy = shared_proxy(make_config(three_backends(scripted.base_url), failover_routes=routes))
    client = sdk(proxy)
    for model in ("m1", "other", "third"):
        scripted.script(model, Step(status=500))

    served = [ask(client, model, stream) for model in ("a:m1", "a:other", "b:third")]

    assert [text for text, _ in served] == ["Hello from s1", "Hello from s2", "Hello from s3"]
    assert [h["x-switchyard-route"] for _, h in served] == ["b:s1", "c:s2", "c:s3"]
    assert [h["x-switchyard-attempts"] for _, h in served] == ["2", "2", "2"]
    assert scripted.models() == ["m1", "s1", "other", "s2", "third", "s3"]


@STREAM
def test_fallbacks_are_tried_in_their_listed_order(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(three_backends(scripted.base_url), failover_routes={"a:m1": ["b:m2", "c:m3"]}))
    scripted.script("m1", Step(status=500))
    scripted.script("m2", Step(status=503))

    text, headers = ask(sdk(proxy), "a:m1", stream)

    assert text == "Hello from m3"
    assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("c:m3", "3")
    assert scripted.models() == ["m1", "m2", "m3"]
    assert backends_called(scripted) == ["a", "b", "c"]


@STREAM
def test_a_bare_backend_name_means_the_same_model_there(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(three_backends(scripted.base_url), failover_routes={"a": ["b"]}))
    scripted.script("vendor/model:free", Step(status=502))

    text, headers = ask(sdk(proxy), "a:vendor/model:free", stream)

    assert text == "Hello from vendor/model:free"
    assert headers["x-switchyard-route"] == "b:vendor/model:free"
    assert scripted.models() == ["vendor/model:free", "vendor/model:free"]
    assert [seen.key for seen in scripted.requests] == [KEYS["a"], KEYS["b"]]


@STREAM
def test_inline_alternatives_are_tried_left_to_right(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(three_backends(scripted.base_url)))
    scripted.script("m1", Step(status=500))
    scripted.script("m2", Step(status=429))

    text, headers = ask(sdk(proxy), "a:m1|b:m2|c:m3", stream)

    assert text == "Hello from m3"
    assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("c:m3", "3")
    assert backends_called(scripted) == ["a", "b", "c"]


@STREAM
def test_inline_alternatives_come_before_each_legs_failover_routes(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    routes = {"a:m1": ["c:f1"], "b:m2": ["c:f2"]}
    proxy = shared_proxy(make_config(three_backends(scripted.base_url), failover_routes=routes))
    for model in ("m1", "m2", "f1"):
        scripted.script(model, Step(status=503))

    text, headers = ask(sdk(proxy), "a:m1|b:m2", stream)

    assert text == "Hello from f2"
    assert scripted.models() == ["m1", "m2", "f1", "f2"]
    assert headers["x-switchyard-attempts"] == "4"


@STREAM
def test_an_alias_replacement_may_list_alternatives(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    aliases = [{"pattern": "^smart$", "replacement": "a:m1|b:m2?temperature=0.3"}]
    proxy = shared_proxy(make_config(three_backends(scripted.base_url), model_aliases=aliases))
    scripted.script("m1", Step(status=500))

    text, headers = ask(sdk(proxy), "smart", stream)

    assert text == "Hello from m2"
    assert headers["x-switchyard-route"] == "b:m2?temperature=0.3"  # the route as a client writes it
    assert scripted.requests[1].body["temperature"] == 0.3
    assert "temperature" not in scripted.requests[0].body


@STREAM
def test_force_model_may_list_alternatives(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(three_backends(scripted.base_url), force_model="a:m1|b:m2"))
    scripted.script("m1", Step(status=503))

    text, headers = ask(sdk(proxy), "anything/the-client-wants", stream)

    assert text == "Hello from m2"
    assert (headers["x-switchyard-route"], headers["x-switchyard-attempts"]) == ("b:m2", "2")
    assert scripted.models() == ["m1", "m2"]


@STREAM
def test_a_final_error_names_the_last_route_and_counts_every_attempt(
    scripted: ScriptedUpstream, shared_proxy: StartProxy, stream: bool
) -> None:
    proxy = shared_proxy(make_config(three_backends(scripted.base_url), failover_routes={"a:m1": ["b:m2"]}))
    scripted.script("m1", Step(status=500))
    scripted.script("m2", Step(status=502))

    error = fail(sdk(proxy), "a:m1", stream)

    assert error.status_code == 502
    assert error.response.headers["x-switchyard-route"] == "b:m2"
    assert error.response.headers["x-switchyard-attempts"] == "2"
    assert scripted.models() == ["m1", "m2"]


def test_the_same_route_is_not_tried_twice(scripted: ScriptedUpstream, shared_proxy: StartProxy) -> None:
    proxy = shared_proxy(make_config(three_backends(scripted.base_url), failover_routes={"default": ["a:m1"]}))
    scripted.script("m1", Step(status=500), Step(status=500))

    error = fail(sdk(proxy), "a:m1|a:m1", stream=False)

    assert error.status_code == 500
    assert scripted.models() == ["m1"]
    assert error.response.headers["x-switchyard-attempts"] == "1"

"""Pings end to end: while a translated upstream stream is silent, the client gets `event: ping` every
interval, and the Anthropic SDK ignores them.

`PING_INTERVAL` (10 s) is bound as `translated`'s default argument, so this test swaps the function's
`__defaults__` (the in-thread server calls the same function object, through a partial that leaves the
interval unset). The step itself is tested in tests/frontends/test_anthropic_stream.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from src.config import Config
from src.frontends.anthropic_stream import translated
from tests.e2e.anthropic_helpers import (
    USER,
    local_config,
    post,
    sdk,
    sse_events,
)
from tests.fakes.proxy import RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step

StartProxy = Callable[[Config], RunningProxy]
INTERVAL = 0.05


def test_pings_reach_the_client_through_the_proxy_and_the_sdk_ignores_them(
    scripted: ScriptedUpstream, start_proxy: StartProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(translated, "__defaults__", (INTERVAL,))
    proxy = start_proxy(local_config(scripted.base_url))
    scripted.script("m", Step(pause_after=3), Step(pause_after=3))  # a 0.3 s silence after "Hello"

    raw = sse_events(post(proxy, {"model": "m", "max_tokens": 8, "messages": USER, "stream": True}).text)
    with sdk(proxy).messages.stream(model="m", max_tokens=8, messages=USER) as stream:
        message = stream.get_final_message()

    names = [name for name, _ in raw]
    assert names.count("ping") >= 2
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert message.content[0].text == "Hello from m"  # type: ignore[union-attr]

"""The hostile upstream's echoes of its key reach no log line either, and no client in any JSON
spelling a client's parser turns back into the key."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import httpx
import pytest

from src.config import Config
from tests.e2e.test_trust_keys import CASES, KEY, NATIVE_KEY, exercise, trust_config
from tests.fakes.hostile import HostileUpstream, Reply, body_of, completion, sse
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.proxy_setup import serving
from tests.fakes.threaded import shared

SECRETS = (KEY, NATIVE_KEY, KEY.replace("/", "\\/"), NATIVE_KEY.replace("/", "\\/"))


hostile_server, hostile = shared("hostile", HostileUpstream)


@pytest.fixture(scope="module")
def log_proxy(hostile_server: HostileUpstream) -> Iterator[RunningProxy]:
    yield from serving(trust_config(hostile_server.base_url))


def _run_every_case(proxy: RunningProxy, hostile: HostileUpstream) -> None:
    for case in CASES:
        exercise(proxy, hostile, case)
    assert len(hostile.requests) == len(CASES)


def test_no_key_in_any_log_record(log_proxy: RunningProxy, hostile: HostileUpstream, caplog: pytest.LogCaptureFixture) -> None:
    """The records themselves are masked, so every handler writes them masked: the CLI's, an embedding app's."""
    caplog.set_level(logging.DEBUG)

    _run_every_case(log_proxy, hostile)

    leaking = [f"{r.name}: {r.getMessage()}" for r in caplog.records if any(s in r.getMessage() for s in SECRETS)]
    assert leaking == []
    assert [s for s in SECRETS if s in caplog.text] == []  # tracebacks included
    assert any("[redacted]" in r.getMessage() for r in caplog.records)  # the upstream's echoes were logged, masked


# --- the key in JSON spellings other than the plain one and `\/` --------------------------------------

ODD_KEY = "sk-odd+key&<0003>"
# .NET's System.Text.Json escapes + & < > by default, Go's encoding/json & < >: a JSON parser reads the key.
SPELLINGS = {
    "dotnet": ODD_KEY.replace("+", "\\u002B").replace("&", "\\u0026").replace("<", "\\u003C").replace(">", "\\u003E"),
    "go": ODD_KEY.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"),
}


@pytest.mark.parametrize("encoder", sorted(SPELLINGS))
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_key_echoed_with_unicode_escapes_is_masked(
    hostile: HostileUpstream, start_proxy: Callable[[Config], RunningProxy], encoder: str, stream: bool
) -> None:
    proxy = start_proxy(trust_config(hostile.base_url, key=ODD_KEY))
    text = f"echo {SPELLINGS[encoder]}"
    if stream:
        chunk = {"id": "g", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "@"}}]}
        reply = Reply(events=[sse(chunk).replace(b"@", text.encode()), b"data: [DONE]"])
    else:
        reply = Reply(body=body_of(completion("@")).replace(b"@", text.encode()))
    hostile.script("m", reply)

    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    response = httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {PROXY_KEY}"})

    assert hostile.requests[0].key == ODD_KEY
    lines = [line.removeprefix(b"data: ") for line in response.content.split(b"\n") if line.startswith(b"data: {")]
    decoded = [json.loads(line) for line in lines] if stream else [response.json()]
    assert decoded, response.content
    assert ODD_KEY not in json.dumps(decoded, ensure_ascii=False)

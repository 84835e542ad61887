"""Shared pieces of the failover and hybrid end-to-end tests.

Test modules import the fixtures under their own names (`shared_proxy_fixture`), so that a
test's `shared_proxy` argument shadows no import; the scripted upstream (`scripted`) is every
end-to-end module's, in conftest.py:

    from tests.e2e.failover_helpers import proxy_pool  # noqa: F401
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from pydantic import SecretStr

from src.config import Config
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import ScriptedUpstream

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
KEYS = {"a": "sk-upstream-a-0001", "b": "sk-upstream-b-0002", "c": "sk-upstream-c-0003"}


@pytest.fixture(scope="session")
def proxy_pool() -> Iterator[dict[str, RunningProxy]]:
    pool: dict[str, RunningProxy] = {}
    yield pool
    with ThreadPoolExecutor() as stopping:  # each stop waits for uvicorn's 0.1 s ticks: all at once
        list(stopping.map(RunningProxy.stop, pool.values()))


@pytest.fixture(name="shared_proxy")
def shared_proxy_fixture(proxy_pool: dict[str, RunningProxy]) -> Callable[[Config], RunningProxy]:
    """Like `start_proxy`, but one proxy per distinct config, kept for the session: stopping a proxy
    costs 0.2 s. Only for configs that keep no state between requests: `cooldown: 0` and no backend
    with several keys (whose rotation goes on from request to request)."""

    def get(config: Config) -> RunningProxy:
        assert config.failover.cooldown == 0, "a shared proxy must not remember failures"
        assert all(len(b.upstream_keys()) < 2 for b in config.backends.values()), "a shared proxy must not rotate keys"
        fingerprint = json.dumps(config.model_dump(), sort_keys=True, default=_plain)
        if fingerprint not in proxy_pool:
            proxy_pool[fingerprint] = RunningProxy(config).start()
        return proxy_pool[fingerprint]

    return get


def _plain(value: object) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else repr(value)


def closed_port_url() -> str:
    """A base_url whose port was bound and closed again: connections to it are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def backend(url: str, key: str | None = None, **extra: Any) -> dict[str, Any]:
    """An `openai` backend with a 1 s data timeout."""
    spec: dict[str, Any] = {"type": "openai", "base_url": url, "timeout": 1, **extra}
    if key is not None:
        spec["api_key"] = key
    return spec


def three_backends(url: str) -> dict[str, Any]:
    """Backends `a`, `b` and `c` on the same scripted upstream, told apart by their keys."""
    return {name: backend(url, key) for name, key in KEYS.items()}


def make_config(backends: dict[str, Any], **overrides: Any) -> Config:
    raw: dict[str, Any] = {
        "auth": {"api_keys": [{"name": "alice", "key": PROXY_KEY}]},
        "backends": backends,
        "default_backend": next(iter(backends)),
        "failover": {"deadline": 10, "max_retry_wait": 2, "cooldown": 0},
    }
    failover = overrides.pop("failover", {})
    raw.update(overrides)
    raw["failover"] = {**raw["failover"], **failover}
    return Config.model_validate(raw)


def sdk(proxy: RunningProxy, **kwargs: Any) -> openai.OpenAI:
    # No SDK retries: each test sees exactly the proxy's first answer.
    # Plain-HTTP loopback only: an HTTP client without certificate loading starts 50x faster.
    kwargs.setdefault("api_key", PROXY_KEY)
    kwargs.setdefault("http_client", openai.DefaultHttpxClient(verify=False))
    return openai.OpenAI(base_url=f"{proxy.url}/v1", max_retries=0, **kwargs)


def ask(client: openai.OpenAI, model: str, stream: bool, **kwargs: Any) -> tuple[str, Mapping[str, str]]:
    """The answer's text and the response headers, streamed or not."""
    messages = kwargs.pop("messages", MESSAGES)
    raw = client.chat.completions.with_raw_response.create(model=model, messages=messages, stream=stream, **kwargs)
    parsed = raw.parse()
    if stream:
        assert isinstance(parsed, openai.Stream)
        text = "".join(c.choices[0].delta.content or "" for c in parsed if c.choices)
    else:
        assert isinstance(parsed, ChatCompletion)
        text = parsed.choices[0].message.content or ""
    return text, raw.headers


def fail(client: openai.OpenAI, model: str, stream: bool, **kwargs: Any) -> openai.APIStatusError:
    """The error the SDK raises for a request the proxy refuses with an HTTP status."""
    with pytest.raises(openai.APIStatusError) as caught:
        ask(client, model, stream, **kwargs)
    return caught.value


def error_body(error: openai.APIError) -> dict[str, Any]:
    """The error object of the proxy's envelope, as the SDK parsed it."""
    assert isinstance(error.body, dict)
    return error.body


def raw_post(proxy: RunningProxy, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    auth = {"Authorization": f"Bearer {PROXY_KEY}"}
    return httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers={**auth, **(headers or {})}, timeout=10,
                      verify=False)


def header(headers: dict[str, str], name: str) -> str | None:
    """A recorded header, whatever the case of its name."""
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)


def wait_until(condition: Callable[[], bool], seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def keys_of(scripted: ScriptedUpstream) -> list[str]:
    return [seen.key for seen in scripted.requests]


def backends_called(scripted: ScriptedUpstream) -> list[str]:
    """Which of `a`, `b`, `c` each recorded request came from (by its key)."""
    names = {key: name for name, key in KEYS.items()}
    return [names.get(seen.key, "?") for seen in scripted.requests]


# --- hybrid -------------------------------------------------------------------------------------------

REASONING = "The user greets me. A short, friendly reply fits."


def hybrid_backends(url: str, reasoning_timeout: float = 2) -> dict[str, Any]:
    """`or` and `local` on the scripted upstream, and `h`: reasoning on or:r1, answer from or:small."""
    return {
        "or": backend(url, "sk-or-hybrid-key-0001", timeout=2),
        "local": backend(url, "sk-local-key-0002"),
        "h": {"type": "hybrid", "reasoning_model": "or:r1", "execution_model": "or:small",
              "reasoning_timeout": reasoning_timeout},
    }


def reasoning_of(
    client: openai.OpenAI, model: str, stream: bool, **kwargs: Any
) -> tuple[str, str | None, Mapping[str, str]]:
    """The answer, the reasoning the client got with it (message or first delta), and the headers."""
    messages = kwargs.pop("messages", MESSAGES)
    raw = client.chat.completions.with_raw_response.create(model=model, messages=messages, stream=stream, **kwargs)
    parsed = raw.parse()
    if not stream:
        assert isinstance(parsed, ChatCompletion)
        message = parsed.choices[0].message
        return message.content or "", (message.model_extra or {}).get("reasoning"), raw.headers
    assert isinstance(parsed, openai.Stream)
    chunks = [c for c in parsed if c.choices]
    reasoning = [(c.choices[0].delta.model_extra or {}).get("reasoning") for c in chunks]
    assert all(r is None for r in reasoning[1:]), "the reasoning comes once, on the first delta"
    return "".join(c.choices[0].delta.content or "" for c in chunks), reasoning[0], raw.headers

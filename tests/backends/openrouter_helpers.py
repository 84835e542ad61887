"""Shared by the OpenRouter backend tests: a backend over httpx, faked with respx, and its requests."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from src.backends.openrouter import OpenRouterBackend
from src.config import Identity, OpenRouterBackendConfig
from src.wire.errors import UpstreamStatusError
from tests.backends.calls import send
from tests.fakes.httpx_transport import HttpxTransport

BASE = "https://or.test/api/v1"
CHAT_URL = f"{BASE}/chat/completions"
MODELS_URL = f"{BASE}/models"
NAME = "or-main"
# Odd spacing, a non-ASCII character and a trailing newline: any re-serialisation would show.
BODY = b'{"model":"openai/gpt-4o",  "messages":[{"role":"user","content":"h\xc3\xa9"}],"stream":false}\n'
COMPLETION = {"id": "gen-1", "object": "chat.completion", "choices": []}


def make_backend(
    *,
    api_key: str | None = "sk-or-1",
    api_keys: list[str] | None = None,
    identity: Identity | None = None,
    global_identity: Identity | None = None,
    base_url: str = BASE,
    timeout: float | None = None,
) -> OpenRouterBackend:
    kwargs: dict = {"type": "openrouter", "base_url": base_url}
    if api_keys is not None:
        kwargs["api_keys"] = api_keys
    else:
        kwargs["api_key"] = api_key
    if identity is not None:
        kwargs["identity"] = identity
    if timeout is not None:
        kwargs["timeout"] = timeout
    config = OpenRouterBackendConfig(**kwargs)
    transport = HttpxTransport(httpx.AsyncClient())
    return OpenRouterBackend(NAME, config, transport, global_identity or Identity())


async def chat_request(
    backend: OpenRouterBackend, router: respx.MockRouter, client_headers: dict | None = None, body: bytes = BODY
) -> httpx.Request:
    route = router.post(CHAT_URL).respond(200, json=COMPLETION)
    response = await send(backend, body, client_headers)
    assert response.status == 200
    assert json.loads(await response.read()) == COMPLETION
    assert route.call_count >= 1
    return route.calls.last.request


async def chat_error(router: respx.MockRouter, status: int, **respond) -> UpstreamStatusError:
    router.post(CHAT_URL).respond(status, **respond)
    with pytest.raises(UpstreamStatusError) as info:
        await send(make_backend(), BODY)
    return info.value

"""Shared by the backend tests: a client's request as a backend receives it, sent on its own model's route."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from starlette.datastructures import Headers

from src.backends.answer import Answer
from src.backends.base import Backend, Call
from src.routing.plan import Route


def call_of(body: bytes, client_headers: Mapping[str, str] | None = None) -> Call:
    """The request; its headers are looked up case-insensitively, as the server's are."""
    headers = client_headers if isinstance(client_headers, Headers) else Headers(dict(client_headers or {}))
    return Call(body, orjson.loads(body), headers)


async def send(
    backend: Backend, body: bytes, client_headers: Mapping[str, str] | None = None, key: int | None = None
) -> Answer:
    """`body` sent on the route of its own model, so it is forwarded as it came."""
    call = call_of(body, client_headers)
    return await backend.chat(call, Route(backend.name, call.body["model"]), key)

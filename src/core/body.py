"""Reading a request body, bounded in size."""

from __future__ import annotations

from collections.abc import Mapping

from src.core.asgi import Receive
from src.core.disconnect import ClientDisconnected
from src.wire.errors import RequestTooLarge


async def read_body(receive: Receive, headers: Mapping[str, str], limit: int) -> bytes:
    """The raw request body, refused once it passes `limit` bytes (declared or actually sent)."""
    declared = headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(f"the request body is larger than {limit / 1048576:g} MiB (max_request_mb)")

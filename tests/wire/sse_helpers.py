"""Shared by the streaming tests: SSE events as an OpenAI-compatible upstream sends them, and an
upstream stream cut into event batches exactly as an answer cuts it (`HttpAnswer.events`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson

from src.backends.answer import HttpAnswer
from src.wire.openai_chat import CHAT
from src.wire.protocol import WireProtocol
from src.wire.sse import MAX_EVENT, Event


def data(payload: object) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def delta(text: str) -> bytes:
    choices = [{"index": 0, "delta": {"content": text}}]
    return data({"id": "gen-1", "object": "chat.completion.chunk", "choices": choices})


# OpenRouter's mid-stream error: a chunk with a top-level `error` and finish_reason "error".
OPENROUTER_ERROR = data(
    {
        "id": "gen-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "openai/gpt-4o",
        "provider": "OpenAI",
        "error": {"code": "server_error", "message": "Provider disconnected unexpectedly"},
        "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
    }
)


class ChunkedResponse:
    """An upstream's streamed response: the given chunks, then `raise_after` if any."""

    status = 200

    def __init__(self, chunks: list[bytes], raise_after: Exception | None = None) -> None:
        self.headers = {"content-type": "text/event-stream"}
        self.chunks = chunks
        self.raise_after = raise_after
        self.closed = 0

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.raise_after is not None:
            raise self.raise_after

    async def read(self) -> bytes:
        return b"".join(self.chunks)

    async def aclose(self) -> None:
        self.closed += 1


def _no_failure(*args: object) -> None:
    raise AssertionError("an in-band failure is not looked for here")


def upstream_events(
    chunks: list[bytes],
    raise_after: Exception | None = None,
    protocol: WireProtocol = CHAT,
    origin: str = "openrouter",
    max_event: int = MAX_EVENT,
) -> AsyncIterator[list[Event]]:
    """The batches of events an upstream streaming `chunks` gives."""
    response = ChunkedResponse(chunks, raise_after)
    return HttpAnswer(response, protocol, origin, _no_failure, max_event).events()  # type: ignore[arg-type]


async def batches_of(*batches: list[bytes]) -> AsyncIterator[list[Event]]:
    """Batches of events, as given."""
    for batch in batches:
        yield [Event(raw) for raw in batch]

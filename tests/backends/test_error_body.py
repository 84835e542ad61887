"""An upstream's error answer is read only as far as MAX_ERROR_BODY: a huge or endless one must not hold
max_response_mb of memory per request while failover tries the next route."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import pytest

from src.backends.http import MAX_ERROR_BODY, error_body
from src.backends.openai import OpenAIBackend
from src.config import Identity, OpenAIBackendConfig
from src.transports.base import UpstreamRequest
from src.wire.errors import UpstreamStatusError, UpstreamUnreachable
from tests.backends.calls import send
from tests.backends.responses import JSON

pytestmark = pytest.mark.anyio

PIECE = b"x" * 4096


class EndlessResponse:
    """An error answer whose body never ends (or breaks off after `breaks_after` chunks)."""

    def __init__(self, first: bytes, status: int = 500, breaks_after: int | None = None) -> None:
        self.status = status
        self.headers: Mapping[str, str] = JSON
        self.first = first
        self.breaks_after = breaks_after
        self.served = 0
        self.closed = False

    async def read(self) -> bytes:
        raise AssertionError("an error answer is never read whole")

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        yield self.first
        while True:
            if self.breaks_after is not None and self.served >= self.breaks_after:
                raise UpstreamUnreachable("local", "the upstream closed the connection mid-response")
            self.served += 1
            yield PIECE

    async def aclose(self) -> None:
        self.closed = True


class OneAnswer:
    def __init__(self, response: EndlessResponse) -> None:
        self.response = response

    async def send(self, request: UpstreamRequest) -> EndlessResponse:
        return self.response

    async def aclose(self) -> None:
        return None


async def test_an_endless_error_body_is_read_only_to_its_cap_and_let_go() -> None:
    response = EndlessResponse(b'{"error": {"message": "overloaded"}}')
    body = await error_body(response)
    assert len(body) == MAX_ERROR_BODY
    assert body.startswith(b'{"error"')
    assert response.served <= MAX_ERROR_BODY // len(PIECE) + 1
    assert response.closed


async def test_an_error_body_that_breaks_off_keeps_what_arrived() -> None:
    response = EndlessResponse(b"upstream says: busy ", breaks_after=2)
    body = await error_body(response)
    assert body == b"upstream says: busy " + PIECE * 2
    assert response.closed


async def test_a_backend_quotes_the_start_of_an_endless_error() -> None:
    response = EndlessResponse(b'{"error": {"message": "try again later", "code": 503}}', status=503)
    config = OpenAIBackendConfig(type="openai", base_url="http://llm.test/v1")
    backend = OpenAIBackend("local", config, OneAnswer(response), Identity())
    with pytest.raises(UpstreamStatusError) as info:
        await send(backend, b'{"model": "m", "messages": []}')
    assert info.value.status == 503
    assert info.value.message == "local: try again later"  # the JSON at its start, though more follows
    assert response.closed and response.served <= MAX_ERROR_BODY // len(PIECE) + 1

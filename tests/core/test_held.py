"""held: answers held back until they can no longer fail over (first_event, read_whole, PrimedStream)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import httpx
import orjson
import pytest

from src.backends.openai import OpenAIBackend
from src.config import Identity, OpenAIBackendConfig
from src.wire.errors import UpstreamStatusError, UpstreamUnreachable
from src.failover.held import BufferedResponse, PrimedStream, first_event, read_whole
from tests.fakes.httpx_transport import HttpxTransport

pytestmark = pytest.mark.anyio

KEY = "sk-held-secret-0001"
SSE = {"content-type": "text/event-stream; charset=utf-8"}
JSON = {"content-type": "application/json"}
CHUNK = b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
DONE = b"data: [DONE]\n\n"


class FakeUpstream:
    """An UpstreamResponse whose body arrives in the given chunks."""

    def __init__(self, chunks: list[bytes], headers: Mapping[str, str] = SSE, status: int = 200) -> None:
        self.status = status
        self.headers = dict(headers)
        self.chunks = chunks
        self.served = 0  # chunks handed out so far
        self.closed = False

    async def read(self) -> bytes:
        return b"".join(self.chunks)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.served += 1
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
def backend() -> OpenAIBackend:
    config = OpenAIBackendConfig(type="openai", base_url="http://127.0.0.1:9/v1", api_key=KEY)
    return OpenAIBackend("local", config, HttpxTransport(httpx.AsyncClient()), Identity())


async def chunks_of(response: object) -> list[bytes]:
    return [chunk async for chunk in response.iter_chunks()]  # type: ignore[attr-defined]


# --- first_event --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunks", "read_before"),
    [
        ([CHUNK, DONE], 1),
        ([b": OPENROUTER PROCESSING\n\n", b": OPENROUTER PROCESSING\n\n", CHUNK, DONE], 3),
        ([b": keep-alive\n\n" + CHUNK[:20], CHUNK[20:], CHUNK, DONE], 2),
        ([b"data: {", b'"id":"c1"}\n', b"\n", DONE], 3),
        ([b"event: message\r\ndata: {}\r\n\r\n", DONE], 1),  # CRLF endings
        ([b'data: {"id":"c1"}\n\ndata: {"id":"c2"}\n\n', DONE], 1),
        ([b'data: {"id":"c1"}'], 1),  # a last event without its blank line, but whole
        ([DONE], 1),
    ],
)
async def test_first_event_commits_on_first_data_event(backend, chunks: list[bytes], read_before: int) -> None:
    upstream = FakeUpstream(chunks)
    primed = await first_event(upstream, backend)
    assert isinstance(primed, PrimedStream)
    assert upstream.served == read_before  # nothing read past the first data event
    assert (primed.status, primed.headers) == (200, SSE)
    assert await chunks_of(primed) == chunks  # everything, comments included, byte for byte
    assert not upstream.closed


async def test_primed_stream_read_replays_then_reads_the_rest(backend) -> None:
    chunks = [b": hi\n\n", CHUNK, b'data: {"id":"c2"}\n\n', DONE]
    primed = await first_event(FakeUpstream(chunks), backend)
    assert await primed.read() == b"".join(chunks)


async def test_primed_stream_replays_only_once(backend) -> None:
    primed = await first_event(FakeUpstream([CHUNK, DONE]), backend)
    assert await chunks_of(primed) == [CHUNK, DONE]
    assert await chunks_of(primed) == []


async def test_primed_stream_aclose_closes_the_upstream(backend) -> None:
    upstream = FakeUpstream([CHUNK, DONE, DONE])
    primed = await first_event(upstream, backend)
    await primed.aclose()
    assert upstream.closed
    assert upstream.served == 1  # the rest was never read
    assert [chunk async for chunk in primed.rest] == []


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ({"code": 429, "message": "Rate limit exceeded"}, 429),
        ({"code": 503, "message": "No instances available"}, 503),
        ({"code": "502", "message": "Provider returned error"}, 502),
        ({"code": "server_error", "message": "boom"}, 502),
        ({"message": "no code"}, 502),
        ({"code": 200, "message": "odd"}, 502),
        ({"code": 700, "message": "odd"}, 502),
        ("a plain string", 502),
    ],
)
async def test_error_as_first_event_raises_its_status(backend, error: object, status: int) -> None:
    event = b"data: " + orjson.dumps({"error": error}) + b"\n\n"
    upstream = FakeUpstream([b": OPENROUTER PROCESSING\n\n", event, DONE], {**SSE, "retry-after": "2"})
    with pytest.raises(UpstreamStatusError) as caught:
        await first_event(upstream, backend)
    assert caught.value.status == status
    assert caught.value.backend == "local"
    assert caught.value.retry_after == "2"
    message = error["message"] if isinstance(error, dict) else error
    assert caught.value.message == f"local: {message}"


async def test_error_event_is_redacted(backend) -> None:
    event = b"data: " + orjson.dumps({"error": {"code": 401, "message": f"bad key {KEY}"}}) + b"\n\n"
    with pytest.raises(UpstreamStatusError) as caught:
        await first_event(FakeUpstream([event]), backend)
    assert caught.value.status == 401
    assert KEY not in caught.value.message and "[redacted]" in caught.value.message


async def test_error_after_content_is_not_first_event_business(backend) -> None:
    error = b'data: {"error":{"code":500,"message":"mid-stream"}}\n\n'
    primed = await first_event(FakeUpstream([CHUNK, error]), backend)
    assert await chunks_of(primed) == [CHUNK, error]


@pytest.mark.parametrize(
    "chunks",
    [
        [],
        [b""],
        [b": OPENROUTER PROCESSING\n\n", b": OPENROUTER PROCESSING\n\n"],
        [b"event: ping\n\n"],
        [b'data: {"id":"c1","choi'],  # cut halfway through the first event
        [b"\n\n\n"],
    ],
)
async def test_stream_ending_before_any_data_is_unreachable(backend, chunks: list[bytes]) -> None:
    with pytest.raises(UpstreamUnreachable) as caught:
        await first_event(FakeUpstream(chunks), backend)
    assert caught.value.status == 502
    assert caught.value.message == "local: the stream ended before its first event"


@pytest.mark.parametrize("headers", [JSON, {}, {"content-type": "text/plain"}])
async def test_non_sse_is_passed_through_untouched(backend, headers: dict[str, str]) -> None:
    upstream = FakeUpstream([b'{"error": {"code": 500}}'], headers)
    assert await first_event(upstream, backend) is upstream
    assert upstream.served == 0


# --- read_whole ---------------------------------------------------------------------------------------------

COMPLETION = {"id": "c1", "object": "chat.completion", "choices": [{"index": 0, "message": {"content": "Hi"}}]}


@pytest.mark.parametrize(
    "body",
    [
        COMPLETION,
        {**COMPLETION, "error": None},
        {**COMPLETION, "error": {}},
        {**COMPLETION, "error": ""},
        {**COMPLETION, "error": {"code": 500, "message": "provider hiccup, answered anyway"}},
        {"error": {}},
        {"error": None},
        {"id": "c1", "choices": [{"message": {"content": 'the word "error" in an answer'}}]},
        [{"error": {"code": 500}}],
    ],
)
async def test_read_whole_passes_answers(backend, body: object) -> None:
    payload = orjson.dumps(body)
    upstream = FakeUpstream([payload[:5], payload[5:]], JSON)
    response = await read_whole(upstream, backend)
    assert isinstance(response, BufferedResponse)
    assert (response.status, response.headers, response.body) == (200, JSON, payload)
    assert await response.read() == payload
    assert await chunks_of(response) == [payload]
    await response.aclose()


async def test_read_whole_passes_what_is_not_json(backend) -> None:
    response = await read_whole(FakeUpstream([b'not json, but says "error"'], JSON), backend)
    assert response.body == b'not json, but says "error"'


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"error": {"code": 429, "message": "Rate limited"}}, 429, "Rate limited"),
        ({"error": {"code": "402", "message": "Insufficient credits"}}, 402, "Insufficient credits"),
        ({"error": {"code": "server_error", "message": "boom"}}, 502, "boom"),
        ({"error": "plain string"}, 502, "plain string"),
        ({"error": {"code": 503, "message": "down"}, "choices": []}, 503, "down"),
        (
            {"error": {"code": 502, "message": "cut"}, "choices": [{"index": 0, "finish_reason": "error"}]},
            502,
            "cut",
        ),
    ],
)
async def test_read_whole_raises_an_error_in_a_200(backend, body: dict, status: int, message: str) -> None:
    upstream = FakeUpstream([orjson.dumps(body)], {**JSON, "retry-after": "7"})
    with pytest.raises(UpstreamStatusError) as caught:
        await read_whole(upstream, backend)
    assert (caught.value.status, caught.value.message, caught.value.retry_after) == (status, f"local: {message}", "7")

"""held: answers held back until they can no longer fail over (first_event, read_whole, PrimedAnswer)."""

from __future__ import annotations

import orjson
import pytest

from src.backends.answer import Answer, BufferedAnswer, HttpAnswer
from src.backends.openai import OpenAIBackend
from src.config import Identity, OpenAIBackendConfig
from src.failover.held import PrimedAnswer, first_event, read_whole
from src.wire.errors import UpstreamProtocolError, UpstreamStatusError, UpstreamUnreachable
from src.wire.openai_chat import CHAT
from src.wire.sse import MAX_EVENT, Event, joined
from tests.backends.responses import JSON, SSE, FakeResponse

pytestmark = pytest.mark.anyio

KEY = "sk-held-secret-0001"
CHUNK = b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
DONE = b"data: [DONE]\n\n"
COMPLETION = {"id": "c1", "object": "chat.completion", "choices": [{"index": 0, "message": {"content": "Hi"}}]}


@pytest.fixture
def backend() -> OpenAIBackend:
    config = OpenAIBackendConfig(type="openai", base_url="http://127.0.0.1:9/v1", api_key=KEY)
    return OpenAIBackend("local", config, object(), Identity())  # type: ignore[arg-type] # never sends


def answer_of(upstream: FakeResponse, backend: OpenAIBackend) -> HttpAnswer:
    return HttpAnswer(upstream, CHAT, backend.name, backend.in_band_failure, MAX_EVENT)


async def events_of(answer: Answer) -> list[Event]:
    return [event async for batch in answer.events() for event in batch]


# --- first_event --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunks", "read_before", "replayed"),
    [
        ([CHUNK, DONE], 1, None),
        ([b": OPENROUTER PROCESSING\n\n", b": OPENROUTER PROCESSING\n\n", CHUNK, DONE], 3, None),
        ([b": keep-alive\n\n" + CHUNK[:20], CHUNK[20:], CHUNK, DONE], 2, None),
        ([b"data: {", b'"id":"c1"}\n', b"\n", DONE], 3, None),
        ([b"event: message\r\ndata: {}\r\n\r\n", DONE], 1, b"event: message\ndata: {}\n\n" + DONE),  # CRLF: LF
        ([b'data: {"id":"c1"}\n\ndata: {"id":"c2"}\n\n', DONE], 1, None),
        ([b'data: {"id":"c1"}'], 1, b'data: {"id":"c1"}\n\n'),  # a last event without its blank line, but whole
        ([DONE], 1, None),
        ([b'data: {"error":{"code":null,"message":""},"choices":[{"delta":{"content":"Hi"}}]}\n\n'], 1, None),
    ],
)
async def test_first_event_commits_on_first_data_event(
    backend, chunks: list[bytes], read_before: int, replayed: bytes | None
) -> None:
    upstream = FakeResponse(chunks)
    primed = await first_event(answer_of(upstream, backend))
    assert isinstance(primed, PrimedAnswer) and primed.is_stream
    assert upstream.served == read_before  # nothing read past the first data event
    assert (primed.status, primed.headers, primed.origin) == (200, SSE, "local")
    assert joined(await events_of(primed)) == (replayed or b"".join(chunks))  # comments included, byte for byte
    assert not upstream.closed


async def test_primed_answer_replays_then_reads_the_rest(backend) -> None:
    chunks = [b": hi\n\n", CHUNK, b'data: {"id":"c2"}\n\n', DONE]
    upstream = FakeResponse(chunks)
    primed = await first_event(answer_of(upstream, backend))
    assert upstream.served == 2
    assert joined(await events_of(primed)) == b"".join(chunks)
    assert upstream.served == 4


async def test_primed_answer_replays_only_once(backend) -> None:
    primed = await first_event(answer_of(FakeResponse([CHUNK, DONE]), backend))
    assert joined(await events_of(primed)) == CHUNK + DONE
    assert await events_of(primed) == []


async def test_primed_answer_aclose_closes_the_upstream(backend) -> None:
    upstream = FakeResponse([CHUNK, DONE, DONE])
    primed = await first_event(answer_of(upstream, backend))
    await primed.aclose()
    assert upstream.closed
    assert joined(await events_of(primed)) == CHUNK  # what was read; the rest is cut
    assert upstream.served == 1  # the rest was never read


ERRORS = [
    ({"code": 429, "message": "Rate limit exceeded"}, 429),
    ({"code": 503, "message": "No instances available"}, 503),
    ({"code": "502", "message": "Provider returned error"}, 502),
    ({"code": "server_error", "message": "boom"}, 502),
    ({"message": "no code"}, 502),
    ({"code": 200, "message": "odd"}, 502),
    ({"code": 700, "message": "odd"}, 502),
    ("a plain string", 502),
]


@pytest.mark.parametrize(("error", "status"), ERRORS)
async def test_error_as_first_event_raises_its_status(backend, error: object, status: int) -> None:
    event = b"data: " + orjson.dumps({"error": error}) + b"\n\n"
    upstream = FakeResponse([b": OPENROUTER PROCESSING\n\n", event, DONE], {**SSE, "retry-after": "2"})
    with pytest.raises(UpstreamStatusError) as caught:
        await first_event(answer_of(upstream, backend))
    assert caught.value.status == status
    assert caught.value.backend == "local"
    message = error["message"] if isinstance(error, dict) else error
    assert caught.value.message == f"local: {message}"


@pytest.mark.parametrize("read", ["stream", "whole"])
async def test_in_band_error_keeps_the_answers_retry_after(backend, read: str) -> None:
    body = orjson.dumps({"error": {"code": 429, "message": "Rate limited"}})
    if read == "stream":
        upstream = FakeResponse([b"data: " + body + b"\n\n"], {**SSE, "retry-after": "2"})
    else:
        upstream = FakeResponse([body], {**JSON, "retry-after": "2"})
    with pytest.raises(UpstreamStatusError) as caught:
        await (first_event if read == "stream" else read_whole)(answer_of(upstream, backend))
    assert caught.value.retry_after == "2"


async def test_an_error_event_quoting_the_key_is_masked_where_it_enters(backend) -> None:
    """The backend masks the keys it sent, so that the failover log never holds them."""
    event = b"data: " + orjson.dumps({"error": {"code": 401, "message": f"bad key {KEY}"}}) + b"\n\n"
    with pytest.raises(UpstreamStatusError) as caught:
        await first_event(answer_of(FakeResponse([event]), backend))
    assert caught.value.status == 401
    assert caught.value.message == "local: bad key [redacted]"


async def test_error_after_content_is_not_first_event_business(backend) -> None:
    error = b'data: {"error":{"code":500,"message":"mid-stream"}}\n\n'
    primed = await first_event(answer_of(FakeResponse([CHUNK, error]), backend))
    assert joined(await events_of(primed)) == CHUNK + error


@pytest.mark.parametrize(
    "chunks",
    [
        [],
        [b""],
        [b": OPENROUTER PROCESSING\n\n", b": OPENROUTER PROCESSING\n\n"],
        [b"event: ping\n\n"],  # an event with no data shows nothing
        [b'data: {"id":"c1","choi'],  # cut halfway through the first event
        [b"\n\n\n"],
    ],
)
async def test_stream_ending_before_any_data_is_unreachable(backend, chunks: list[bytes]) -> None:
    upstream = FakeResponse(chunks)
    with pytest.raises(UpstreamUnreachable) as caught:
        await first_event(answer_of(upstream, backend))
    assert caught.value.status == 502
    assert caught.value.message == "local: the stream ended before its first event"


# --- a whole answer to a streaming request ------------------------------------------------------------------


@pytest.mark.parametrize("headers", [JSON, {}, {"content-type": "text/plain"}])
async def test_whole_completion_is_replayed_as_a_stream(backend, headers: dict[str, str]) -> None:
    payload = orjson.dumps({**COMPLETION, "usage": {"prompt_tokens": 3, "completion_tokens": 1}})
    upstream = FakeResponse([payload], headers)
    primed = await first_event(answer_of(upstream, backend))
    assert isinstance(primed, PrimedAnswer) and primed.is_stream
    assert upstream.served == 0  # read whole, not as chunks
    events = await events_of(primed)
    assert joined(events) == joined(CHAT.replay(payload) or [])
    assert events[-1].raw == DONE
    assert b'"content":"Hi"' in joined(events) and b'"prompt_tokens":3' in joined(events)


@pytest.mark.parametrize("headers", [JSON, {}, {"content-type": "text/plain"}])
async def test_whole_error_to_a_streaming_request_is_raised(backend, headers: dict[str, str]) -> None:
    upstream = FakeResponse([b'{"error": {"code": 500, "message": "down"}}'], headers)
    with pytest.raises(UpstreamStatusError) as caught:
        await first_event(answer_of(upstream, backend))
    assert (caught.value.status, caught.value.message) == (500, "local: down")


@pytest.mark.parametrize(
    "body", [b'{"id": "c1"}', b"not json", b"", b"[]", b'{"choices": "none"}', b'{"choices": [{"message": 1}]}']
)
async def test_whole_non_completion_to_a_streaming_request_is_a_protocol_error(backend, body: bytes) -> None:
    with pytest.raises(UpstreamProtocolError) as caught:
        await first_event(answer_of(FakeResponse([body], JSON), backend))
    assert caught.value.status == 502
    assert caught.value.message == "local: answered a streaming request with neither a stream nor a chat completion"


# --- read_whole ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "body",
    [
        COMPLETION,
        {**COMPLETION, "error": None},
        {**COMPLETION, "error": {}},
        {**COMPLETION, "error": ""},
        {**COMPLETION, "error": {"code": None, "message": ""}},
        {"error": {}},
        {"error": None},
        {"error": {"code": None, "message": ""}},
        {"id": "c1", "choices": [{"message": {"content": 'the word "error" in an answer'}}]},
        [{"error": {"code": 500}}],
    ],
)
async def test_read_whole_passes_answers(backend, body: object) -> None:
    payload = orjson.dumps(body)
    upstream = FakeResponse([payload[:5], payload[5:]], JSON)
    whole = await read_whole(answer_of(upstream, backend))
    assert isinstance(whole, BufferedAnswer) and not whole.is_stream
    assert (whole.status, whole.headers, whole.body, whole.origin) == (200, JSON, payload, "local")
    assert await whole.read() == payload
    await whole.aclose()


async def test_read_whole_of_a_completion_replays_it_as_events(backend) -> None:
    payload = orjson.dumps(COMPLETION)
    whole = await read_whole(answer_of(FakeResponse([payload], JSON), backend))
    assert joined(await events_of(whole)) == joined(CHAT.replay(payload) or [])


async def test_read_whole_passes_what_is_not_json(backend) -> None:
    whole = await read_whole(answer_of(FakeResponse([b'not json, but says "error"'], JSON), backend))
    assert whole.body == b'not json, but says "error"'


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
    upstream = FakeResponse([orjson.dumps(body)], {**JSON, "retry-after": "7"})
    with pytest.raises(UpstreamStatusError) as caught:
        await read_whole(answer_of(upstream, backend))
    assert (caught.value.status, caught.value.message) == (status, f"local: {message}")


async def test_read_whole_of_a_buffered_answer_checks_it_too() -> None:
    body = orjson.dumps({"error": {"code": 503, "message": "down"}})
    with pytest.raises(UpstreamStatusError) as caught:
        await read_whole(BufferedAnswer(200, JSON, body, CHAT, "inner"))
    assert (caught.value.status, caught.value.message, caught.value.backend) == (503, "inner: down", "inner")

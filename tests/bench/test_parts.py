"""The load generator's HTTP and stream checks, on canned bytes (no processes, no timing)."""

from __future__ import annotations

from bench import upstream
from bench.checks import intact, pct
from bench.httpclient import Response

HEAD = upstream.STREAM_HEAD


def stream_bytes(chunks: int) -> bytes:
    parts = [upstream.content_chunk(i, i == chunks - 1) for i in range(chunks)]
    return HEAD + b"".join(parts) + upstream.USAGE_CHUNK + upstream.DONE_CHUNK


def test_a_stream_fed_one_byte_at_a_time_is_whole_and_never_coalesced() -> None:
    response = Response(stream=True)
    data = stream_bytes(4)
    complete = [response.feed(data[i : i + 1], float(i)) for i in range(len(data))]
    assert complete[-1] and not any(complete[:-1])
    assert len(response.events) == 6 and response.coalesced == 0
    assert intact(response, 4)


def test_events_arriving_in_one_read_are_counted_as_coalesced() -> None:
    response = Response(stream=True)
    assert response.feed(stream_bytes(4), 0.0)
    assert response.coalesced == 1 and intact(response, 4)


def test_a_stream_missing_a_chunk_or_done_is_not_intact() -> None:
    parts = [upstream.content_chunk(i, False) for i in (0, 2)]
    gap = Response(stream=True)
    gap.feed(HEAD + b"".join(parts) + upstream.USAGE_CHUNK + upstream.DONE_CHUNK, 0.0)
    assert not intact(gap, 3)
    cut = Response(stream=True)
    cut.feed(stream_bytes(3).replace(b"data: [DONE]", b"data: {}    "), 0.0)
    assert not intact(cut, 3)


def test_content_length_body_split_across_reads() -> None:
    response = Response(stream=False)
    assert not response.feed(upstream.OK[:50], 0.0)
    assert response.feed(upstream.OK[50:], 1.0)
    assert response.status == 200 and bytes(response.body) == upstream.COMPLETION


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (pct(values, 0.5), pct(values, 0.99), pct([7.0], 0.99)) == (50.0, 99.0, 7.0)

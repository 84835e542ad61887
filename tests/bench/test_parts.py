"""The load generator's HTTP and stream checks, on canned bytes (no processes, no timing)."""

from __future__ import annotations

import json

from bench import upstream
from bench.checks import RESPONSES, content_times, intact, pct, responses_intact, stream_figures
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
    assert response.events is not None and len(response.events) == 6 and response.coalesced == 0
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


def responses_stream(deltas: list[str], terminal: str = "response.completed") -> bytes:
    def event(name: str, payload: dict) -> bytes:
        data = json.dumps({"type": name, **payload}).encode()
        return b"event: %s\ndata: %s\n\n" % (name.encode(), data)

    text = "".join(deltas)
    done = {"status": "completed", "output": [{"type": "message", "content": [{"type": "output_text", "text": text}]}],
            "usage": {"input_tokens": 9, "output_tokens": 12, "total_tokens": 21}}
    body = event("response.created", {"response": {"status": "in_progress"}})
    body += b"".join(event("response.output_text.delta", {"delta": d}) for d in deltas)
    body += event(terminal, {"response": done})
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def test_a_responses_stream_is_intact_with_every_delta_and_one_completed_last() -> None:
    whole = Response(stream=True)
    assert whole.feed(responses_stream([f"t{i} " for i in range(3)]), 0.0)
    assert responses_intact(whole, 3) and len(content_times(whole, RESPONSES)) == 3
    for broken in (responses_stream(["t0 ", "t2 "]), responses_stream(["t0 ", "t1 ", "t2 "], "response.failed")):
        response = Response(stream=True)
        response.feed(broken, 0.0)
        assert not responses_intact(response, 3)


def test_stream_figures_measure_to_the_first_content_and_the_last_event() -> None:
    response = Response(stream=True)
    data = responses_stream(["t0 ", "t1 "])
    for i in range(0, len(data), 40):
        response.feed(data[i : i + 40], float(i))
    figures = stream_figures([(0.0, response)], 2, 0, RESPONSES)
    first_delta = content_times(response, RESPONSES)[0]
    assert figures["intact"] == 1 and figures["ttfb_p50_ms"] == first_delta * 1e3
    assert response.events is not None
    assert figures["total_p50_ms"] == response.events[-1][0] * 1e3 > first_delta * 1e3

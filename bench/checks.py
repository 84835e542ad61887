"""What the load generator computes from answers: percentiles, and whether a stream is intact.

Two stream protocols: chat completions (`data:` chunks, then `data: [DONE]`) and the Responses
API (`event: response.output_text.delta` ... then `event: response.completed`).
"""

from __future__ import annotations

import json
import math
from itertools import pairwise

from bench.httpclient import Response

CHAT, RESPONSES = "chat", "responses"
TERMINAL = (b"response.completed", b"response.failed", b"response.incomplete", b"error")
DELTA = b"response.output_text.delta"


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values) - 1e-9) - 1))]


def expected_text(chunks: int) -> str:
    return "".join(f"t{i} " for i in range(chunks))


def sse_fields(event: bytes) -> tuple[bytes, bytes]:
    """(event name, data) of one SSE event; the data lines joined by newlines."""
    name, data = b"", []
    for line in event.splitlines():
        field, _, value = line.partition(b":")
        value = value[1:] if value.startswith(b" ") else value
        if field == b"event":
            name = value
        elif field == b"data":
            data.append(value)
    return name, b"\n".join(data)


def intact(response: Response, chunks: int) -> bool:
    """All content in order, a usage chunk, and `data: [DONE]` last."""
    events = [event for _, event in response.events or ()]
    if response.status != 200 or not events or events[-1].strip() != b"data: [DONE]":
        return False
    content: list[str] = []
    usage = False
    for event in events[:-1]:
        try:
            payload = json.loads(event[5:])
        except ValueError:
            return False
        content.extend((choice.get("delta") or {}).get("content") or "" for choice in payload.get("choices") or ())
        usage = usage or bool(payload.get("usage"))
    return usage and "".join(content) == expected_text(chunks)


def responses_intact(response: Response, chunks: int) -> bool:
    """Every event named and JSON, the text deltas in order, one terminal event, last: a completed
    `response.completed` carrying the whole text and usage."""
    if response.status != 200 or not response.events:
        return False
    text, terminal, last = [], 0, None
    for _, event in response.events:
        name, data = sse_fields(event)
        try:
            payload = json.loads(data)
        except ValueError:
            return False
        if not name or payload.get("type") != name.decode():
            return False
        if name == DELTA:
            text.append(payload.get("delta") or "")
        terminal += name in TERMINAL
        last = (name, payload)
    if terminal != 1 or last is None or last[0] != b"response.completed":
        return False
    done = last[1].get("response") or {}
    output = [part.get("text") for item in done.get("output") or () for part in item.get("content") or ()]
    whole = expected_text(chunks)
    return "".join(text) == whole and done.get("status") == "completed" and output == [whole] and bool(done.get("usage"))


def content_times(response: Response, protocol: str) -> list[float]:
    """Arrival times of the events that carry content: every chunk of a chat stream, the text deltas
    of a Responses stream."""
    if protocol == CHAT:
        return [at for at, _ in response.events or ()]
    return [at for at, event in response.events or () if sse_fields(event)[0] == DELTA]


def stream_figures(done: list[tuple[float, Response]], chunks: int, failures: int, protocol: str = CHAT
                   ) -> dict[str, object]:
    """TTFB (to the first content event), gaps between content events, the whole stream's time (to its
    last event) and the intact streams."""
    check = intact if protocol == CHAT else responses_intact
    times = [(sent, content_times(r, protocol), r) for sent, r in done]
    ttfb = sorted(at[0] - sent for sent, at, _ in times if at)
    gaps = sorted(b - a for _, at, _ in times for a, b in pairwise(at))
    total = sorted(r.events[-1][0] - sent for sent, r in done if r.events)
    whole = sum(1 for _, r in done if check(r, chunks))
    separate = sum(1 for _, r in done if check(r, chunks) and not r.coalesced)
    figures: dict[str, object] = {"streams": len(done) + failures, "intact": whole, "separate": separate,
                                  "failures": failures}
    for name, values in (("ttfb", ttfb), ("gap", gaps), ("total", total)):
        for label, q in (("p50", 0.5), ("p99", 0.99)):
            figures[f"{name}_{label}_ms"] = pct(values, q) * 1e3 if values else None
    return figures

"""What the load generator computes from answers: percentiles, and whether a stream is intact."""

from __future__ import annotations

import json
import math
from itertools import pairwise

from bench.httpclient import Response


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values) - 1e-9) - 1))]


def intact(response: Response, chunks: int) -> bool:
    """All content in order, a usage chunk, and `data: [DONE]` last."""
    events = [event for _, event in response.events or ()]
    if response.status != 200 or not events or events[-1].strip() != b"data: [DONE]":
        return False
    content, usage = [], False
    for event in events[:-1]:
        try:
            payload = json.loads(event[5:])
        except ValueError:
            return False
        content.extend((choice.get("delta") or {}).get("content") or "" for choice in payload.get("choices") or ())
        usage = usage or bool(payload.get("usage"))
    return usage and "".join(content) == "".join(f"t{i} " for i in range(chunks))


def stream_figures(done: list[tuple[float, Response]], chunks: int, failures: int) -> dict[str, object]:
    ttfb = sorted(r.events[0][0] - sent for sent, r in done if r.events)
    gaps = sorted(b[0] - a[0] for _, r in done for a, b in pairwise(r.events or ()))
    whole = sum(1 for _, r in done if intact(r, chunks))
    separate = sum(1 for _, r in done if intact(r, chunks) and not r.coalesced)
    figures: dict[str, object] = {"streams": len(done) + failures, "intact": whole, "separate": separate,
                                  "failures": failures}
    for name, values in (("ttfb", ttfb), ("gap", gaps)):
        for label, q in (("p50", 0.5), ("p99", 0.99)):
            figures[f"{name}_{label}_ms"] = pct(values, q) * 1e3 if values else None
    return figures

"""How much each part of the benchmark runs, in the quick and the full mode."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    mode: str
    rounds: int
    plain: dict[int, tuple[int, int]]  # concurrency -> (requests, warm-up requests)
    stream: tuple[int, int, int, int]  # chunks, pace ms, streams (one at a time), warm-up streams
    hold: tuple[int, int, int]  # chunks, pace ms, streams held at once
    long: tuple[int, int]  # requests, warm-up requests

    @staticmethod
    def model(chunks: int, pace: int) -> str:
        return f"bench-stream-{chunks}x{pace}ms"


QUICK = Plan("quick", 3, {1: (500, 200), 32: (1500, 300), 256: (1500, 300)}, (10, 5, 6, 2), (10, 300, 1000),
             (5_000, 1_000))
FULL = Plan("full", 5, {1: (2_000, 200), 32: (20_000, 2_000), 256: (20_000, 2_000)}, (20, 5, 40, 4),
            (20, 250, 1000), (100_000, 5_000))

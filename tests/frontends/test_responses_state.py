"""The conversations kept for `previous_response_id` (src/frontends/responses_state.py): bounded in
count, age and bytes, the oldest dropped first."""

from __future__ import annotations

from src.frontends.responses_state import Conversations
from src.wire.json_body import dumps


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def turn(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}, {"role": "assistant", "content": f"re: {text}"}]


def test_a_kept_conversation_is_found_by_its_response_id() -> None:
    kept = Conversations()
    kept.keep("resp_1", turn("a"))
    kept.keep("resp_2", turn("b"))
    assert kept.get("resp_1") == turn("a") and kept.get("resp_2") == turn("b")
    assert kept.get("resp_3") is None


def test_a_conversation_is_kept_for_its_age_then_forgotten() -> None:
    clock = Clock()
    kept = Conversations(max_age=60, clock=clock)
    kept.keep("resp_old", turn("a"))
    clock.now += 30
    kept.keep("resp_new", turn("b"))
    clock.now += 29.5
    assert kept.get("resp_old") == turn("a")
    clock.now += 0.5
    assert kept.get("resp_old") is None and kept.get("resp_new") == turn("b")
    clock.now += 30
    assert kept.get("resp_new") is None


def test_past_the_count_the_oldest_is_dropped() -> None:
    kept = Conversations(max_count=2)
    for number in range(3):
        kept.keep(f"resp_{number}", turn(str(number)))
    assert [kept.get(f"resp_{n}") is not None for n in range(3)] == [False, True, True]


def test_past_the_bytes_the_oldest_are_dropped_and_one_too_large_is_not_kept() -> None:
    size = len(dumps(turn("x" * 100)))
    kept = Conversations(max_bytes=size * 2 + 10)
    for number in range(3):
        kept.keep(f"resp_{number}", turn(str(number) * 100))
    assert [kept.get(f"resp_{n}") is not None for n in range(3)] == [False, True, True]
    kept.keep("resp_huge", turn("y" * (size * 3)))
    assert kept.get("resp_huge") is None
    assert kept.get("resp_1") is not None and kept.get("resp_2") is not None  # nothing dropped for it

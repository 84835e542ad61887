"""Usage records and reading an upstream usage object."""

from __future__ import annotations

import time

import pytest

from src.usage.record import Tokens, new_request_id, split_route, usage_from
from tests.usage.record_helpers import make_record

FULL = {
    "prompt_tokens": 100,
    "completion_tokens": 50,
    "total_tokens": 150,
    "completion_tokens_details": {"reasoning_tokens": 20},
    "prompt_tokens_details": {"cached_tokens": 40},
    "cost": 0.00123,
}


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (FULL, Tokens(100, 50, 20, 40, 0.00123)),
        (None, Tokens()),
        ({}, Tokens()),
        ("not a dict", Tokens()),
        ([1, 2], Tokens()),
        ({"prompt_tokens": 7, "completion_tokens": 0}, Tokens(7, 0)),
        # wrong types are unknown, never an error
        ({"prompt_tokens": "100", "completion_tokens": None}, Tokens()),
        ({"prompt_tokens": True, "completion_tokens": False}, Tokens()),
        ({"prompt_tokens": -1, "completion_tokens": 1.5}, Tokens()),
        ({"prompt_tokens": 3.0, "completion_tokens": float("nan")}, Tokens(prompt_tokens=3)),
        ({"completion_tokens_details": None, "prompt_tokens_details": []}, Tokens()),
        ({"completion_tokens_details": {"reasoning_tokens": "x"}}, Tokens()),
        ({"prompt_tokens_details": {"cached_tokens": 0}}, Tokens(cached_tokens=0)),
        # cost: a finite, non-negative number
        ({"cost": 0}, Tokens(cost=0.0)),
        ({"cost": 2}, Tokens(cost=2.0)),
        ({"cost": "0.01"}, Tokens()),
        ({"cost": -0.5}, Tokens()),
        ({"cost": float("inf")}, Tokens()),
        ({"cost": True}, Tokens()),
        ({"cost": 10**400}, Tokens()),
        ({"cost": {"total": 1}}, Tokens()),
    ],
)
def test_usage_from(usage: object, expected: Tokens) -> None:
    assert usage_from(usage) == expected  # type: ignore[arg-type]


def test_usage_from_cost_is_a_float() -> None:
    assert type(usage_from({"cost": 2}).cost) is float


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ("openrouter:openai/gpt-4o", ("openrouter", "openai/gpt-4o")),
        ("openrouter:qwen/qwen3-coder:free", ("openrouter", "qwen/qwen3-coder:free")),
        ("bare-model", (None, "bare-model")),
        (None, (None, None)),
        ("", (None, None)),
    ],
)
def test_split_route(route: str | None, expected: tuple[str | None, str | None]) -> None:
    assert split_route(route) == expected


def test_record_is_frozen_and_derives_backend_model_failed() -> None:
    rec = make_record(route="local:llama3:8b", status=502)
    assert (rec.backend, rec.model, rec.failed) == ("local", "llama3:8b", True)
    assert not make_record(status=399).failed
    with pytest.raises(AttributeError):  # it goes to the writer thread: nobody may change it on the way
        rec.status = 200  # type: ignore[misc]


def test_request_ids_are_unique_and_grow_with_time() -> None:
    """The stores' unique index on request ids takes time-ordered ones at its right edge."""
    before = time.time_ns() // 1_000_000
    first = [new_request_id() for _ in range(1000)]
    time.sleep(0.002)
    later = new_request_id()

    assert len(set(first)) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in first)
    assert int(first[0][:12], 16) >= before
    assert later > max(first)

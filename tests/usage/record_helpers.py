"""Usage records for tests, with every field defaulted."""

from __future__ import annotations

from typing import Any

from src.usage.record import OK, Attempt, UsageRecord, new_request_id

T0 = 1_714_521_600.0  # 2024-05-01T00:00:00Z


def make_record(**fields: Any) -> UsageRecord:
    route = fields.get("route", "openrouter:openai/gpt-4o")
    defaults: dict[str, Any] = {
        "time": T0,
        "key_name": "alice",
        "user_agent": "test/1.0",
        "frontend": "openai",
        "requested_model": "gpt-4o",
        "status": 200,
        "attempts": (Attempt(route, 200, OK, 100.0),) if route else (),
        "route": route,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "reasoning_tokens": 0,
        "cached_tokens": 0,
        "cost_usd": 0.01,
        "latency_ms": 120.0,
        "request_id": new_request_id(),
    }
    return UsageRecord(**{**defaults, **fields})

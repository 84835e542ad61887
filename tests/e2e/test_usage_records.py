"""Every request is recorded, field by field, end to end: success, stream, upstream errors, failover."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from src.config import Config
from tests.e2e.usage_helpers import (
    UA,
    PricedUpstream,
    chat,
    db_rows,
    priced_fixture,  # noqa: F401
    priced_server_fixture,  # noqa: F401
    usage_config,
    wait_rows,
)
from tests.fakes.proxy import PROXY_KEY, UPSTREAM_KEY, RunningProxy
from tests.fakes.scripted import Step, answer_events, completion, usage_chunk

Start = Callable[[Config], RunningProxy]
FULL_USAGE = {
    "prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140, "cost": 0.0005,
    "prompt_tokens_details": {"cached_tokens": 30}, "completion_tokens_details": {"reasoning_tokens": 25},
}  # fmt: skip
FAILOVER = {"openrouter:vendor/first": ["local:vendor/second"]}


def failover_proxy(priced: PricedUpstream, start_proxy: Start, db: Path) -> RunningProxy:
    return start_proxy(usage_config(priced.base_url, db, local_url=priced.base_url, failover_routes=FAILOVER))


def test_a_non_streaming_request_is_recorded_field_by_field(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    priced.script("vendor/m", Step(stall=0.2, completion=completion("vendor/m", usage=FULL_USAGE)))
    proxy = start_proxy(usage_config(priced.base_url, tmp_path / "u.db"))
    before = time.time()
    response = chat(proxy, "vendor/m")
    elapsed_ms = (time.time() - before) * 1000
    assert response.status_code == 200

    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert before - 0.01 <= row["time"] <= before + elapsed_ms / 1000
    assert 200 <= row["latency_ms"] <= elapsed_ms + 50  # taken just after the answer went out
    (attempt,) = row.pop("attempts")
    assert attempt["route"] == "openrouter:vendor/m" and attempt["outcome"] == "ok"
    assert 150 <= attempt["latency_ms"] <= row["latency_ms"]
    for name in ("id", "time", "latency_ms"):
        row.pop(name)
    assert len(row.pop("request_id", "x" * 32)) == 32  # a uuid4, once records carry one
    assert row == {
        "key_name": "alice", "user_agent": UA, "frontend": "openai", "requested_model": "vendor/m",
        "route": "openrouter:vendor/m", "backend": "openrouter", "model": "vendor/m", "status": 200,
        "prompt_tokens": 100, "completion_tokens": 40, "reasoning_tokens": 25, "cached_tokens": 30,
        "cost_usd": 0.0005, "ttft_ms": None, "stream": 0, "upstream_key": None,
    }  # fmt: skip


def test_a_stream_is_recorded_with_its_time_to_first_token_and_the_final_usage_chunk(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    usage = {**FULL_USAGE, "prompt_tokens": 7, "completion_tokens": 3, "cost": 0.0042}
    events = [*answer_events("vendor/s")[:-2], usage_chunk("vendor/s", usage), "data: [DONE]"]
    priced.script("vendor/s", Step(events=events, stall=0.3, pause_after=3))
    proxy = start_proxy(usage_config(priced.base_url, tmp_path / "u.db"))
    response = chat(proxy, "vendor/s", stream=True)
    assert response.status_code == 200 and "data: [DONE]" in response.text

    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert row["stream"] == 1 and row["status"] == 200 and row["frontend"] == "openai"
    assert row["ttft_ms"] >= 280  # the upstream was silent for 0.3 s before its first event
    assert row["latency_ms"] - row["ttft_ms"] >= 250  # then paused 0.3 s mid-stream
    assert (row["prompt_tokens"], row["completion_tokens"], row["reasoning_tokens"], row["cached_tokens"]) == (7, 3, 25, 30)
    assert row["cost_usd"] == 0.0042
    assert row["route"] == "openrouter:vendor/s" and [a["outcome"] for a in row["attempts"]] == ["ok"]


def test_an_upstream_400_is_recorded_with_its_attempt(priced: PricedUpstream, start_proxy: Start, tmp_path: Path) -> None:
    priced.script("vendor/bad", Step(status=400, error={"code": 400, "message": "temperature is out of range"}))
    proxy = start_proxy(usage_config(priced.base_url, tmp_path / "u.db"))
    assert chat(proxy, "vendor/bad").status_code == 400

    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert row["status"] == 400 and row["route"] == "openrouter:vendor/bad" and row["stream"] == 0
    assert [(a["route"], a["status"], a["outcome"]) for a in row["attempts"]] == [("openrouter:vendor/bad", 400, "status_400")]
    assert (row["prompt_tokens"], row["completion_tokens"], row["cost_usd"], row["ttft_ms"]) == (None, None, None, None)


@pytest.mark.parametrize("stream", [False, True])
def test_a_failover_records_both_attempts_and_the_route_that_served(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path, stream: bool
) -> None:
    priced.script("vendor/first", Step(status=503))
    proxy = failover_proxy(priced, start_proxy, tmp_path / "u.db")
    response = chat(proxy, "vendor/first", stream=stream)
    assert response.status_code == 200 and response.headers["x-switchyard-attempts"] == "2"

    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert (row["status"], row["route"], row["backend"], row["model"]) == (200, "local:vendor/second", "local", "vendor/second")
    assert row["requested_model"] == "vendor/first" and row["stream"] == int(stream)
    first, second = row["attempts"]
    assert (first["route"], first["status"], first["outcome"]) == ("openrouter:vendor/first", 503, "status_503")
    assert (second["route"], second["outcome"]) == ("local:vendor/second", "ok")
    assert (row["prompt_tokens"], row["completion_tokens"], row["cost_usd"]) == (10, 4, 0.0001)
    assert (row["ttft_ms"] is not None) is stream


def test_an_exhausted_failover_records_every_attempt_and_the_last_status(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    priced.script("vendor/first", Step(status=503))
    priced.script("vendor/second", Step(status=502))
    proxy = failover_proxy(priced, start_proxy, tmp_path / "u.db")
    assert chat(proxy, "vendor/first").status_code == 502

    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert row["status"] == 502 and row["route"] == "local:vendor/second" and row["cost_usd"] is None
    assert [(a["route"], a["status"], a["outcome"]) for a in row["attempts"]] == [
        ("openrouter:vendor/first", 503, "status_503"), ("local:vendor/second", 502, "status_502")]


def test_an_unreachable_backend_is_recorded_as_a_connect_attempt(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    config = usage_config(closed, tmp_path / "u.db", local_url=priced.base_url, failover_routes=FAILOVER,
                          failover={"cooldown": 0, "connect_retries": 0})
    proxy = start_proxy(config)
    assert chat(proxy, "vendor/first").status_code == 200

    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    refused, served = row["attempts"]
    assert (refused["route"], refused["status"], refused["outcome"]) == ("openrouter:vendor/first", None, "connect")
    assert (served["route"], served["outcome"]) == ("local:vendor/second", "ok")
    assert row["status"] == 200 and row["route"] == "local:vendor/second"


def test_records_hold_the_key_name_never_a_key(priced: PricedUpstream, start_proxy: Start, tmp_path: Path) -> None:
    proxy = start_proxy(usage_config(priced.base_url, tmp_path / "u.db"))
    chat(proxy, "vendor/m")
    chat(proxy, "vendor/m", stream=True)
    priced.script("vendor/x", Step(status=401, error={"code": 401, "message": f"bad key {UPSTREAM_KEY}"}))
    chat(proxy, "vendor/x")
    rows = wait_rows(proxy, tmp_path / "u.db", 3)
    proxy.stop()
    assert {row["key_name"] for row in rows} == {"alice"}
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("u.db"))
    assert PROXY_KEY.encode() not in raw and UPSTREAM_KEY.encode() not in raw
    assert PROXY_KEY not in repr(db_rows(tmp_path / "u.db"))


def test_requests_refused_before_any_upstream_are_recorded_too(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    proxy = start_proxy(usage_config(priced.base_url, tmp_path / "u.db"))
    bad = httpx.post(f"{proxy.url}/v1/chat/completions", content=b"not json", headers={"Authorization": f"Bearer {PROXY_KEY}"})
    assert bad.status_code == 400
    assert chat(proxy, "vendor/m?temperature=9").status_code == 400
    rows = wait_rows(proxy, tmp_path / "u.db", 2)
    assert [(r["status"], r["route"], r["attempts"]) for r in rows] == [(400, None, []), (400, None, [])]
    assert rows[1]["requested_model"] == "vendor/m?temperature=9"
    assert priced.requests == []


def test_a_successful_attempt_records_the_upstreams_status(
    priced: PricedUpstream, start_proxy: Start, tmp_path: Path
) -> None:
    proxy = start_proxy(usage_config(priced.base_url, tmp_path / "u.db"))
    assert chat(proxy, "vendor/m").status_code == 200
    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert row["attempts"][0]["status"] == 200

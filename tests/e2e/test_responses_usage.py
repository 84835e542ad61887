"""Usage records of `/v1/responses` (front-end `responses`), translated and native, and the per-key
limits: rpm and allowed_models answer in OpenAI's envelope before any upstream is asked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest

from src.config import Config
from tests.e2e.responses_helpers import answer_step, post, sdk, stream
from tests.e2e.usage_helpers import ADMIN, ALICE, usage_config, wait_rows
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.responses_upstream import ResponsesUpstream
from tests.fakes.scripted import ScriptedUpstream, Step, chunk, error_event
from tests.fakes.threaded import shared

Start = Callable[[Config], RunningProxy]
MODEL = "vendor/m"
USAGE = {"prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140, "cost": 0.0005,
         "prompt_tokens_details": {"cached_tokens": 30}, "completion_tokens_details": {"reasoning_tokens": 25}}  # fmt: skip


def recorded(row: dict[str, Any]) -> dict[str, Any]:
    fields = ("key_name", "frontend", "requested_model", "route", "status", "prompt_tokens", "completion_tokens",
              "reasoning_tokens", "cached_tokens", "cost_usd", "stream")  # fmt: skip
    return {name: row[name] for name in fields}


def expected(stream: bool, **changes: Any) -> dict[str, Any]:
    return {"key_name": "alice", "frontend": "responses", "requested_model": MODEL, "route": f"openrouter:{MODEL}",
            "status": 200, "prompt_tokens": 100, "completion_tokens": 40, "reasoning_tokens": 25, "cached_tokens": 30,
            "cost_usd": 0.0005, "stream": int(stream), **changes}  # fmt: skip


@pytest.mark.parametrize("streamed", [False, True])
def test_a_response_is_recorded_under_the_responses_front_end(
    scripted: ScriptedUpstream, start_proxy: Start, tmp_path: Path, streamed: bool
) -> None:
    proxy = start_proxy(usage_config(scripted.base_url, tmp_path / "u.db"))
    scripted.script(MODEL, answer_step(MODEL, {"content": "ok"}, usage=USAGE, stream=streamed))
    if streamed:
        assert stream(proxy, {"model": MODEL, "input": "hi"})[-1]["type"] == "response.completed"
    else:
        assert post(proxy, {"model": MODEL, "input": "hi"}).status_code == 200
    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert recorded(row) == expected(streamed)
    assert [a["route"] for a in row["attempts"]] == [f"openrouter:{MODEL}"]


def test_a_compaction_is_recorded_too(scripted: ScriptedUpstream, start_proxy: Start, tmp_path: Path) -> None:
    proxy = start_proxy(usage_config(scripted.base_url, tmp_path / "u.db"))
    scripted.script(MODEL, answer_step(MODEL, {"content": "summary"}, usage=USAGE, stream=False))
    assert post(proxy, {"model": MODEL, "input": "hi"}, path="/v1/responses/compact").status_code == 200
    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert recorded(row) == expected(False)


def test_a_stream_that_fails_midway_is_recorded_with_its_failure(scripted: ScriptedUpstream, start_proxy: Start,
                                                                 tmp_path: Path) -> None:
    proxy = start_proxy(usage_config(scripted.base_url, tmp_path / "u.db"))
    scripted.script(MODEL, Step(events=[chunk(MODEL, {"content": "Hel"}), error_event(MODEL, 429, "slow down")]))
    assert stream(proxy, {"model": MODEL, "input": "hi"})[-1]["type"] == "response.failed"
    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert row["frontend"] == "responses" and row["status"] == 429 and row["stream"] == 1


native_server, native = shared("native", ResponsesUpstream)


@pytest.mark.parametrize("streamed", [False, True])
def test_a_native_response_is_recorded_with_its_own_usage(native: ResponsesUpstream, start_proxy: Start,
                                                          tmp_path: Path, streamed: bool) -> None:
    backends = {"native": {"type": "openai", "base_url": native.base_url, "responses": "native", "timeout": 5}}
    proxy = start_proxy(Config.model_validate({"usage": {"database": str(tmp_path / "u.db")}, "backends": backends,
                                               "default_backend": "native", "auth": {"api_keys": [ALICE, ADMIN]}}))  # fmt: skip
    if streamed:
        with sdk(proxy).responses.stream(model="openai/gpt-5", input="hi") as events:
            events.get_final_response()
    else:
        assert post(proxy, {"model": "openai/gpt-5", "input": "hi"}).status_code == 200
    (row,) = wait_rows(proxy, tmp_path / "u.db", 1)
    assert (row["frontend"], row["route"], row["status"], row["stream"]) == ("responses", "native:openai/gpt-5", 200,
                                                                             int(streamed))  # fmt: skip
    assert (row["prompt_tokens"], row["completion_tokens"], row["cached_tokens"], row["reasoning_tokens"]) == (21, 9, 7, 3)


@pytest.mark.parametrize("streamed", [False, True])
def test_an_rpm_of_one_gives_the_second_request_a_429_in_openais_envelope(
    scripted: ScriptedUpstream, start_proxy: Start, tmp_path: Path, streamed: bool
) -> None:
    keys = [{**ALICE, "rpm": 1}, ADMIN]
    proxy = start_proxy(usage_config(scripted.base_url, tmp_path / "u.db", keys=keys))
    client = sdk(proxy)
    client.responses.create(model=MODEL, input="one")
    with pytest.raises(openai.RateLimitError) as caught:
        if streamed:
            with client.responses.stream(model=MODEL, input="two") as events:
                list(events)
        else:
            client.responses.create(model=MODEL, input="two")
    error = caught.value.response.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "rate_limit_error"
    assert error["message"].startswith("proxy key 'alice' is over its rate limit")
    assert int(caught.value.response.headers["retry-after"]) >= 1
    assert len(scripted.requests) == 1


def test_allowed_models_apply_to_responses(scripted: ScriptedUpstream, start_proxy: Start, tmp_path: Path) -> None:
    keys: list[dict[str, Any]] = [{"name": "alice", "key": PROXY_KEY, "allowed_models": ["openrouter:vendor/ok"]}, ADMIN]
    proxy = start_proxy(usage_config(scripted.base_url, None, keys=keys))
    assert post(proxy, {"model": "vendor/ok", "input": "hi"}).status_code == 200
    with pytest.raises(openai.PermissionDeniedError):
        sdk(proxy).responses.create(model="vendor/other", input="hi")
    assert [r.model for r in scripted.requests] == ["vendor/ok"]

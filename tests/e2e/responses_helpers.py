"""Shared pieces of the Responses API end-to-end tests (`/v1/responses` with the official SDK,
raw HTTP, the Agents SDK and Codex CLI).

`stream` reads a streamed response as raw SSE and checks what every Responses stream must hold:
each event named as its `type`, `sequence_number`s increasing, one response id throughout,
`response.created` first and exactly one last event (completed, incomplete or failed) at the end,
item ids equal in `output_item.added` and `.done`, and each call whole in its `.done`.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai

from src.config import Config
from tests.e2e.anthropic_helpers import make_config, openai_backend
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step, chunk, usage_chunk

MODEL = "vendor/model"
LAST = ("response.completed", "response.incomplete", "response.failed")


def config(scripted: ScriptedUpstream, **overrides: Any) -> Config:
    """One `openai` backend, `local`, on the scripted upstream (every request translated), plus `spare`."""
    return make_config({"local": openai_backend(scripted.base_url), "spare": openai_backend(scripted.base_url)},
                       **overrides)  # fmt: skip


def sdk(proxy: RunningProxy, key: str = PROXY_KEY) -> openai.OpenAI:
    """The official SDK on the proxy, no retries: one answer per call."""
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=key, max_retries=0)


def post(proxy: RunningProxy, body: dict[str, Any], path: str = "/v1/responses", key: str = PROXY_KEY) -> httpx.Response:
    return httpx.post(f"{proxy.url}{path}", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=20)


def stream(proxy: RunningProxy, body: dict[str, Any], path: str = "/v1/responses") -> list[dict[str, Any]]:
    """The payloads of a streamed response, once every stream rule is checked."""
    headers = {"Authorization": f"Bearer {PROXY_KEY}"}
    with httpx.stream("POST", f"{proxy.url}{path}", json={**body, "stream": True}, headers=headers, timeout=20) as reply:
        raw = reply.read().decode()
        assert reply.status_code == 200, raw
        assert reply.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in raw.split("\n\n"):
        if not block.strip():
            continue
        lines = block.split("\n")
        name = next(line[7:] for line in lines if line.startswith("event: "))
        payload = json.loads("\n".join(line[6:] for line in lines if line.startswith("data: ")))
        assert payload["type"] == name, block
        events.append(payload)
    check(events)
    return events


def check(events: list[dict[str, Any]]) -> None:
    kinds = [e["type"] for e in events]
    assert kinds[0] == "response.created", kinds
    assert sum(kind in LAST for kind in kinds) == 1 and kinds[-1] in LAST, kinds
    numbers = [e["sequence_number"] for e in events]
    assert all(a < b for a, b in zip(numbers, numbers[1:], strict=False)), numbers
    assert len({e["response"]["id"] for e in events if "response" in e}) == 1
    added = {e["output_index"]: e["item"] for e in events if e["type"] == "response.output_item.added"}
    for done in (e for e in events if e["type"] == "response.output_item.done"):
        item = done["item"]
        assert added[done["output_index"]]["id"] == item["id"], (added, item)
        if item["type"] in ("function_call", "custom_tool_call"):
            assert item["call_id"] and item["name"], item
        if item["type"] == "function_call":
            json.loads(item["arguments"])  # whole, as the client runs it


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def calls_step(model: str, *calls: tuple[str, str, str], stream: bool = True) -> Step:
    """An answer that only calls tools: (call id, upstream name, arguments) each; streamed in two
    fragments per call, or whole."""
    if not stream:
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": args}} for cid, name, args in calls]}
        return Step(completion={"id": "gen-1", "object": "chat.completion", "created": 1, "model": model,
                                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
                                "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}})  # fmt: skip
    fragments = []
    for index, (cid, name, args) in enumerate(calls):
        half = len(args) // 2
        fragments.append({"index": index, "id": cid, "type": "function", "function": {"name": name, "arguments": args[:half]}})
        fragments.append({"index": index, "function": {"arguments": args[half:]}})
    return Step(events=[chunk(model, {"role": "assistant", "content": ""}),
                        *(chunk(model, {"tool_calls": [f]}) for f in fragments),
                        chunk(model, {}, "tool_calls"), usage_chunk(model), "data: [DONE]"])  # fmt: skip


def answer_step(model: str, message: dict[str, Any], finish: str = "stop", usage: dict[str, Any] | None = None,
                stream: bool = True) -> Step:
    """One answer carrying `message`'s fields (content, reasoning...), streamed as one delta, or whole."""
    usage = usage or {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}
    if not stream:
        return Step(completion={"id": "gen-1", "object": "chat.completion", "created": 1, "model": model,
                                "choices": [{"index": 0, "message": {"role": "assistant", **message},
                                             "finish_reason": finish}], "usage": usage})  # fmt: skip
    return Step(events=[chunk(model, {"role": "assistant", **message}), chunk(model, {}, finish),
                        usage_chunk(model, usage), "data: [DONE]"])  # fmt: skip


def sent(scripted: ScriptedUpstream, index: int = -1) -> list[dict[str, Any]]:
    """The messages of a chat request the upstream received."""
    messages: list[dict[str, Any]] = scripted.requests[index].body["messages"]
    return messages

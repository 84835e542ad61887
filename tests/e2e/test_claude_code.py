"""Claude Code itself against the proxy: `claude -p` with ANTHROPIC_BASE_URL and the proxy key.

The npm package `@anthropic-ai/claude-code` is installed once into `<repo>/.cache/claude-code`
(reused while `node_modules/.bin/claude` exists). These tests skip only when npm is missing or
the install fails. The proxy's default backend is an `openai` backend on the scripted upstream,
so every request Claude Code makes is translated to chat completions.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from src.config import Config
from tests.e2e.anthropic_helpers import (
    LOCAL_KEY,
    local_config,
)
from tests.e2e.npm_tools import npm_tool
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step, chunk, usage_chunk

StartProxy = Callable[[Config], RunningProxy]
MODEL = "switchyard-e2e-model"  # passed with --model, so scripts can name it
CLAUDE_CODE = "2.1.197"  # the version these tests were written against; a new one is a deliberate change


@pytest.fixture(scope="session")
def claude() -> Path:
    return npm_tool("@anthropic-ai/claude-code", CLAUDE_CODE, "claude-code", "claude", "Claude Code")


@pytest.fixture
def proxy(scripted: ScriptedUpstream, start_proxy: StartProxy) -> RunningProxy:
    return start_proxy(local_config(scripted.base_url))


def _run(claude: Path, proxy: RunningProxy, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": proxy.url,
        "ANTHROPIC_AUTH_TOKEN": PROXY_KEY,
        "ANTHROPIC_API_KEY": "",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    work = home / "work"
    work.mkdir(exist_ok=True)
    return subprocess.run([str(claude), "-p", *args], env=env, cwd=work, capture_output=True, text=True, timeout=120)


def _tool_calls(*calls: tuple[str, str, dict[str, Any]]) -> Step:
    """A streamed answer that only calls tools: (id, name, input) each."""
    deltas = [{"index": i, "id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
              for i, (cid, name, args) in enumerate(calls)]
    return Step(events=[chunk(MODEL, {"role": "assistant", "content": ""}),
                        *(chunk(MODEL, {"tool_calls": [d]}) for d in deltas),
                        chunk(MODEL, {}, "tool_calls"), usage_chunk(MODEL), "data: [DONE]"])


def _tool_messages(scripted: ScriptedUpstream) -> dict[str, str]:
    last = scripted.requests[-1].body["messages"]
    return {m["tool_call_id"]: m["content"] for m in last if m["role"] == "tool"}


def test_claude_code_says_hello_through_the_proxy(claude: Path, proxy: RunningProxy, scripted: ScriptedUpstream,
                                                 tmp_path: Path) -> None:
    done = _run(claude, proxy, tmp_path, "Say hello")

    assert done.returncode == 0, f"claude failed:\nstdout: {done.stdout}\nstderr: {done.stderr}"
    assert scripted.requests, "Claude Code never reached the upstream"
    first = scripted.requests[0]
    assert f"Hello from {first.model}" in done.stdout
    assert re.fullmatch(r"claude-[a-z0-9.-]+", first.model), first.model  # its own default model, untouched
    assert first.key == LOCAL_KEY  # the backend's key, never the proxy key
    assert first.body["stream"] is True
    tools = [tool["function"]["name"] for tool in first.body.get("tools", [])]
    assert len(tools) >= 10 and "Read" in tools  # Claude Code sends its whole tool set (~24)
    messages = first.body["messages"]
    assert isinstance(messages, list) and any(m["role"] == "user" and "Say hello" in json.dumps(m) for m in messages)
    assert messages[0]["role"] == "system"


def test_claude_code_runs_a_tool_and_sends_its_result_back(claude: Path, proxy: RunningProxy,
                                                           scripted: ScriptedUpstream, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("switchyard-marker-42\n")
    scripted.script(MODEL, _tool_calls(("call_read_1", "Read", {"file_path": str(note)})))

    done = _run(claude, proxy, tmp_path, "Read note.txt", "--model", MODEL, "--allowedTools", "Read")

    assert done.returncode == 0, f"claude failed:\nstdout: {done.stdout}\nstderr: {done.stderr}"
    assert f"Hello from {MODEL}" in done.stdout
    assert [s.model for s in scripted.requests] == [MODEL, MODEL]
    second = scripted.requests[1].body["messages"]
    roles = [m["role"] for m in second]
    assistant = second[roles.index("assistant")]
    assert [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in assistant["tool_calls"]] == [
        ("call_read_1", "Read", {"file_path": str(note)})]
    assert roles[roles.index("assistant") + 1] == "tool"  # the result comes first in the following turn
    assert "switchyard-marker-42" in _tool_messages(scripted)["call_read_1"]


def test_claude_code_runs_parallel_tool_calls(claude: Path, proxy: RunningProxy, scripted: ScriptedUpstream,
                                              tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("marker-A\n")
    (tmp_path / "b.txt").write_text("marker-B\n")
    scripted.script(MODEL, _tool_calls(("call_a", "Read", {"file_path": str(tmp_path / "a.txt")}),
                                       ("call_b", "Read", {"file_path": str(tmp_path / "b.txt")})))

    done = _run(claude, proxy, tmp_path, "Read both files", "--model", MODEL, "--allowedTools", "Read")

    assert done.returncode == 0, f"claude failed:\nstdout: {done.stdout}\nstderr: {done.stderr}"
    results = _tool_messages(scripted)
    assert sorted(results) == ["call_a", "call_b"]  # Claude Code runs them at once: either may finish first
    assert "marker-A" in results["call_a"] and "marker-B" in results["call_b"]


def test_claude_code_gets_interleaved_parallel_tool_calls_whole(claude: Path, proxy: RunningProxy,
                                                                scripted: ScriptedUpstream, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("marker-A\n")
    (tmp_path / "b.txt").write_text("marker-B\n")
    args_a = json.dumps({"file_path": str(tmp_path / "a.txt")})
    args_b = json.dumps({"file_path": str(tmp_path / "b.txt")})
    scripted.script(MODEL, Step(events=[
        chunk(MODEL, {"role": "assistant", "content": ""}),
        chunk(MODEL, {"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                      "function": {"name": "Read", "arguments": args_a[:10]}}]}),
        chunk(MODEL, {"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                                      "function": {"name": "Read", "arguments": args_b}}]}),
        chunk(MODEL, {"tool_calls": [{"index": 0, "function": {"arguments": args_a[10:]}}]}),
        chunk(MODEL, {}, "tool_calls"), usage_chunk(MODEL), "data: [DONE]",
    ]))

    done = _run(claude, proxy, tmp_path, "Read both files", "--model", MODEL, "--allowedTools", "Read")

    assert done.returncode == 0, f"claude failed:\nstdout: {done.stdout}\nstderr: {done.stderr}"
    results = _tool_messages(scripted)
    assert "marker-A" in results["call_a"] and "marker-B" in results["call_b"]


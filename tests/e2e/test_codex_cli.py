"""Codex CLI itself against the proxy: `codex exec` with a `switchyard` model provider
(`wire_api = "responses"`) onto a chat-completions-only upstream.

The npm package `@openai/codex` is installed once into `<repo>/.cache/codex` (reused while the
installed version is the pinned one). These tests skip only when npm is missing or the install
fails. Codex runs with a CODEX_HOME, a HOME and a working folder in the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from src.config import Config
from tests.e2e.anthropic_helpers import LOCAL_KEY, local_config
from tests.e2e.npm_tools import installed_version, npm_tool
from tests.e2e.responses_helpers import calls_step
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import ScriptedUpstream

CODEX = "0.171.0"  # the version these tests were written against; a new one is a deliberate change
MODEL = "vendor/codex-model"


@pytest.fixture(scope="session")
def codex() -> Path:
    binary = npm_tool("@openai/codex", CODEX, "codex", "codex", "Codex CLI")
    installed = installed_version("codex", "@openai/codex")
    assert installed == CODEX, f"npm installed @openai/codex {installed}, not {CODEX}"
    return binary


@pytest.fixture
def proxy(scripted: ScriptedUpstream, start_proxy: Callable[[Config], RunningProxy]) -> RunningProxy:
    return start_proxy(local_config(scripted.base_url))


def run_codex(codex: Path, proxy: RunningProxy, folder: Path, prompt: str) -> subprocess.CompletedProcess[str]:
    home, codex_home, work = folder / "home", folder / "codex-home", folder / "work"
    for directory in (home, codex_home, work):
        directory.mkdir(exist_ok=True)
    (codex_home / "config.toml").write_text(
        f'model = "{MODEL}"\nmodel_provider = "switchyard"\n\n[model_providers.switchyard]\nname = "Switchyard"\n'
        f'base_url = "{proxy.url}/v1"\nenv_key = "SWITCHYARD_KEY"\nwire_api = "responses"\n'
    )
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "CODEX_HOME": str(codex_home),
           "SWITCHYARD_KEY": PROXY_KEY}  # fmt: skip
    # No approval prompt and no sandbox to set up: the command runs as it is, in the test's folder.
    command = [str(codex), "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", prompt]
    return subprocess.run(command, env=env, cwd=work, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=180)  # fmt: skip


def test_codex_prints_the_models_answer(codex: Path, proxy: RunningProxy, scripted: ScriptedUpstream,
                                        tmp_path: Path) -> None:
    done = run_codex(codex, proxy, tmp_path, "say hi")

    assert done.returncode == 0, f"codex failed:\nstdout: {done.stdout}\nstderr: {done.stderr}"
    assert done.stdout.strip().splitlines()[-1] == f"Hello from {MODEL}"
    [request] = scripted.requests
    assert request.model == MODEL and request.key == LOCAL_KEY  # the backend's key, never the proxy key
    assert request.body["stream"] is True and request.body["stream_options"] == {"include_usage": True}
    messages = request.body["messages"]
    assert messages[0]["role"] == "system" and "Codex" in messages[0]["content"]
    assert [m["role"] for m in messages].count("system") == 1
    assert messages[-1] == {"role": "user", "content": "say hi"}


def test_codex_declares_its_shell_tool_as_exec_command_with_a_cmd_string(
    codex: Path, proxy: RunningProxy, scripted: ScriptedUpstream, tmp_path: Path
) -> None:
    done = run_codex(codex, proxy, tmp_path, "say hi")

    assert done.returncode == 0, f"codex failed:\nstdout: {done.stdout}\nstderr: {done.stderr}"
    tools = {t["function"]["name"]: t["function"] for t in scripted.requests[0].body["tools"]}
    shell = tools["exec_command"]["parameters"]
    assert shell["properties"]["cmd"]["type"] == "string" and "cmd" in shell["required"]
    assert all(len(name) <= 64 for name in tools)  # namespaced groups flattened to names upstreams accept


def test_codex_runs_the_shell_command_the_model_asks_for_and_sends_its_output_back(
    codex: Path, proxy: RunningProxy, scripted: ScriptedUpstream, tmp_path: Path
) -> None:
    command = "echo codex-marker-7 > out.txt; cat out.txt"
    scripted.script(MODEL, calls_step(MODEL, ("call_x1", "exec_command", json.dumps({"cmd": command}))))

    done = run_codex(codex, proxy, tmp_path, "Write the marker to out.txt")

    assert done.returncode == 0, f"codex failed:\nstdout: {done.stdout}\nstderr: {done.stderr}"
    assert (tmp_path / "work" / "out.txt").read_text() == "codex-marker-7\n"
    assert done.stdout.strip().splitlines()[-1] == f"Hello from {MODEL}"
    assert [r.model for r in scripted.requests] == [MODEL, MODEL]
    messages = scripted.requests[1].body["messages"]
    assistant = next(m for m in messages if m["role"] == "assistant" and m.get("tool_calls"))
    [call] = assistant["tool_calls"]
    assert call["id"] == "call_x1" and call["function"]["name"] == "exec_command"
    assert json.loads(call["function"]["arguments"]) == {"cmd": command}
    result = messages[messages.index(assistant) + 1]
    assert result["role"] == "tool" and result["tool_call_id"] == "call_x1"
    assert "codex-marker-7" in result["content"] and "exited with code 0" in result["content"]

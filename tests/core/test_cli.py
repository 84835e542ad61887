"""The command line (src/core/cli.py): flags, the serving checks, and the real process's behaviour."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from src import __version__
from src.config import Config
from src.core.cli import build_parser, main, serving_problem

ROOT = Path(__file__).resolve().parents[2]
PROXY_KEY = "sy-cli-test-proxy-secret-0003"
LOCAL_KEY = "sk-cli-test-local-secret-0003"
OR_KEY = "sk-or-cli-test-secret-0003"
SECRETS = (PROXY_KEY, LOCAL_KEY, OR_KEY)
TIMEOUT = 20

LOCAL = {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": LOCAL_KEY}
GOOD: dict[str, Any] = {
    "default_backend": "local",
    "auth": {"api_keys": [{"name": "alice", "key": PROXY_KEY}]},
    "backends": {"local": LOCAL},
}


# --- build_parser ---------------------------------------------------------------------------------------------


def test_parser_leaves_every_option_unset_by_default() -> None:
    args = vars(build_parser().parse_args([]))
    assert args == {
        "config": None, "host": None, "port": None, "default_backend": None,
        "force_model": None, "disable_auth": None, "log_level": None, "workers": 1,
        "identity_user_agent": None, "identity_referer": None, "identity_title": None,
    }


def test_parser_reads_every_flag() -> None:
    args = build_parser().parse_args([
        "--config", "my.yaml", "--host", "0.0.0.0", "--port", "9123", "--default-backend", "local",
        "--force-model", "openai/gpt-4o", "--disable-auth", "--log-level", "debug",
    ])
    assert args.config == "my.yaml"
    assert args.host == "0.0.0.0"
    assert args.port == 9123
    assert args.default_backend == "local"
    assert args.force_model == "openai/gpt-4o"
    assert args.disable_auth is True
    assert args.log_level == "debug"


@pytest.mark.parametrize(("given", "stored"), [("DEBUG", "debug"), ("Warning", "warning"), ("critical", "critical")])
def test_parser_log_level_is_case_insensitive(given: str, stored: str) -> None:
    assert build_parser().parse_args(["--log-level", given]).log_level == stored


@pytest.mark.parametrize("argv", [["--log-level", "verbose"], ["--port", "abc"], ["--bogus"]])
def test_parser_rejects_bad_flags(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(argv)
    assert caught.value.code == 2
    assert "usage: switchyard" in capsys.readouterr().err


def test_parser_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == f"switchyard {__version__}"


# --- serving_problem ------------------------------------------------------------------------------------------


def config(**overrides: Any) -> Config:
    data = {"default_backend": "local", "backends": {"local": LOCAL}, **overrides}
    return Config.model_validate(data)


WITH_KEY = {"auth": {"api_keys": [{"name": "alice", "key": PROXY_KEY}]}}


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.1", "::", "example.com"])
def test_disable_auth_on_a_non_loopback_host_is_refused(host: str) -> None:
    for extra in ({}, WITH_KEY):
        problem = serving_problem(config(host=host, disable_auth=True, **extra))
        assert problem is not None
        key, message = problem
        assert key == "disable_auth"
        assert "--disable-auth" in message
        assert host in message
        assert "\n" not in message


@pytest.mark.parametrize("host", ["127.0.0.1", "127.5.5.5", "localhost", "::1"])
def test_disable_auth_on_loopback_is_fine(host: str) -> None:
    assert serving_problem(config(host=host, disable_auth=True)) is None


def test_no_proxy_key_with_auth_enabled_is_refused_with_a_fix() -> None:
    problem = serving_problem(config())
    assert problem is not None
    key, message = problem
    assert key == "auth.api_keys"
    assert "SWITCHYARD_API_KEY" in message  # how to fix it
    assert "auth.api_keys" in message
    assert "--disable-auth" in message
    assert "\n" not in message


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_a_proxy_key_is_enough_on_any_host(host: str) -> None:
    assert serving_problem(config(host=host, **WITH_KEY)) is None


# --- the real process -----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_") and k != "OPENROUTER_API_KEY"}
    return {**base, "PYTHONPATH": str(ROOT), **(extra or {})}


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "src.core.cli", *args],
        cwd=cwd, env=_env(env), capture_output=True, text=True, timeout=TIMEOUT,
    )


def _write(path: Path, content: dict[str, Any] | str) -> Path:
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return path


def _config_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The invariants every refused start keeps; returns the one line it printed."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("switchyard: config error: ")
    assert line.removeprefix("switchyard: config error: ").strip()
    for secret in SECRETS:
        assert secret not in result.stderr
    return line


BAD_CONFIGS = [
    # id, file content (dict or raw YAML), extra args, extra env, names (the file/flag and the key)
    ("unknown key", {**GOOD, "listen": "0.0.0.0"}, [], {}, ["{file}", "listen", "unknown key"]),
    ("unknown nested key", {**GOOD, "backends": {"local": {**LOCAL, "apikey": "x"}}}, [], {},
     ["{file}", "backends.local.apikey"]),
    ("wrong type", {**GOOD, "port": "abc"}, [], {}, ["{file}", "port", "integer"]),
    ("wrong nested type", {**GOOD, "backends": {"local": {**LOCAL, "timeout": "soon"}}}, [], {},
     ["{file}", "backends.local.timeout"]),
    ("invalid alias regex", {**GOOD, "model_aliases": [{"pattern": "^gpt-(", "replacement": "x"}]}, [], {},
     ["{file}", "model_aliases.0.pattern"]),
    ("default_backend not configured", {**GOOD, "default_backend": "nowhere"}, [], {},
     ["{file}", "default_backend", "nowhere"]),
    ("unknown backend type", {**GOOD, "backends": {"local": LOCAL, "x": {"type": "bedrock", "base_url": "http://x"}}},
     [], {}, ["{file}", "backends.x.type", "bedrock"]),
    ("missing OpenRouter key", {**GOOD, "backends": {"local": LOCAL, "openrouter": {"type": "openrouter"}}}, [], {},
     ["{file}", "backends.openrouter.api_key", "OPENROUTER_API_KEY"]),
    ("unset variable", {**GOOD, "backends": {"local": LOCAL, "openrouter": {"type": "openrouter", "api_key": "${OPENROUTER_API_KEY}"}}},
     [], {}, ["{file}", "backends.openrouter.api_key", "OPENROUTER_API_KEY"]),
    ("malformed YAML", f"auth:\n  api_keys: [{{name: alice, key: {PROXY_KEY}}}\nport: 8000\n", [], {}, ["{file}", "line "]),
    ("top level not a mapping", "- host\n- port\n", [], {}, ["{file}", "mapping"]),
    ("disable-auth on 0.0.0.0", GOOD, ["--disable-auth", "--host", "0.0.0.0"], {}, ["--disable-auth", "disable_auth", "0.0.0.0"]),
    ("flag names a missing backend", GOOD, ["--default-backend", "nowhere"], {}, ["--default-backend", "default_backend"]),
    ("bad variable", GOOD, [], {"SWITCHYARD_PORT": "abc"}, ["SWITCHYARD_PORT"]),
    ("variable names a missing backend", GOOD, [], {"SWITCHYARD_DEFAULT_BACKEND": "nowhere"},
     ["SWITCHYARD_DEFAULT_BACKEND", "default_backend"]),
    ("no proxy key", {k: v for k, v in GOOD.items() if k != "auth"}, [], {},
     ["auth.api_keys", "SWITCHYARD_API_KEY", "{file}"]),
]


@pytest.mark.parametrize(
    ("content", "args", "env", "names"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS]
)
def test_bad_configuration_exits_with_one_line(
    tmp_path: Path, content: dict[str, Any] | str, args: list[str], env: dict[str, str], names: list[str]
) -> None:
    path = _write(tmp_path / "switchyard.yaml", content)
    # A free port keeps a wrongly accepted config from colliding with anything; never over a bad file port.
    port = [] if isinstance(content, dict) and "port" in content else ["--port", str(_free_port())]
    result = _run(["--config", str(path), *port, *args], cwd=tmp_path, env=env)
    line = _config_error_line(result)
    for name in names:
        assert name.format(file=path) in line


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    line = _config_error_line(_run(["--config", str(missing)], cwd=tmp_path))
    assert str(missing) in line
    assert "not found" in line


def test_dot_config_yaml_in_the_working_directory_is_used(tmp_path: Path) -> None:
    _write(tmp_path / "config.yaml", {**GOOD, "bogus_setting": 1})
    line = _config_error_line(_run([], cwd=tmp_path))
    assert "config.yaml" in line
    assert "bogus_setting" in line


def test_switchyard_config_variable_is_used(tmp_path: Path) -> None:
    path = _write(tmp_path / "from-env.yaml", {**GOOD, "bogus_setting": 1})
    line = _config_error_line(_run([], cwd=tmp_path, env={"SWITCHYARD_CONFIG": str(path)}))
    assert str(path) in line
    assert "bogus_setting" in line


def test_version_flag(tmp_path: Path) -> None:
    result = _run(["--version"], cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"switchyard {__version__}"


def test_good_config_starts_and_serves_health(tmp_path: Path) -> None:
    path = _write(tmp_path / "switchyard.yaml", {k: v for k, v in GOOD.items() if k != "auth"})
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "src.core.cli", "--config", str(path), "--port", str(port), "--disable-auth"],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        response = None
        while response is None:
            assert process.poll() is None, f"the proxy exited: {process.communicate()[1]}"
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the proxy did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
    finally:
        process.terminate()
        try:
            _, stderr = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
    assert "config error" not in stderr
    assert f"Switchyard {__version__} on http://127.0.0.1:{port}" in stderr
    assert LOCAL_KEY not in stderr


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = capsys.readouterr().out
    assert "usage     " not in text.splitlines()[0]
    for command in ("usage ", "models "):
        assert any(line.strip().startswith(command) for line in text.splitlines()), command


def test_every_config_problem_is_reported_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("backends: {local: {type: openai, base_url: 'http://127.0.0.1:9/v1'}}\n"
                    "default_backend: local\nport: nope\nlog_level: loud\nidentity: {titel: x}\n")  # fmt: skip
    assert main(["--config", str(path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert sorted(line.removeprefix(f"switchyard: config error: {path}: ").split(":")[0] for line in lines) == [
        "identity.titel", "log_level", "port"]  # fmt: skip

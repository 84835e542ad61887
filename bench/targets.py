"""The processes under test, started as a user would start them.

- `direct`: the fake upstream itself (bench/upstream.py);
- `baseline`: the minimal aiohttp pass-through (bench/baseline.py);
- `switchyard`: `python -m src.core.cli --config FILE --port P`, one worker, auth on (SWITCHYARD_API_KEY,
  sent by the load generator as a Bearer token), the alias rule `^bench-(.*)` -> `up:\\1`, and usage
  recording (`usage: {database: ...}`) when this build knows the key;
- `switchyard (key limits)`: the same, with the proxy key in `auth.api_keys` and limits on it (`rpm`,
  `budget_usd`) so that every request is counted against them, and `switchyard (key limits, Redis)`: that
  config plus `redis: {url: ...}` (the shared-limits path), when redis-server is installed;
- `litellm`: LiteLLM's proxy on the same upstream, when `litellm` is importable.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bench.procs import ROOT, Children, StartError, free_port

PROXY_KEY = "sy-bench-proxy-key-0001"
LITELLM_KEY = "sk-bench-litellm-master-0001"
USAGE_UNAVAILABLE = "usage recording: not available in this build"
LIMITS = {"rpm": 10_000_000, "budget_usd": 1_000_000}  # never reached: only the accounting runs


@dataclass
class Target:
    name: str
    port: int
    key: str | None
    pid: int
    notes: list[str] = field(default_factory=list)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the user's Switchyard/OpenRouter settings, which would change the run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHYARD_", "OPENROUTER_"))}
    return {**env, **extra}


def merge(base: dict, extra: dict) -> dict:
    """`extra` deep-merged over `base` (mappings merged key by key, anything else replaced)."""
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


def start_upstream(children: Children) -> Target:
    port = free_port()
    child = children.python("upstream", ["-m", "bench.upstream", "--port", str(port)])
    child.wait_ready(port)
    return Target("direct", port, None, child.pid)


def start_baseline(children: Children, upstream: Target) -> Target:
    port = free_port()
    child = children.python("baseline", ["-m", "bench.baseline", "--port", str(port),
                                         "--upstream", f"http://127.0.0.1:{upstream.port}"])
    child.wait_ready(port)
    return Target("baseline", port, None, child.pid)


def switchyard_config(upstream: Target, workdir: Path, name: str, extra: dict) -> dict:
    config = {
        "log_level": "warning",
        "default_backend": "up",
        "backends": {"up": {"type": "openai", "base_url": f"http://127.0.0.1:{upstream.port}/v1", "timeout": 600}},
        "model_aliases": [{"pattern": "^bench-(.*)", "replacement": "up:\\1"}],
        "usage": {"database": str(workdir / f"{name}-usage.db")},
    }
    return merge(config, extra)


def limits_config(redis_port: int | None = None) -> dict:
    """The proxy key in the file with limits on it (instead of SWITCHYARD_API_KEY); Redis when given a port."""
    config: dict = {"auth": {"api_keys": [{"name": "bench", "key": PROXY_KEY, **LIMITS}]}}
    if redis_port is not None:
        config["redis"] = {"url": f"redis://127.0.0.1:{redis_port}/0"}
    return config


def start_switchyard(children: Children, upstream: Target, workdir: Path, extra: dict, name: str = "switchyard",
                     cli_args: tuple[str, ...] = ()) -> Target:
    """The proxy with usage recording; without it if this build rejects the `usage` key. The proxy key
    comes from SWITCHYARD_API_KEY unless `extra` puts it in `auth.api_keys`."""
    config = switchyard_config(upstream, workdir, name, extra)
    key_in_file = any(k.get("key") == PROXY_KEY for k in (config.get("auth") or {}).get("api_keys") or ())
    env = clean_env() if key_in_file else clean_env(SWITCHYARD_API_KEY=PROXY_KEY)
    notes: list[str] = []
    for attempt in (1, 2):
        path = workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        port = free_port()
        child = children.python(name, ["-m", "src.core.cli", "--config", str(path), "--port", str(port), *cli_args],
                                env=env)
        try:
            child.wait_ready(port)
            return Target(name, port, PROXY_KEY, child.pid, notes or ["usage recording: on"])
        except StartError as exc:
            children.stop(child)
            rejected = "usage" in config and "usage" in str(exc) and "unknown key" in str(exc)
            if attempt == 2 or not rejected:
                raise
            config = {k: v for k, v in config.items() if k != "usage"}
            notes = [USAGE_UNAVAILABLE]
    raise AssertionError("unreachable")


def workers_supported() -> bool:
    help_text = subprocess.run([sys.executable, "-m", "src.core.cli", "--help"], cwd=ROOT, capture_output=True,
                               text=True, env=clean_env(), check=False).stdout
    return "--workers" in help_text


def litellm_missing() -> str | None:
    if importlib.util.find_spec("litellm") is None:
        return "litellm not installed"
    return None


def start_litellm(children: Children, upstream: Target, workdir: Path, models: list[str]) -> Target:
    config = {
        "model_list": [{"model_name": model, "litellm_params": {
            "model": "openai/" + model.removeprefix("bench-"), "api_base": f"http://127.0.0.1:{upstream.port}/v1",
            "api_key": "sk-upstream-unused"}} for model in models],
        "general_settings": {"master_key": LITELLM_KEY},
    }
    path = workdir / "litellm.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    child = children.python("litellm", [
        "-c", "import sys; from litellm.proxy.proxy_cli import run_server; sys.exit(run_server())",
        "--host", "127.0.0.1", "--port", str(port), "--config", str(path), "--num_workers", "1",
    ], env=clean_env())
    child.wait_ready(port, "/health/liveliness", timeout=120)
    return Target("litellm", port, LITELLM_KEY, child.pid)

"""router_for: the Router a configuration stands for (its backends, aliases, force_model, failover routes
and configured hybrids' legs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from src.config import Config
from src.core.runtime import router_for
from src.routing.aliases import AliasRule
from src.routing.plan import Route, Router, composite_route

BACKENDS: dict[str, Any] = {
    "openrouter": {"type": "openrouter", "api_key": "sk-or-runtime-test-0001"},
    "local": {"type": "openai", "base_url": "http://127.0.0.1:9/local"},
    "vllm": {"type": "openai", "base_url": "http://127.0.0.1:9/vllm"},
    "think": {
        "type": "hybrid",
        "reasoning_model": "openrouter:deepseek/deepseek-r1",
        "execution_model": "local:qwen?top_k=4",
    },
}
SETTINGS: dict[str, Any] = {
    "backends": BACKENDS,
    "default_backend": "local",
    "model_aliases": [{"pattern": "^fast$", "replacement": "vllm:mini|think"}],
    "failover_routes": {"vllm": ["openrouter"], "default": ["think?max_tokens=7"]},
}
THINK = composite_route("think", (Route("openrouter", "deepseek/deepseek-r1"), Route("local", "qwen", {"top_k": 4})))
THINK_7 = composite_route("think", THINK.legs, {"max_tokens": 7})  # the default failover route


def test_the_router_holds_the_configuration() -> None:
    router = router_for(Config.model_validate(SETTINGS))
    assert router.default_backend == "local"
    assert router.backends == frozenset({"openrouter", "local", "vllm", "think"})
    assert router.aliases == (AliasRule(pattern="^fast$", replacement="vllm:mini|think"),)
    assert router.force_model is None
    assert router.fallbacks == {"vllm": ("openrouter",), "default": ("think?max_tokens=7",)}
    assert router.composites == {"think": THINK}


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("m", [Route("local", "m"), THINK_7]),
        ("fast", [Route("vllm", "mini"), THINK, Route("openrouter", "mini"), THINK_7]),
        ("think?seed=1", [composite_route("think", THINK.legs, {"seed": 1}), THINK_7]),
    ],
)
def test_plans_follow_the_configuration(requested: str, expected: list[Route]) -> None:
    assert list(router_for(Config.model_validate(SETTINGS)).plan(requested)) == expected


@pytest.mark.parametrize("requested", ["x?temperature=0.5", None])
def test_force_model_is_carried(requested: object) -> None:
    router = router_for(Config.model_validate({**SETTINGS, "force_model": "fast"}))
    assert router.force_model == "fast"
    assert router.plan(requested)[0] == Route("vllm", "mini", {"temperature": 0.5} if requested else {})


def test_a_configuration_without_hybrids_has_no_composites() -> None:
    plain = {name: backend for name, backend in BACKENDS.items() if backend["type"] != "hybrid"}
    router = router_for(Config.model_validate({"backends": plain, "default_backend": "local"}))
    assert router.composites == {}
    assert isinstance(router, Router)


def test_a_proxy_without_redis_never_loads_its_client(tmp_path: Path) -> None:
    """The Redis client costs every process 7 MB of memory: only a configured Redis loads it."""
    settings = {**SETTINGS, "usage": {"database": str(tmp_path / "u.db")}}
    program = (
        "import sys; from src.config import Config; from src.core.runtime import Runtime;"
        "from src.transports.http1 import Http1Transport;"
        f"Runtime.build(Config(**{settings!r}), Http1Transport(), None);"
        "print('redis' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", program], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"

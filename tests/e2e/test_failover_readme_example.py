"""The README's failover example works as written: an `openrouter` model failing with 429 or 503 is
served by the hybrid backend it fails over to.

The YAML between `<!-- failover-example:start -->` and `<!-- failover-example:end -->` in README.md
is loaded as it is, with only every backend's `base_url` pointed at the scripted upstream.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from src.config import Config
from src.config.loading import load_config
from src.core.runtime import router_for
from src.routing.plan import Route
from tests.e2e.failover_helpers import (
    REASONING,
    header,
    reasoning_of,
    sdk,
)
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import ScriptedUpstream, Step, reasoning_events

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- failover-example:start -->", "<!-- failover-example:end -->"
OPENROUTER_KEY = "sk-or-v1-readme-example-0001"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")


def readme_block(text: str) -> str | None:
    """The YAML of the example: the fenced block between the markers (or all of it, if unfenced)."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        return None
    inner = text[start + len(START) : end]
    fenced = re.search(r"```[A-Za-z]*[ \t]*\n(.*?)```", inner, re.S)
    return fenced.group(1) if fenced else inner


BLOCK = readme_block(README.read_text(encoding="utf-8"))
pytestmark = pytest.mark.skipif(BLOCK is None, reason=f"README.md has no {START} ... {END} block yet")


def load_example(block: str, upstream_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    """The example's config as `load_config` reads it, with its backends on `upstream_url`."""
    raw = yaml.safe_load(block)
    for spec in raw.get("backends", {}).values():
        if spec.get("type") != "hybrid":
            spec["base_url"] = upstream_url
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")

    for name in [n for n in os.environ if n.startswith("SWITCHYARD_")]:
        monkeypatch.delenv(name)
    for name, default in set(_VARIABLE.findall(block)):
        if name == "OPENROUTER_API_KEY":
            monkeypatch.setenv(name, OPENROUTER_KEY)
        elif not default:
            monkeypatch.setenv(name, PROXY_KEY)  # any other secret the example asks for, a proxy key included
    if not (raw.get("auth") or {}).get("api_keys") and not raw.get("disable_auth"):
        monkeypatch.setenv("SWITCHYARD_API_KEY", PROXY_KEY)
    return load_config(cli={"config": str(path)})


def hybrid_fallback(config: Config) -> tuple[str, tuple[Route, ...], int]:
    """A model on `openrouter` whose failover routes reach a hybrid, its plan, and the hybrid's place in it."""
    hybrids = set(config.hybrid_backends())
    keys = [k for k, targets in config.failover_routes.items() if hybrids & {t.partition("?")[0] for t in targets}]
    assert keys, f"the example has no failover route to a hybrid backend ({sorted(hybrids)})"
    key = next((k for k in keys if k.startswith("openrouter:")), None) or next(
        (k for k in keys if k == "openrouter"), keys[0]
    )
    model = key if ":" in key else f"{'openrouter:' if key == 'openrouter' else ''}vendor/readme-model"
    plan = router_for(config).plan(model)
    place = next(i for i, route in enumerate(plan) if route.legs)
    assert plan[0].backend == "openrouter", f"{model!r} does not start on openrouter: {plan[0]}"
    return model, plan, place


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("status", [429, 503])
def test_the_readme_example_fails_over_to_its_hybrid(
    scripted: ScriptedUpstream,
    start_proxy: Callable[[Config], RunningProxy],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    stream: bool,
) -> None:
    assert BLOCK is not None
    config = load_example(BLOCK, scripted.base_url, tmp_path, monkeypatch)
    model, plan, place = hybrid_fallback(config)
    hybrid = plan[place]
    assert hybrid.legs
    reasoning_leg, execution_leg = hybrid.legs
    for route in plan[:place]:  # every route before the hybrid is busy
        scripted.script(route.model, Step(status=status))
    scripted.script(reasoning_leg.model, Step(events=reasoning_events(reasoning_leg.model, REASONING, "x")))
    client_key = next(iter(config.proxy_keys().values()), PROXY_KEY)
    proxy = start_proxy(config)

    text, reasoning, headers = reasoning_of(sdk(proxy, api_key=client_key), model, stream)

    assert text == f"Hello from {execution_leg.model}"
    assert reasoning == REASONING
    assert headers["x-switchyard-route"] == str(hybrid)
    assert headers["x-switchyard-attempts"] == str(place + 1)
    assert scripted.models() == [*(r.model for r in plan[:place]), reasoning_leg.model, execution_leg.model]
    if "${OPENROUTER_API_KEY}" in BLOCK:
        assert scripted.requests[0].key == OPENROUTER_KEY
    assert all(header(seen.headers, "x-switchyard-hop") == "1" for seen in scripted.requests)

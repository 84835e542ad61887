from __future__ import annotations

from collections.abc import Callable, Iterator

import openai
import pytest

from src.config import Config
from tests.fakes.proxy import PROXY_KEY, RunningProxy, config_for
from tests.fakes.scripted import ScriptedUpstream
from tests.fakes.upstream import FakeUpstream

ALIASES = [
    {"pattern": "^gpt-(.*)", "replacement": "openrouter:openai/gpt-\\1"},
    {"pattern": "^fast$", "replacement": "openrouter:openai/gpt-4o-mini?temperature=0.2"},
]


@pytest.fixture
def proxy(upstream: FakeUpstream, start_proxy: Callable[[Config], RunningProxy]) -> RunningProxy:
    return start_proxy(config_for(upstream.base_url, model_aliases=ALIASES))


@pytest.fixture
def client(proxy: RunningProxy) -> openai.OpenAI:
    # No SDK retries: each test sees exactly the proxy's first answer.
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=PROXY_KEY, max_retries=0)


@pytest.fixture(scope="session")
def scripted_server() -> Iterator[ScriptedUpstream]:
    server = ScriptedUpstream().start()
    yield server
    server.stop()


@pytest.fixture(name="scripted")
def scripted_fixture(scripted_server: ScriptedUpstream) -> ScriptedUpstream:
    scripted_server.reset()
    return scripted_server

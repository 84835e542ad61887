"""The OpenAI Agents SDK (`openai-agents`) through the proxy: one agent run with one tool, its
`OpenAIResponsesModel` on the proxy's `/v1/responses`, onto a chat-completions-only upstream.
Tracing is disabled, so the SDK makes no call but the proxy's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import pytest
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool
from openai import AsyncOpenAI

from src.config import Config
from tests.e2e.responses_helpers import calls_step, config, sent
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.scripted import ScriptedUpstream

pytestmark = pytest.mark.anyio
MODEL = "vendor/agent-model"
NO_TRACING = RunConfig(tracing_disabled=True)


@pytest.fixture
def proxy(scripted: ScriptedUpstream, start_proxy: Callable[[Config], RunningProxy]) -> RunningProxy:
    return start_proxy(config(scripted))


@pytest.fixture
async def client(proxy: RunningProxy) -> AsyncIterator[AsyncOpenAI]:
    """Closed in the test's own loop: left to the garbage collector, it would close its connections in
    whichever loop runs then (a later test's), when theirs is closed ("Event loop is closed")."""
    async with AsyncOpenAI(base_url=f"{proxy.url}/v1", api_key=PROXY_KEY, max_retries=0) as client:
        yield client


def weather_agent(client: AsyncOpenAI, asked: list[str]) -> Agent:
    @function_tool
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        asked.append(city)
        return f"sunny in {city}"

    return Agent(name="forecaster", instructions="Answer with the weather tool.", tools=[get_weather],
                 model=OpenAIResponsesModel(model=MODEL, openai_client=client))  # fmt: skip


def check_the_two_turns(scripted: ScriptedUpstream) -> None:
    assert [r.model for r in scripted.requests] == [MODEL, MODEL]
    first = scripted.requests[0].body
    assert first["messages"] == [{"role": "system", "content": "Answer with the weather tool."},
                                 {"role": "user", "content": "Weather in Paris?"}]  # fmt: skip
    [tool] = first["tools"]
    assert tool["function"]["name"] == "get_weather"
    assert tool["function"]["parameters"]["properties"]["city"]["type"] == "string"
    assistant, result = sent(scripted)[-2:]
    [call] = assistant["tool_calls"]
    assert call["id"] == "call_w1" and json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert result == {"role": "tool", "tool_call_id": "call_w1", "content": "sunny in Paris"}


async def test_an_agent_runs_its_tool_and_answers(client: AsyncOpenAI, scripted: ScriptedUpstream) -> None:
    scripted.script(MODEL, calls_step(MODEL, ("call_w1", "get_weather", '{"city": "Paris"}'), stream=False))
    asked: list[str] = []
    result = await Runner.run(weather_agent(client, asked), "Weather in Paris?", run_config=NO_TRACING)
    assert asked == ["Paris"]
    assert result.final_output == f"Hello from {MODEL}"
    assert "stream" not in scripted.requests[0].body
    check_the_two_turns(scripted)


async def test_a_streamed_agent_run_runs_its_tool_and_answers(client: AsyncOpenAI, scripted: ScriptedUpstream) -> None:
    scripted.script(MODEL, calls_step(MODEL, ("call_w1", "get_weather", '{"city": "Paris"}')))
    asked: list[str] = []
    run = Runner.run_streamed(weather_agent(client, asked), "Weather in Paris?", run_config=NO_TRACING)
    kinds = [event.type async for event in run.stream_events()]
    assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
    assert asked == ["Paris"]
    assert run.final_output == f"Hello from {MODEL}"
    assert scripted.requests[0].body["stream"] is True
    check_the_two_turns(scripted)

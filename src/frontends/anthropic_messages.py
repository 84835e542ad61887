"""The Anthropic Messages front-end: `/v1/messages` and `/v1/messages/count_tokens`.

Requests go through the same routing and failover as chat completions. A route whose backend
serves Messages natively for the model (OpenRouter, `anthropic/*`) gets the request as it came;
every other route gets it translated to chat completions, and its answer translated back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from src.backends.answer import Answer
from src.backends.base import Backend, Call
from src.frontends.anthropic_stream import translated
from src.frontends.gateway import Gateway
from src.frontends.incoming import Incoming
from src.frontends.reply import Reply, json_reply
from src.frontends.serving import admit, call_of, dispatch, passed_on, stream_reply
from src.routing.plan import Route
from src.translation.anthropic_request import messages_to_chat
from src.translation.anthropic_response import chat_to_message
from src.translation.anthropic_stream import StreamTranslator
from src.translation.token_estimate import estimate_input_tokens
from src.translation.tool_names import ToolNames
from src.wire.anthropic import MESSAGES
from src.wire.errors import InvalidRequest
from src.wire.json_body import dumps
from src.wire.openai_chat import CHAT, completion_of


@dataclass
class MessagesOutbound:
    """A Messages request, as each route of its plan receives it: native or translated."""

    call: Call
    backends: Mapping[str, Backend]
    first: Route
    names: ToolNames = field(init=False)
    _chats: dict[bool, Call] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        # Translated now, as the first route needs it, so a malformed request fails before any attempt.
        self._chat(_keeps_cache_control(self.first))

    def _chat(self, keep_cache_control: bool) -> Call:
        """The translation for routes that do (Claude) or do not understand cache_control.
        Tool names are rewritten the same way in both, so `names` serves either answer."""
        if keep_cache_control not in self._chats:
            chat_body, self.names = messages_to_chat(self.call.body, keep_cache_control=keep_cache_control)
            self._chats[keep_cache_control] = replace(self.call, raw=dumps(chat_body), body=chat_body)
        return self._chats[keep_cache_control]

    async def send(self, route: Route, key: int | None) -> Answer:
        backend = self.backends[route.backend]
        if backend.serves_messages(route.model):
            return await backend.messages(self.call, route, key)
        return await backend.chat(self._chat(_keeps_cache_control(route)), route, key)


def _keeps_cache_control(route: Route) -> bool:
    """Only Claude models understand Anthropic's cache_control marks."""
    return "claude" in route.answerer.model.lower()


async def messages(gateway: Gateway, incoming: Incoming) -> Reply:
    body, meter = incoming.body, incoming.metered
    _check(body)
    plan = await admit(gateway, incoming)
    outbound = MessagesOutbound(call_of(gateway, incoming), gateway.backends, plan[0])
    served = await dispatch(gateway, incoming, plan, outbound)
    answer, headers = served.answer, served.headers()
    if answer.protocol is MESSAGES:  # served natively: passed on as it came
        return await passed_on(served, meter, MESSAGES, headers)
    stop_sequences = _stop_sequences(body)
    if meter.stream:
        translator = StreamTranslator(body["model"], outbound.names, stop_sequences=stop_sequences)
        return stream_reply(served, meter, MESSAGES, headers, partial(translated, translator=translator))
    completion = completion_of(await answer.read(), served.route.backend)
    meter.saw_usage(CHAT.usage(completion))
    message = chat_to_message(completion, body["model"], outbound.names, stop_sequences=stop_sequences)
    return json_reply(message, headers=headers, after=meter.finish)


async def count_tokens(gateway: Gateway, incoming: Incoming) -> Reply:
    if not isinstance(incoming.body.get("messages"), list):
        raise InvalidRequest("messages: a list of messages is required", param="messages")
    return json_reply({"input_tokens": estimate_input_tokens(incoming.body)})


def _check(body: dict[str, Any]) -> None:
    """The fields every Messages request must have; the rest is the translator's to judge."""
    if not isinstance(body.get("model"), str) or not body["model"].strip():
        raise InvalidRequest("model: a non-empty string is required", param="model")
    if not isinstance(body.get("messages"), list):
        raise InvalidRequest("messages: a list of messages is required", param="messages")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidRequest("max_tokens: a positive integer is required", param="max_tokens")


def _stop_sequences(body: dict[str, Any]) -> tuple[str, ...]:
    stops = body.get("stop_sequences")
    return tuple(s for s in stops if isinstance(s, str)) if isinstance(stops, list) else ()

"""The OpenAI chat-completions front-end: `/v1/chat/completions`, passed through to any route.

Only `model` (and the URI parameters) is rewritten; every other field passes through untouched.
"""

from __future__ import annotations

from functools import partial

from src.failover.dispatcher import ChatOutbound
from src.frontends.gateway import Gateway
from src.frontends.incoming import Incoming
from src.frontends.reply import BodyReply, Reply
from src.frontends.serving import admit, call_of, dispatch, forwarded, stream_reply
from src.wire.openai_chat import CHAT


async def completions(gateway: Gateway, incoming: Incoming) -> Reply:
    meter = incoming.metered
    plan = await admit(gateway, incoming)
    call = call_of(gateway, incoming)
    served = await dispatch(gateway, incoming, plan, ChatOutbound(call, gateway.backends))
    answer = served.answer
    headers = {**forwarded(answer.headers), **served.headers()}
    if meter.stream:
        return stream_reply(served, meter, CHAT, headers)
    body = await answer.read()
    media_type = answer.headers.get("content-type", "application/json")
    return BodyReply(answer.status, body, headers, media_type, partial(meter.finish, body, CHAT))

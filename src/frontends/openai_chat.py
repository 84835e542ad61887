"""The OpenAI chat-completions front-end: `/v1/chat/completions`, passed through to any route.

Only `model` (and the URI parameters) is rewritten; every other field passes through untouched.
"""

from __future__ import annotations

from src.failover.dispatcher import ChatOutbound
from src.frontends.gateway import Gateway
from src.frontends.incoming import Incoming
from src.frontends.reply import Reply
from src.frontends.serving import admit, call_of, dispatch, forwarded, passed_on
from src.wire.openai_chat import CHAT


async def completions(gateway: Gateway, incoming: Incoming) -> Reply:
    plan = await admit(gateway, incoming)
    call = call_of(gateway, incoming)
    served = await dispatch(gateway, incoming, plan, ChatOutbound(call, gateway.backends))
    return await passed_on(served, incoming.metered, CHAT, {**forwarded(served.answer.headers), **served.headers()})

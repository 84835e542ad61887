"""What the proxy reports about itself: `/v1/usage` (JSON), `/metrics` (Prometheus text), `/health`."""

from __future__ import annotations

import time

from src.core.runtime import Runtime
from src.frontends.incoming import Incoming
from src.frontends.reply import BodyReply, Reply, json_reply
from src.usage.prometheus import CONTENT_TYPE
from src.usage.since import parse_since
from src.usage.store import GROUPS
from src.wire.errors import InvalidRequest, NotFound, PermissionDenied


async def usage(runtime: Runtime, incoming: Incoming) -> Reply:
    """Totals and one row per group; a key sees its own usage, an admin key everyone's."""
    store = runtime.accounting.store
    if not store.enabled:
        raise NotFound("usage recording is off (usage.database: null)")
    group_by = incoming.query.get("group_by", "model")
    if group_by not in GROUPS:
        raise InvalidRequest(f"group_by must be one of: {', '.join(GROUPS)}", param="group_by")
    try:
        since = parse_since(incoming.query["since"], time.time()) if incoming.query.get("since") else None
    except ValueError as exc:
        raise InvalidRequest(f"since: {exc}", param="since") from None
    scope = None if runtime.accounting.is_admin(incoming.key_name) else incoming.key_name
    await store.flush()  # so that the answer includes the requests just made
    summary = await store.summary(since, group_by, scope)
    return json_reply({**summary, "key": scope or "*"})


async def metrics(runtime: Runtime, incoming: Incoming) -> Reply:
    if not runtime.config.metrics.public:
        key_name = runtime.keys.authenticate(incoming.headers)
        if not runtime.accounting.is_admin(key_name):
            raise PermissionDenied("/metrics needs an admin proxy key (or metrics.public: true)")
    return BodyReply(200, runtime.metrics_text().encode(), media_type=CONTENT_TYPE)


async def health(runtime: Runtime, incoming: Incoming) -> Reply:
    return json_reply(runtime.health())

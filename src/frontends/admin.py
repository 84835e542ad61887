"""What the proxy reports about itself: `/v1/usage` (JSON) and `/metrics` (Prometheus text)."""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from src.core.errors import InvalidRequest, NotFound, PermissionDenied
from src.core.pipeline import reject_loops
from src.core.runtime import Runtime
from src.usage.metrics import CONTENT_TYPE
from src.usage.since import parse_since
from src.usage.store import GROUPS


async def usage(request: Request) -> JSONResponse:
    """Totals and one row per group; a key sees its own usage, an admin key everyone's."""
    runtime: Runtime = request.app.state.runtime
    reject_loops(request.headers)
    key_name = runtime.keys.authenticate(request.headers)
    store = runtime.accounting.store
    if not store.enabled:
        raise NotFound("usage recording is off (usage.database: null)")
    query = request.query_params
    group_by = query.get("group_by", "model")
    if group_by not in GROUPS:
        raise InvalidRequest(f"group_by must be one of: {', '.join(GROUPS)}", param="group_by")
    try:
        since = parse_since(query["since"], time.time()) if query.get("since") else None
    except ValueError as exc:
        raise InvalidRequest(f"since: {exc}", param="since") from None
    scope = None if runtime.accounting.is_admin(key_name) else key_name
    await store.flush()  # so that the answer includes the requests just made
    summary = await asyncio.to_thread(store.summary, since, group_by, scope)
    return JSONResponse({**summary, "key": scope or "*"})


async def metrics(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    reject_loops(request.headers)
    if not runtime.config.metrics.public:
        key_name = runtime.keys.authenticate(request.headers)
        if not runtime.accounting.is_admin(key_name):
            raise PermissionDenied("/metrics needs an admin proxy key (or metrics.public: true)")
    return Response(runtime.accounting.metrics.render(), media_type=CONTENT_TYPE)

"""What the front-ends need from the running proxy: built once by `src.core.runtime`, never
changed by a request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from src.backends.base import Backend
from src.backends.catalog import ModelCatalog
from src.failover.dispatcher import Dispatcher
from src.frontends.responses_state import ResponsesState
from src.routing.plan import Router
from src.usage.accounting import Accounting


@dataclass(frozen=True)
class Gateway:
    router: Router
    backends: Mapping[str, Backend]
    dispatcher: Dispatcher
    accounting: Accounting
    catalog: ModelCatalog
    responses: ResponsesState
    max_response: int  # bytes of an upstream answer read whole, after decoding (max_response_mb)

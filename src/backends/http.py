"""Backends reached over HTTP: an OpenAI-compatible upstream with keys in rotation.

Vendors adjust headers and error details in subclasses (`openai`, `openrouter`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, ClassVar

import orjson

from src.backends.answer import Answer, HttpAnswer
from src.backends.base import Backend, Call
from src.backends.identity import HOP_HEADER, client_header, identity_headers
from src.config import Identity
from src.routing.plan import Route
from src.transports.base import Transport, UpstreamRequest, UpstreamResponse
from src.wire.anthropic import MESSAGES
from src.wire.errors import UpstreamError, UpstreamProtocolError, UpstreamStatusError
from src.wire.json_body import upstream_json
from src.wire.openai_chat import CHAT
from src.wire.protocol import InBandError, WireProtocol
from src.wire.redaction import Redactor
from src.wire.responses import RESPONSES
from src.wire.sse import MAX_EVENT

MAX_ERROR_TEXT = 500
# Bytes of an error answer read: its message is near the start, and a huge or endless one must
# not hold up to max_response_mb per request while the next route is tried.
MAX_ERROR_BODY = 64 * 1024
# Native Messages requests keep the client's protocol version and beta features.
ANTHROPIC_HEADERS = ("anthropic-version", "anthropic-beta")
FIXED_HEADERS = {"Content-Type": "application/json", HOP_HEADER: "1"}
MODELS_TIMEOUT = 30.0  # a model list is small; a backend that takes longer is down, not busy


@dataclass(frozen=True)
class AnswerLimits:
    max_body: int = 64 * 1024 * 1024  # bytes of an answer read whole, after decoding (max_response_mb)
    max_event: int = MAX_EVENT  # bytes of one event of a stream (max_event_mb)


class HttpBackend(Backend):
    # Client headers forwarded as they are (lower-case names).
    passthrough_headers: ClassVar[tuple[str, ...]] = ()
    lists_models = True

    def __init__(
        self, name: str, config: Any, transport: Transport, identity: Identity, limits: AnswerLimits = AnswerLimits()
    ) -> None:
        super().__init__(name)
        self.config = config
        self._transport = transport
        self._limits = limits
        self._identity = config.identity.over(identity)
        keys = config.upstream_keys()
        self._authorizations = tuple(f"Bearer {key}" for key in keys)
        self.mask = Redactor((*keys, *config.proxy_secrets()))  # upstream text can quote what it was sent
        self._proxy = config.proxy.get_secret_value() if config.proxy else None
        self._ca_bundle = str(config.ca_bundle) if config.ca_bundle else None

    @property
    def key_count(self) -> int:
        return len(self._authorizations)

    # These return `_post`'s coroutine rather than await it in one of their own: one fewer per request.
    def chat(self, call: Call, route: Route, key: int | None = None) -> Coroutine[Any, Any, Answer]:
        return self._post("/chat/completions", call, route, key, CHAT)

    def messages(self, call: Call, route: Route, key: int | None = None) -> Coroutine[Any, Any, Answer]:
        return self._post("/messages", call, route, key, MESSAGES, ANTHROPIC_HEADERS)

    def serves_responses(self, model: str) -> bool:
        return bool(self.config.responses == "native")

    def responses(self, call: Call, route: Route, key: int | None = None) -> Coroutine[Any, Any, Answer]:
        return self._post("/responses", call, route, key, RESPONSES)

    async def _post(
        self, path: str, call: Call, route: Route, key: int | None, protocol: WireProtocol, passthrough: tuple[str, ...] = ()
    ) -> Answer:
        """Raises an UpstreamError unless the upstream accepted the request. With a client's own key
        (byok), key None sends that key; a key number still picks one of the backend's own."""
        own = call.upstream_key if self.takes_client_keys and call.upstream_key and key is None else None
        request = self._request("POST", path, call.headers, call.body_for(route), key, passthrough=passthrough)
        if own is not None:
            request = replace(request, headers={**request.headers, "Authorization": f"Bearer {own}"})
        response = await self._transport.send(request)
        mask = self.mask.with_secrets((own,)) if own else self.mask
        if response.status >= 300:
            raise self.status_error(response.status, await error_body(response), response.headers, mask)
        return HttpAnswer(response, protocol, self.name, partial(self.in_band_failure, mask=mask), self._limits.max_event)

    async def list_models(self) -> list[dict[str, Any]]:
        timeout = min(self.config.timeout, MODELS_TIMEOUT)
        response = await self._transport.send(self._request("GET", "/models", {}, None, key_turn=0, timeout=timeout))
        if response.status >= 300:
            raise self.status_error(response.status, await error_body(response), response.headers)
        payload = await response.read()
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise UpstreamProtocolError(self.name, "the model list is not JSON") from None
        models = data.get("data") if isinstance(data, dict) else data
        if not isinstance(models, list):
            raise UpstreamProtocolError(self.name, "the model list is not a list")
        return [m for m in models if isinstance(m, dict) and isinstance(m.get("id"), str)]

    def _request(
        self,
        method: str,
        path: str,
        client: Mapping[str, str],
        body: bytes | None,
        key_turn: int | None = None,
        timeout: float | None = None,
        passthrough: tuple[str, ...] = (),
    ) -> UpstreamRequest:
        return UpstreamRequest(
            method=method,
            url=self.config.base_url + path,
            headers=self.headers(client, key_turn, passthrough),
            backend=self.name,
            body=body,
            timeout=timeout or self.config.timeout,
            connect_timeout=self.config.connect_timeout,
            max_body=self._limits.max_body,
            proxy=self._proxy,
            ca_bundle=self._ca_bundle,
        )

    def headers(
        self, client: Mapping[str, str], key_turn: int | None = None, passthrough: tuple[str, ...] = ()
    ) -> dict[str, str]:
        """Headers for one request; `key_turn` picks a key, else the next in the rotation."""
        headers = identity_headers(self._identity, client)
        headers.update(FIXED_HEADERS)
        for name in (*self.passthrough_headers, *passthrough) if passthrough else self.passthrough_headers:
            if name in client:  # seldom: only then is the value looked at
                headers[name] = client_header(client, name) or ""
        if self._authorizations:
            turn = self.next_key_turn() if key_turn is None else key_turn
            headers["Authorization"] = self._authorizations[turn % len(self._authorizations)]
        return headers

    def status_error(
        self, status: int, body: bytes, headers: Mapping[str, str], mask: Redactor | None = None
    ) -> UpstreamStatusError:
        """The upstream's error, with its status and its own message, masked (then cut) with `mask`."""
        mask = mask or self.mask
        text = mask(body.decode("utf-8", "replace"))
        error = _error_object(text)
        message = error.get("message") if isinstance(error.get("message"), str) else None
        if not message:
            message = mask.clip(text.strip(), MAX_ERROR_TEXT) or _redirect(status, headers) or "no error message"
        detail = self.error_detail(error)
        code, upstream_type, retry_after = error.get("code"), error.get("type"), headers.get("retry-after")
        return UpstreamStatusError(
            self.name,
            status if 400 <= status <= 599 else 502,
            f"{message} ({detail})" if detail else message,
            upstream_type=upstream_type if isinstance(upstream_type, str) else None,
            code=str(code) if isinstance(code, int | str) and not isinstance(code, bool) and len(str(code)) <= 64 else None,
            retry_after=retry_after if retry_after and retry_after.isascii() and len(retry_after) <= 64 else None,
        )

    def in_band_failure(
        self, error: InBandError, payload: bytes, headers: Mapping[str, str], mask: Redactor | None = None
    ) -> UpstreamStatusError:
        """A failure reported inside a 200: the status the in-band rule gave, the vendor's details."""
        failure = self.status_error(error.status, payload, headers, mask)
        return failure if failure.message != "no error message" else UpstreamStatusError(
            self.name, error.status, (mask or self.mask)(error.message), upstream_type=error.kind, code=error.code
        )

    def error_detail(self, error: Mapping[str, Any]) -> str | None:
        """Vendor-specific context worth adding to an upstream error message."""
        return None


def _error_object(body: str) -> dict[str, Any]:
    try:
        data = upstream_json(body)
    except orjson.JSONDecodeError:
        try:  # a JSON error followed by more (a body cut at MAX_ERROR_BODY, or a proxy's trailer)
            data = json.JSONDecoder().raw_decode(body.lstrip())[0]
        except (ValueError, RecursionError):
            return {}
    if not isinstance(data, dict):
        return {}
    error = data.get("error", data)
    if isinstance(error, str):
        return {"message": error}
    if isinstance(error, dict):
        if not isinstance(error.get("message"), str) and isinstance(data.get("detail"), str):
            return {**error, "message": data["detail"]}
        return error
    return {}


def _redirect(status: int, headers: Mapping[str, str]) -> str | None:
    location = headers.get("location")
    if 300 <= status < 400 and location:
        return f"the upstream redirected to {location[:200]}; set base_url to it"
    return None


async def error_body(response: UpstreamResponse) -> bytes:
    """The first MAX_ERROR_BODY bytes of an error answer (what arrived, if it breaks off); the rest is dropped."""
    parts: list[bytes] = []
    size = 0
    try:
        async with contextlib.aclosing(response.iter_chunks()) as chunks:  # type: ignore[type-var]
            async for chunk in chunks:
                parts.append(chunk)
                size += len(chunk)
                if size >= MAX_ERROR_BODY:
                    break
    except UpstreamError:
        pass  # the status says what failed; what the body managed to say is still worth quoting
    finally:
        await response.aclose()
    return b"".join(parts)[:MAX_ERROR_BODY]

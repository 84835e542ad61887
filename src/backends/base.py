"""What every backend is: a named upstream that serves chat completions and lists its models."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from src.core.config import Identity
from src.core.errors import UpstreamProtocolError, UpstreamStatusError
from src.core.identity import HOP_HEADER, client_header, identity_headers
from src.core.redaction import Redactor
from src.transports.base import Transport, UpstreamRequest, UpstreamResponse

MAX_ERROR_TEXT = 500
# Native Messages requests keep the client's protocol version and beta features.
ANTHROPIC_HEADERS = ("anthropic-version", "anthropic-beta")
FIXED_HEADERS = {"Content-Type": "application/json", HOP_HEADER: "1"}
MODELS_TIMEOUT = 30.0  # a model list is small; a backend that takes longer is down, not busy


class Backend:
    """An OpenAI-compatible upstream. Subclasses adjust headers and error details for their vendor."""

    # Client headers forwarded as they are (lower-case names).
    passthrough_headers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, config: Any, transport: Transport, identity: Identity) -> None:
        self.name = name
        self.config = config
        self._transport = transport
        self._identity = config.identity.over(identity)
        self._keys = config.keys()
        self._authorizations = tuple(f"Bearer {key}" for key in self._keys)
        self._turn = itertools.count()
        self.redact = Redactor(self._keys)  # upstream text can quote the key it was sent

    @property
    def key_count(self) -> int:
        return len(self._keys)

    def next_key_turn(self) -> int:
        """Where this request starts in the key rotation."""
        return next(self._turn)

    async def chat(
        self,
        body: bytes,
        client_headers: Mapping[str, str],
        *,
        key: int | None = None,
    ) -> UpstreamResponse:
        """POST a chat completion with key number `key` (else the next in the rotation)."""
        return await self._post("/chat/completions", body, client_headers, key)

    async def messages(self, body: bytes, client_headers: Mapping[str, str], *, key: int | None = None) -> UpstreamResponse:
        """POST an Anthropic Messages request to the backend's own Messages endpoint, as it is."""
        return await self._post("/messages", body, client_headers, key, ANTHROPIC_HEADERS)

    async def _post(
        self, path: str, body: bytes, client: Mapping[str, str], key: int | None, passthrough: tuple[str, ...] = ()
    ) -> UpstreamResponse:
        """Raises an UpstreamError unless the upstream accepted the request."""
        response = await self._transport.send(self._request("POST", path, client, body, key, passthrough=passthrough))
        if response.status >= 300:
            raise self.status_error(response.status, await response.read(), response.headers)
        return response

    def serves_messages(self, model: str) -> bool:
        """Whether Messages requests for `model` go to the backend's own Messages endpoint untranslated."""
        return False

    async def list_models(self) -> list[dict[str, Any]]:
        timeout = min(self.config.timeout, MODELS_TIMEOUT)
        response = await self._transport.send(self._request("GET", "/models", {}, None, key_turn=0, timeout=timeout))
        payload = await response.read()
        if response.status >= 300:
            raise self.status_error(response.status, payload, response.headers)
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
        )

    def headers(
        self, client: Mapping[str, str], key_turn: int | None = None, passthrough: tuple[str, ...] = ()
    ) -> dict[str, str]:
        """Headers for one request; `key_turn` picks a key, else the next in the rotation."""
        headers = identity_headers(self._identity, client)
        headers.update(FIXED_HEADERS)
        for name in (*self.passthrough_headers, *passthrough) if client else ():
            value = client_header(client, name)
            if value is not None:
                headers[name] = value
        if self._authorizations:
            turn = next(self._turn) if key_turn is None else key_turn
            headers["Authorization"] = self._authorizations[turn % len(self._authorizations)]
        return headers

    def status_error(self, status: int, body: bytes, headers: Mapping[str, str]) -> UpstreamStatusError:
        """The upstream's error, with its status and its own message."""
        # Mask before cutting: a key cut in half would no longer be recognised.
        text = self.redact(body.decode("utf-8", "replace"))
        error = _error_object(text)
        message = error.get("message") if isinstance(error.get("message"), str) else None
        detail = self.error_detail(error)
        if not message:
            message = text.strip()[:MAX_ERROR_TEXT] or "no error message"
        code, upstream_type, retry_after = error.get("code"), error.get("type"), headers.get("retry-after")
        return UpstreamStatusError(
            self.name,
            status if 400 <= status <= 599 else 502,
            f"{message} ({detail})" if detail else message,
            upstream_type=upstream_type if isinstance(upstream_type, str) else None,
            code=str(code) if code is not None else None,
            retry_after=retry_after if retry_after and retry_after.isascii() else None,
        )

    def error_detail(self, error: Mapping[str, Any]) -> str | None:
        """Vendor-specific context worth adding to an upstream error message."""
        return None


def _error_object(body: str) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
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

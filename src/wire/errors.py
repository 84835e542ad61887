"""The one error hierarchy. Every failure a client can see is a ProxyError.

Each protocol renders these in its own envelope (`src.wire.openai_chat`, `src.wire.anthropic`),
and `src.core.app` is the one place that turns them into responses.
"""

from __future__ import annotations


class ProxyError(Exception):
    """A failure with an HTTP status, reported to the client in its protocol's envelope."""

    status: int = 500
    error_type: str | None = "api_error"  # None: the envelope derives one from the status

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.param = param
        self.code = code
        self.headers = headers or {}

    def amended(self, message: str | None = None, headers: dict[str, str] | None = None) -> ProxyError:
        """A copy with another message or more headers; errors are never changed once raised."""
        error = type(self).__new__(type(self))
        error.__dict__.update(self.__dict__)
        error.args = self.args
        if message is not None:
            error.message = message
            error.args = (message,)
        error.headers = {**self.headers, **(headers or {})}
        return error


class InternalError(ProxyError):
    """A bug in Switchyard; the details go to the log, never to the client."""

    def __init__(self) -> None:
        super().__init__("internal error in Switchyard; the proxy's log has the details")


class InvalidRequest(ProxyError):
    status = 400
    error_type = "invalid_request_error"


class AuthenticationFailed(ProxyError):
    status = 401
    error_type = "authentication_error"


class PermissionDenied(ProxyError):
    status = 403
    error_type = "permission_error"


class LimitReached(ProxyError):
    """A proxy key is over its budget (code insufficient_quota) or its rpm (code rate_limit_exceeded)."""

    status = 429
    error_type = None


class NotFound(ProxyError):
    status = 404
    error_type = "not_found_error"


class RequestTooLarge(ProxyError):
    status = 413
    error_type = "request_too_large"


class MethodNotAllowed(ProxyError):
    status = 405
    error_type = "invalid_request_error"


class LoopDetected(ProxyError):
    """The request came from a Switchyard: a backend points back at a proxy."""

    status = 508
    error_type = "loop_detected"


class UpstreamError(ProxyError):
    """A backend could not serve the request."""

    def __init__(self, backend: str, message: str, **kwargs: object) -> None:
        super().__init__(f"{backend}: {message}", **kwargs)  # type: ignore[arg-type]
        self.backend = backend


class UpstreamStatusError(UpstreamError):
    """The backend answered with an HTTP error; the client gets the same status."""

    def __init__(
        self,
        backend: str,
        status: int,
        message: str,
        *,
        upstream_type: str | None = None,
        code: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        headers = {"retry-after": retry_after} if retry_after else None
        super().__init__(backend, message, status=status, code=code, headers=headers)
        self.error_type = upstream_type
        self.retry_after = retry_after


class UpstreamUnreachable(UpstreamError):
    """Refused connection, DNS or TLS failure, or a connection lost mid-response."""

    status = 502
    error_type = "upstream_unreachable"


class UpstreamProtocolError(UpstreamError):
    """The backend answered with something that is not what its protocol promises."""

    status = 502
    error_type = "upstream_invalid_response"


class UpstreamTimeout(UpstreamError):
    status = 504
    error_type = "upstream_timeout"


class DeadlineExceeded(UpstreamTimeout):
    """The request's failover deadline ran out during an attempt: nothing more is tried."""


def status_of(code: object) -> int | None:
    """An HTTP error status from an upstream's `code` (429 or "429"); None for anything else
    ("server_error", "²", 5,000 digits, a bool, a float)."""
    if isinstance(code, bool):
        return None
    if isinstance(code, str) and len(code) == 3 and code.isascii() and code.isdigit():
        code = int(code)
    return code if isinstance(code, int) and 400 <= code <= 599 else None

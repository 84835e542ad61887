"""identity_headers: configured value, else the client's, else a default; client_header: UTF-8 values survive."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from src import __version__
from src.backends.identity import DEFAULT_USER_AGENT, client_header, identity_headers
from src.config import Identity


@pytest.mark.parametrize(
    ("configured", "client", "expected"),
    [
        # nothing configured, nothing sent: defaults, and no HTTP-Referer at all
        (Identity(), {}, {"User-Agent": f"switchyard/{__version__}", "X-Title": "Switchyard"}),
        # user_agent
        (
            Identity(user_agent="my-agent/1"),
            {"User-Agent": "client/2"},
            {"User-Agent": "my-agent/1", "X-Title": "Switchyard"},
        ),
        (Identity(), {"User-Agent": "client/2"}, {"User-Agent": "client/2", "X-Title": "Switchyard"}),
        (Identity(), {"user-agent": "client/2"}, {"User-Agent": "client/2", "X-Title": "Switchyard"}),
        (Identity(user_agent="my-agent/1"), {}, {"User-Agent": "my-agent/1", "X-Title": "Switchyard"}),
        # referer
        (
            Identity(referer="https://mine.example"),
            {"HTTP-Referer": "https://client.example"},
            {"User-Agent": DEFAULT_USER_AGENT, "HTTP-Referer": "https://mine.example", "X-Title": "Switchyard"},
        ),
        (
            Identity(),
            {"http-referer": "https://client.example"},
            {"User-Agent": DEFAULT_USER_AGENT, "HTTP-Referer": "https://client.example", "X-Title": "Switchyard"},
        ),
        (
            Identity(referer="https://mine.example"),
            {},
            {"User-Agent": DEFAULT_USER_AGENT, "HTTP-Referer": "https://mine.example", "X-Title": "Switchyard"},
        ),
        # title: configured beats either client header
        (Identity(title="Mine"), {"X-Title": "Theirs"}, {"User-Agent": DEFAULT_USER_AGENT, "X-Title": "Mine"}),
        (
            Identity(title="Mine"),
            {"X-OpenRouter-Title": "Theirs"},
            {"User-Agent": DEFAULT_USER_AGENT, "X-Title": "Mine"},
        ),
        # title: client's own passes through, from either header
        (Identity(), {"X-Title": "Theirs"}, {"User-Agent": DEFAULT_USER_AGENT, "X-Title": "Theirs"}),
        (Identity(), {"x-title": "Theirs"}, {"User-Agent": DEFAULT_USER_AGENT, "X-Title": "Theirs"}),
        (Identity(), {"X-OpenRouter-Title": "Theirs"}, {"User-Agent": DEFAULT_USER_AGENT, "X-Title": "Theirs"}),
        (
            Identity(),
            {"x-openrouter-title": "OR", "x-title": "Plain"},
            {"User-Agent": DEFAULT_USER_AGENT, "X-Title": "OR"},
        ),
        # title: default
        (Identity(title="Mine"), {}, {"User-Agent": DEFAULT_USER_AGENT, "X-Title": "Mine"}),
        # all three configured replace all three of the client's
        (
            Identity(user_agent="ua", referer="https://r.example", title="T"),
            {"User-Agent": "c-ua", "HTTP-Referer": "https://c.example", "X-Title": "c-t"},
            {"User-Agent": "ua", "HTTP-Referer": "https://r.example", "X-Title": "T"},
        ),
        # all three passed through; unrelated client headers are not copied
        (
            Identity(),
            {"User-Agent": "c-ua", "HTTP-Referer": "https://c.example", "X-Title": "c-t", "Authorization": "Bearer k"},
            {"User-Agent": "c-ua", "HTTP-Referer": "https://c.example", "X-Title": "c-t"},
        ),
    ],
)
def test_identity_headers(configured: Identity, client: dict[str, str], expected: dict[str, str]) -> None:
    assert identity_headers(configured, Headers(client)) == expected


@pytest.mark.parametrize(
    ("backend", "global_", "expected"),
    [
        (Identity(), Identity(), Identity()),
        (
            Identity(),
            Identity(user_agent="g-ua", referer="g-r", title="g-t"),
            Identity(user_agent="g-ua", referer="g-r", title="g-t"),
        ),
        (
            Identity(user_agent="b-ua", referer="b-r", title="b-t"),
            Identity(user_agent="g-ua", referer="g-r", title="g-t"),
            Identity(user_agent="b-ua", referer="b-r", title="b-t"),
        ),
        (
            Identity(user_agent="b-ua"),
            Identity(user_agent="g-ua", referer="g-r", title="g-t"),
            Identity(user_agent="b-ua", referer="g-r", title="g-t"),
        ),
        (
            Identity(referer="b-r"),
            Identity(user_agent="g-ua", title="g-t"),
            Identity(user_agent="g-ua", referer="b-r", title="g-t"),
        ),
        (Identity(title="b-t"), Identity(title="g-t"), Identity(title="b-t")),
        (Identity(title="b-t"), Identity(), Identity(title="b-t")),
    ],
)
def test_identity_over(backend: Identity, global_: Identity, expected: Identity) -> None:
    merged = backend.over(global_)
    assert (merged.user_agent, merged.referer, merged.title) == (expected.user_agent, expected.referer, expected.title)


def test_backend_identity_over_global_feeds_headers() -> None:
    merged = Identity(title="Backend").over(Identity(user_agent="global/1", title="Global"))
    client = Headers({"User-Agent": "client/1", "X-Title": "Client", "HTTP-Referer": "https://c.example"})
    assert identity_headers(merged, client) == {
        "User-Agent": "global/1",
        "HTTP-Referer": "https://c.example",
        "X-Title": "Backend",
    }


# --- client_header: header bytes the server decoded as latin-1 ---------------------------------------------


def raw_headers(**values: bytes) -> Headers:
    """Headers as the server builds them: raw bytes, decoded as latin-1 on access."""
    return Headers(raw=[(name.replace("_", "-").encode(), value) for name, value in values.items()])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # UTF-8 text, read by the server as latin-1, is restored
        ("Café".encode(), "Café"),
        ("Grüße aus Köln ☃ 🚀".encode(), "Grüße aus Köln ☃ 🚀"),
        ("日本語".encode(), "日本語"),
        # ASCII is unchanged
        (b"my-app/2.0 (+https://my.app)", "my-app/2.0 (+https://my.app)"),
        (b"", ""),
        # bytes that are not UTF-8 are left as the server decoded them
        (b"Caf\xe9", "Caf\xe9"),
        (b"\xff\xfe", "\xff\xfe"),
        (b"ok \xc3", "ok \xc3"),
    ],
)
def test_client_header_re_decodes_utf8(raw: bytes, expected: str) -> None:
    headers = raw_headers(x_title=raw)
    assert client_header(headers, "x-title") == expected
    assert client_header(headers, "X-Title") == expected


def test_client_header_absent_is_none() -> None:
    assert client_header(raw_headers(x_title=b"t"), "user-agent") is None
    assert client_header({}, "user-agent") is None


def test_client_header_leaves_text_that_was_never_latin1_alone() -> None:
    # A plain mapping can hold any str; what latin-1 cannot encode is not mis-decoded UTF-8.
    assert client_header({"x-title": "☃ snow"}, "x-title") == "☃ snow"
    assert client_header({"x-title": "Café"}, "x-title") == "Café"  # latin-1 bytes that are not UTF-8


def test_identity_headers_use_the_re_decoded_client_values() -> None:
    client = raw_headers(
        user_agent="Agent/1 (Zürich)".encode(),
        http_referer="https://bücher.example/ä".encode(),
        x_openrouter_title="Café ☕".encode(),
    )
    assert identity_headers(Identity(), client) == {
        "User-Agent": "Agent/1 (Zürich)",
        "HTTP-Referer": "https://bücher.example/ä",
        "X-Title": "Café ☕",
    }
    assert identity_headers(Identity(), raw_headers(x_title="Café".encode()))["X-Title"] == "Café"

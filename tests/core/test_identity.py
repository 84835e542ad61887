"""identity_headers: configured value, else the client's, else a default."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from src import __version__
from src.core.config import Identity
from src.core.identity import DEFAULT_TITLE, DEFAULT_USER_AGENT, identity_headers


def test_defaults() -> None:
    assert DEFAULT_USER_AGENT == f"switchyard/{__version__}"
    assert DEFAULT_USER_AGENT == "switchyard/0.1.0"
    assert DEFAULT_TITLE == "Switchyard"


@pytest.mark.parametrize(
    ("configured", "client", "expected"),
    [
        # nothing configured, nothing sent: defaults, and no HTTP-Referer at all
        (Identity(), {}, {"User-Agent": f"switchyard/{__version__}", "X-Title": "Switchyard"}),
        # user_agent
        (Identity(user_agent="my-agent/1"), {"User-Agent": "client/2"}, {"User-Agent": "my-agent/1", "X-Title": "Switchyard"}),
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
        (Identity(title="Mine"), {"X-OpenRouter-Title": "Theirs"}, {"User-Agent": DEFAULT_USER_AGENT, "X-Title": "Mine"}),
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
        (Identity(), Identity(user_agent="g-ua", referer="g-r", title="g-t"), Identity(user_agent="g-ua", referer="g-r", title="g-t")),
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

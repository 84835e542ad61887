"""Accounting: admin keys, admission (budget and rpm as 429s), allowed_models, cost and settling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from src.backends.catalog import ModelCatalog
from src.config import Config
from src.core.runtime import router_for
from src.routing.plan import Route
from src.usage.accounting import Accounting
from src.usage.pricing import format_usd
from src.usage.record import Tokens, UsageRecord, new_request_id
from src.wire.errors import LimitReached, PermissionDenied

pytestmark = pytest.mark.anyio
GPT_4O = {"id": "openai/gpt-4o", "pricing": {"prompt": "0.0000025", "completion": "0.00001"}}


class FakeCatalog:
    """Each backend's public model list (ids as clients send them back); counts the look-ups."""

    def __init__(self, models: Mapping[str, list[dict[str, Any]]]) -> None:
        self.models = models
        self.lookups: list[str] = []
        self._ids = ModelCatalog({}, "openrouter", ttl=0.0)  # the real id rule, with the configured default backend

    def public_id(self, backend: str, model: str) -> str:
        return self._ids.public_id(backend, model)

    def lists(self, backend: str) -> bool:
        return backend in self.models

    def knows(self, backend: str, model: str) -> bool:
        public_id = self.public_id(backend, model)
        return any(entry["id"] == public_id for entry in self.models.get(backend, []))

    async def model(self, backend: str, model: str) -> dict[str, Any] | None:
        self.lookups.append(backend)
        public_id = self.public_id(backend, model)
        return next((entry for entry in self.models[backend] if entry["id"] == public_id), None)


def config(*keys: dict[str, Any], **extra: Any) -> Config:
    backends = {
        "openrouter": {"type": "openrouter", "api_key": "sk-or-x"},
        "local": {"type": "openai", "base_url": "http://h/v1"},
    }
    raw = {"auth": {"api_keys": list(keys)}, "backends": backends, "usage": {"database": None}}
    return Config.model_validate({**raw, **extra})


def key(name: str, **limits: Any) -> dict[str, Any]:
    return {"name": name, "key": f"sy-{name}-key-000001", **limits}


ROUTE = Route("openrouter", "m")


async def admit(books: Accounting, key_name: str, body: dict[str, Any] | None = None, route: Route = ROUTE) -> Any:
    return await books.admit(key_name, route, len(str(body or {})), body or {})


def accounting(*keys: dict[str, Any], catalog: FakeCatalog | None = None, **extra: Any) -> Accounting:
    return Accounting(config(*keys, **extra), catalog or FakeCatalog({}))  # type: ignore[arg-type]


def test_only_admin_keys_are_admins() -> None:
    books = accounting(key("alice"), key("root", admin=True))
    assert (books.is_admin("root"), books.is_admin("alice"), books.is_admin("nobody")) == (True, False, False)


def test_with_auth_disabled_whoever_reaches_the_proxy_is_admin() -> None:
    assert accounting(disable_auth=True).is_admin("anonymous")


async def test_a_key_without_limits_is_always_admitted() -> None:
    books = accounting(key("alice"))
    for _ in range(1000):
        await admit(books, "alice")


async def test_rpm_over_is_a_429_rate_limit_exceeded_with_retry_after() -> None:
    books = accounting(key("alice", rpm=1))
    await admit(books, "alice")
    with pytest.raises(LimitReached) as caught:
        await admit(books, "alice")
    error = caught.value
    assert (error.status, error.code) == (429, "rate_limit_exceeded")
    assert 59 <= int(error.headers["retry-after"]) <= 60
    assert "rate limit" in error.message and "1 per minute" in error.message


async def test_a_total_budget_over_is_a_429_insufficient_quota_without_retry_after() -> None:
    books = accounting(key("alice", budget_usd=0, budget_period="total"))
    with pytest.raises(LimitReached) as caught:
        await admit(books, "alice")
    assert (caught.value.status, caught.value.code, caught.value.headers) == (429, "insufficient_quota", {})
    assert "total budget" in caught.value.message and "does not reset" in caught.value.message


@pytest.mark.parametrize(("period", "most"), [("daily", 86400), ("monthly", 31 * 86400)])
async def test_a_periodic_budget_over_has_retry_after_until_it_resets(period: str, most: int) -> None:
    books = accounting(key("alice", budget_usd=0, budget_period=period))
    with pytest.raises(LimitReached) as caught:
        await admit(books, "alice")
    assert 1 <= int(caught.value.headers["retry-after"]) <= most
    assert f"{period} budget" in caught.value.message and "resets at" in caught.value.message


def record(cost: float | None, **fields: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "time": 0.0,
        "key_name": "alice",
        "user_agent": None,
        "frontend": "openai",
        "requested_model": "m",
        "status": 200,
        "route": "openrouter:m",
        "cost_usd": cost,
        "request_id": new_request_id(),
    }
    return UsageRecord(**{**values, **fields})


async def test_recording_settles_the_reservation_with_the_actual_cost() -> None:
    books = accounting(key("alice", budget_usd=0.8, budget_period="total"))
    first = await admit(books, "alice")
    assert first.estimate == 0.0  # nothing known yet to estimate with
    books.record(record(0.4), first)
    assert first.settled
    second = await admit(books, "alice")  # now estimated at the last cost, 0.4, until settled
    assert second.estimate == pytest.approx(0.4)
    with pytest.raises(LimitReached) as caught:  # 0.4 spent and 0.4 in flight: the budget is reached
        await admit(books, "alice")
    assert f"{format_usd(0.8)} spent (including requests in flight)" in caught.value.message
    books.record(record(None, status=502), second)  # an unknown cost counts as 0 and frees the estimate
    assert second.settled
    third = await admit(books, "alice")  # 0.4 spent: admitted again, estimated at 0.4
    assert third.estimate == pytest.approx(0.4)
    with pytest.raises(LimitReached) as caught:
        await admit(books, "alice")
    assert f"{format_usd(0.8)} spent" in caught.value.message
    assert "switchyard_requests_total" in books.metrics.render()


async def test_settling_twice_counts_once() -> None:
    books = accounting(key("alice", budget_usd=1.0, budget_period="total"))
    reservation = await admit(books, "alice")
    books.record(record(0.6), reservation)
    books.record(record(0.6), reservation)  # the reservation is settled: its cost is not counted again
    await admit(books, "alice")  # 0.6 spent and 0.6 in flight: admitted, since 0.6 < 1.0
    with pytest.raises(LimitReached) as caught:
        await admit(books, "alice")
    assert f"{format_usd(1.2)} spent" in caught.value.message


def routes(books_config: Config, model: str) -> tuple[Any, ...]:
    return router_for(books_config).plan(model)


def test_allowed_routes_keeps_only_fully_matching_routes() -> None:
    cfg = config(key("alice", allowed_models=["openrouter:openai/.*"]))
    books = Accounting(cfg, FakeCatalog({}))  # type: ignore[arg-type]
    plan = routes(cfg, "openai/gpt-4o|local:openai/gpt-4o|openai/o1")
    assert [str(r) for r in books.allowed_routes("alice", plan)] == ["openrouter:openai/gpt-4o", "openrouter:openai/o1"]
    with pytest.raises(PermissionDenied) as caught:
        books.allowed_routes("alice", routes(cfg, "local:openai/gpt-4o|openai/gpt-4o"))
    assert (caught.value.status, caught.value.code) == (403, "model_not_allowed")
    assert "'alice'" in caught.value.message and "local:openai/gpt-4o" in caught.value.message
    with pytest.raises(PermissionDenied):
        books.allowed_routes("alice", routes(cfg, "openai-like/gpt-4o"))


def test_a_key_without_allowed_models_keeps_its_plan() -> None:
    cfg = config(key("alice"))
    plan = routes(cfg, "a|local:b")
    assert Accounting(cfg, FakeCatalog({})).allowed_routes("alice", plan) == plan  # type: ignore[arg-type]


async def test_a_reported_cost_needs_no_catalog() -> None:
    catalog = FakeCatalog({"openrouter": [GPT_4O]})
    books = accounting(catalog=catalog)
    assert await books.cost("openrouter:openai/gpt-4o", Tokens(10, 5, cost=0.5)) == 0.5
    assert catalog.lookups == []


async def test_the_default_backends_plain_ids_and_another_backends_prefixed_ids_are_priced() -> None:
    local = {**GPT_4O, "id": "local:openai/gpt-4o", "pricing": {"prompt": "0.000001", "completion": "0.000002"}}
    books = accounting(catalog=FakeCatalog({"openrouter": [GPT_4O], "local": [local]}))
    assert await books.cost("openrouter:openai/gpt-4o", Tokens(1000, 200)) == pytest.approx(0.0045)
    assert await books.cost("local:openai/gpt-4o", Tokens(1000, 200)) == pytest.approx(0.0014)


@pytest.mark.parametrize(
    ("route", "tokens"),
    [
        ("openrouter:openai/gpt-4o-mini", Tokens(1000, 200)),  # not listed
        ("hybrid:openai/gpt-4o", Tokens(1000, 200)),  # a backend without a catalog
        (None, Tokens(1000, 200)),  # no route was reached
        ("openrouter:openai/gpt-4o", Tokens(None, 200)),
        ("openrouter:openai/gpt-4o", Tokens(1000, None)),
    ],
)
async def test_a_cost_that_cannot_be_known_is_none(route: str | None, tokens: Tokens) -> None:
    books = accounting(catalog=FakeCatalog({"openrouter": [GPT_4O, {"id": "openai/o1"}]}))
    assert await books.cost(route, tokens) is None


async def test_a_budgeted_key_reserves_what_its_request_may_cost_at_catalog_prices() -> None:
    catalog = FakeCatalog({"openrouter": [{"id": "m", "pricing": {"prompt": "0.001", "completion": "0.002"}}]})
    books = accounting(key("alice", budget_usd=10.0), key("bob"), catalog=catalog)
    body = {"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "x" * 290}]}
    reservation = await admit(books, "alice", body)
    size = len(str(body))
    assert reservation.estimate == pytest.approx(-(-size // 3) * 0.001 + 100 * 0.002)
    await admit(books, "bob", body)
    assert catalog.lookups == ["openrouter"]  # a key without a budget costs no price look-up


async def test_an_unpriced_model_reserves_its_recent_costs_only() -> None:
    books = accounting(key("alice", budget_usd=10.0), catalog=FakeCatalog({"openrouter": []}))
    assert (await admit(books, "alice", {"max_tokens": 100})).estimate == 0.0


async def test_start_loads_each_budgeted_keys_spend_and_recent_costs(tmp_path: Any) -> None:
    path = str(tmp_path / "usage.db")
    before = accounting(key("alice", budget_usd=1.0, budget_period="total"), usage={"database": path})
    await before.start()
    for cost in (0.2, 0.15, 0.17):
        before.record(record(cost, time=1.0), None)
    await before.store.close()

    after = accounting(key("alice", budget_usd=1.0, budget_period="total"), usage={"database": path})
    await after.start()  # a restart
    try:
        first = await admit(after, "alice")
        assert first.estimate == pytest.approx(0.2)  # the largest of the costs loaded
        await admit(after, "alice")
        with pytest.raises(LimitReached) as caught:  # 0.52 spent, 0.4 in flight: one more is still below
            await admit(after, "alice")
            await admit(after, "alice")
        assert f"{format_usd(0.52 + 0.6)} spent" in caught.value.message
    finally:
        await after.store.close()

"""Three proxies with one Redis behave as one proxy for a key's rpm and budget (src/sharing,
src/usage/shared_limits.py): a burst spread over them is held to the key's limits, within the bounds
the SharedLimits docstring gives, and every request is recorded once in the shared PostgreSQL."""

from __future__ import annotations

import collections
import time
from typing import Any

import httpx
import pytest

from tests.fakes.postgres import fresh_database, query
from tests.fakes.proxy import PROXY_KEY, RunningProxy
from tests.fakes.redis import RedisServer, redis_fixture  # noqa: F401
from tests.fakes.scripted import ScriptedUpstream, Step, completion
from tests.sharing.instances import (
    ADMIN_KEY,
    Start,
    agent,
    error_code,
    instances_config,
    one,
    send_all,
    spread,
    start_instances,
)

INSTANCES = 3
RPM = 60
COST = 0.01  # each request's cost, as the upstream reports it
BUDGET = 1.0  # a hundred requests' worth


def alice(**limits: object) -> list[dict[str, object]]:
    return [{"name": "alice", "key": PROXY_KEY, **limits}]


def outcome(responses: list[httpx.Response]) -> collections.Counter[tuple[int, str | None]]:
    return collections.Counter((r.status_code, error_code(r)) for r in responses)


def test_a_burst_over_three_instances_is_held_to_the_key_s_rpm(
    scripted: ScriptedUpstream, start_proxy: Start, redis: RedisServer
) -> None:
    config = instances_config(scripted.base_url, {"url": redis.url, "prefix": redis.prefix()}, alice(rpm=RPM))
    proxies = start_instances(start_proxy, config, INSTANCES)
    scripted.script("m", *(Step(stall=0.2) for _ in range(150)))  # in flight together

    responses = send_all(spread(proxies, 150))

    counts = outcome(responses)
    admitted = counts[200, None]
    # The docstring's bound is the rpm plus the tokens leased in an earlier minute and used in this one.
    # Every grant of this test falls within one minute of Redis's clock, so that term is 0: the rpm.
    assert 0 < admitted <= RPM, counts
    assert counts == {(200, None): admitted, (429, "rate_limit_exceeded"): 150 - admitted}
    assert len(scripted.requests) == admitted  # a refused request never reached the upstream
    assert all(r.headers.get("retry-after") for r in responses if r.status_code == 429)
    later = [r.status_code for r in until_refused(proxies, 150)]
    assert set(later) <= {200, 429}
    assert admitted + later.count(200) == RPM  # the minute's rpm is used in full, and never past it


def test_a_burst_over_three_instances_is_held_to_the_key_s_budget_and_recorded_once(
    scripted: ScriptedUpstream, start_proxy: Start, redis: RedisServer, postgres_url: str
) -> None:
    database = fresh_database(postgres_url)
    redis_config = {"url": redis.url, "prefix": redis.prefix()}
    config = instances_config(scripted.base_url, redis_config, alice(budget_usd=BUDGET, budget_period="total"),
                              usage={"database": database})  # fmt: skip
    proxies = start_instances(start_proxy, config, INSTANCES)
    usage = {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14, "cost": COST}
    scripted.script("m", *(Step(completion=completion("m", usage=usage), stall=0.2) for _ in range(300 + INSTANCES)))
    primers = send_all(spread(proxies, INSTANCES))  # each instance learns what a request costs (its estimate)
    assert [r.status_code for r in primers] == [200] * INSTANCES

    responses = send_all(spread(proxies, 300), first=INSTANCES)
    later = until_refused(proxies, 300 + INSTANCES)

    counts = outcome(responses)
    assert set(counts) <= {(200, None), (429, "insufficient_quota")}, counts
    assert {r.status_code for r in later} <= {200, 429}
    statuses = [r.status_code for r in [*primers, *responses, *later]]
    rows = wait_rows(proxies, database, len(statuses))
    assert collections.Counter(row["user_agent"] for row in rows) == {agent(n): 1 for n in range(len(statuses))}
    assert {row["user_agent"]: row["status"] for row in rows} == {agent(n): s for n, s in enumerate(statuses)}
    admitted = statuses.count(200)
    spent = sum(row["cost_usd"] or 0 for row in rows)
    assert spent == pytest.approx(admitted * COST)
    # The docstring's bound: at most one estimate past the budget per process; and the budget is used.
    assert BUDGET - INSTANCES * COST < spent <= BUDGET + INSTANCES * COST + 1e-9, (counts, admitted)


def until_refused(proxies: list[RunningProxy], first: int) -> list[httpx.Response]:
    """Requests one at a time, to each instance in turn, until each has refused one in a row (what an
    instance still holds, it admits on its turn): requests numbered from `first` (their User-Agent)."""
    answers: list[httpx.Response] = []
    while len(answers) < 200 and [r.status_code for r in answers[-INSTANCES:]] != [429] * INSTANCES:
        answers.append(one(proxies[len(answers) % INSTANCES], number=first + len(answers)))
    assert [r.status_code for r in answers[-INSTANCES:]] == [429] * INSTANCES
    return answers


def wait_rows(proxies: list[RunningProxy], database: str, count: int, seconds: float = 15) -> list[dict[str, Any]]:
    """The usage rows once there are `count` (each /v1/usage flushes that proxy's queue first)."""
    deadline = time.monotonic() + seconds
    while True:
        for proxy in proxies:
            httpx.get(f"{proxy.url}/v1/usage", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10)
        rows = query(database, "SELECT user_agent, status, cost_usd, request_id FROM requests")
        if len(rows) >= count or time.monotonic() > deadline:
            assert len(rows) == count
            return rows
        time.sleep(0.1)


@pytest.mark.parametrize(
    "limits", [{"rpm": RPM}, {"budget_usd": BUDGET, "budget_period": "total"}], ids=["rpm", "budget"]
)
def test_a_burst_well_under_the_limits_is_admitted_in_full(
    scripted: ScriptedUpstream, start_proxy: Start, redis: RedisServer, limits: dict[str, object]
) -> None:
    config = instances_config(scripted.base_url, {"url": redis.url, "prefix": redis.prefix()}, alice(**limits))
    proxies = start_instances(start_proxy, config, INSTANCES)
    usage = {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14, "cost": COST}
    scripted.script("m", *(Step(completion=completion("m", usage=usage), stall=0.2) for _ in range(31)))
    assert one(proxies[0]).status_code == 200  # the cost is known: $0.01 of $1; one request of 60

    responses = send_all([(proxies[0], PROXY_KEY, "m")] * 30)  # thirty more at once: 31 of 60, $0.31 of $1

    assert outcome(responses) == {(200, None): 30}, [r.json() for r in responses if r.status_code != 200][:1]

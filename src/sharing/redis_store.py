"""The shared store on Redis: every process's reports in one EVALSHA per sync, computed by a Lua
script on Redis's own clock (so clocks that disagree between machines do not matter), and
cooldowns as keys that expire plus a PUBLISH that every process is subscribed to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import orjson
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from src.sharing.store import (
    LIVE_FOR,
    SYNC_TIMEOUT,
    BudgetGrant,
    BudgetReport,
    Cooling,
    Grants,
    RateGrant,
    RateReport,
    SharedDown,
)

PERIOD_TTL = 40 * 86400  # seconds a period's figures are kept after its last use (a month and then some)

SYNC = """
local prefix, instance, live_for = ARGV[1], ARGV[2], tonumber(ARGV[3])
local reports = cjson.decode(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local second = tonumber(clock[1])
local live = prefix .. ':live'
redis.call('ZADD', live, now, instance)
redis.call('ZREMRANGEBYSCORE', live, '-inf', now - live_for)
local out = {budgets = {}, rates = {}, instances = redis.call('ZCARD', live)}
for _, b in ipairs(reports.budgets) do
  local base = prefix .. ':b:' .. b[1] .. ':' .. b[2]
  local spent = redis.call('INCRBY', base .. ':spent', b[4])
  if b[7] > spent then
    redis.call('SET', base .. ':spent', b[7])
    spent = b[7]
  end
  local holds, others = base .. ':held', 0
  local entries = redis.call('HGETALL', holds)
  for i = 1, #entries, 2 do
    if entries[i] ~= instance then
      if redis.call('ZSCORE', live, entries[i]) then
        others = others + tonumber(entries[i + 1])
      else
        redis.call('HDEL', holds, entries[i])
      end
    end
  end
  local free = b[3] - spent - others - b[5]
  local lease = b[5] + math.max(0, math.min(b[6], free))
  redis.call('HSET', holds, instance, lease)
  redis.call('EXPIRE', holds, ARGV[5])
  redis.call('EXPIRE', base .. ':spent', ARGV[5])
  table.insert(out.budgets, {lease, spent, others})
end
for _, r in ipairs(reports.rates) do
  local base = prefix .. ':r:' .. r[1]
  -- One bucket per second and instance: tokens handed back leave only the bucket they came from,
  -- and none that a restart emptied (another instance's grant of the same second is not touched).
  if r[3] > 0 and r[4] ~= cjson.null then
    local field = r[4] .. ':' .. instance
    local had = tonumber(redis.call('HGET', base, field) or '0')
    if had > 0 then
      redis.call('HINCRBY', base, field, -math.min(r[3], had))
    end
  end
  local used, buckets = 0, redis.call('HGETALL', base)
  for i = 1, #buckets, 2 do
    if tonumber(string.match(buckets[i], '^%d+')) <= second - 60 then
      redis.call('HDEL', base, buckets[i])
    else
      used = used + tonumber(buckets[i + 1])
    end
  end
  local grant = math.max(0, math.min(r[5], r[2] - used))
  if grant > 0 then
    redis.call('HINCRBY', base, second .. ':' .. instance, grant)
  end
  redis.call('EXPIRE', base, 120)
  table.insert(out.rates, {grant, second, used + grant})
end
return cjson.encode(out)
"""


class RedisStore:
    def __init__(self, url: str, prefix: str) -> None:
        self._redis = aioredis.Redis.from_url(
            url, socket_timeout=SYNC_TIMEOUT, socket_connect_timeout=SYNC_TIMEOUT, retry_on_timeout=False
        )
        self._prefix = prefix
        self._sync = self._redis.register_script(SYNC)

    async def sync(self, instance: str, budgets: list[BudgetReport], rates: list[RateReport]) -> Grants:
        payload = {
            "budgets": [[quote(b.key, safe=""), b.period, b.budget, b.settled, b.in_flight, b.want, b.known]
                        for b in budgets],
            "rates": [[quote(r.key, safe=""), r.rpm, r.unused, r.granted_at, r.want] for r in rates],
        }  # fmt: skip
        args: list[str | int] = [self._prefix, instance, int(LIVE_FOR * 1000), orjson.dumps(payload).decode(), PERIOD_TTL]
        try:
            answer = orjson.loads(await self._sync(keys=[], args=args))
        except (TimeoutError, RedisError, OSError, orjson.JSONDecodeError) as exc:
            raise SharedDown(str(exc) or type(exc).__name__) from None
        return Grants(
            budgets=[BudgetGrant(int(lease), int(spent), int(others)) for lease, spent, others in _list(answer["budgets"])],
            rates=[RateGrant(int(tokens), int(second), int(used)) for tokens, second, used in _list(answer["rates"])],
            instances=int(answer["instances"]),
        )

    async def cool(self, cooling: Cooling) -> None:
        name = f"{self._prefix}:cool:{cooling.kind}:{cooling.name}"
        message = orjson.dumps([cooling.kind, cooling.name, cooling.seconds])
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(name, 1, px=max(1, int(cooling.seconds * 1000)))
                pipe.publish(f"{self._prefix}:cooldowns", message)
                await pipe.execute()
        except (TimeoutError, RedisError, OSError) as exc:
            raise SharedDown(str(exc) or type(exc).__name__) from None

    async def coolings(self) -> AsyncIterator[Cooling]:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(f"{self._prefix}:cooldowns")  # before the snapshot: nothing falls between
            prefix = f"{self._prefix}:cool:"
            async for name in self._redis.scan_iter(match=prefix + "*", count=500):
                left = await self._redis.pttl(name)
                kind, _, what = name.decode()[len(prefix) :].partition(":")
                if left > 0:
                    yield Cooling(kind, what, left / 1000)
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=SYNC_TIMEOUT / 2)
                if message is not None:
                    kind, what, seconds = orjson.loads(message["data"])
                    yield Cooling(str(kind), str(what), float(seconds))
        except (TimeoutError, RedisError, OSError, orjson.JSONDecodeError, ValueError) as exc:
            raise SharedDown(str(exc) or type(exc).__name__) from None
        finally:
            await pubsub.aclose()

    async def close(self) -> None:
        await self._redis.aclose()


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []  # cjson writes an empty table as {}

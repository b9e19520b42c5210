"""Per-account publish buckets: how many posts an account may send now, and how long to wait if none.

Each social account has a token bucket (`RateLimitPolicy`: `capacity` publishes at once,
refilled evenly over `per_seconds`). The policy is the adapter's `rate_limit` unless
`PLATFORM_RATE_LIMITS` overrides the platform. `take` answers 0.0 when a publish may go now
(and uses a token), else the seconds until one will be there: **waiting is not failing** —
the engine puts the destination back with that delay and counts no attempt.

When a platform answers 429 with a reset time, `block_until` holds every publish of that
account until then, so the account's other destinations wait instead of hammering the
platform one by one.

Backends, chosen like `services/infra/rate_limit.py` chooses its own: Redis (`REDIS_URL` set) runs
one Lua script per call, atomic and timed by the Redis server's clock (`TIME`), keys under
`postforge:bucket:` with an expiry; embedded mode keeps the buckets in the `token_buckets`
table, changed by a conditional UPDATE that only applies to the row it read (a concurrent
change makes it read again), so two workers never spend the same token. When Redis cannot be
reached the table takes over.
"""

from __future__ import annotations

import functools
import logging
import math
from datetime import datetime, timedelta
from typing import Any, Protocol

import redis
import sqlalchemy as sa
from sqlalchemy import Engine

from postforge.models import TokenBucket, utcnow
from postforge.platforms.base import PlatformAdapter, RateLimitPolicy
from postforge.services.kernel.upsert import dialect_insert
from postforge.settings import get_settings

logger = logging.getLogger(__name__)

REDIS_KEY_PREFIX = "postforge:bucket:"
MAX_TABLE_RETRIES = 20
# Tokens of a bucket first created by a block: full whatever the policy (clamped when read).
FULL = 1e9


def bucket_key(account_id: int) -> str:
    return f"account:{account_id}"


def policy_for(adapter: PlatformAdapter | type[PlatformAdapter], settings: Any = None) -> RateLimitPolicy:
    """The account bucket for this adapter's platform: the configured override, else its default."""
    settings = settings or get_settings()
    override = settings.rate_limit_overrides.get(str(adapter.platform))
    if override:
        return RateLimitPolicy(capacity=override[0], per_seconds=override[1])
    return adapter.rate_limit


class PublishLimits(Protocol):
    def take(self, key: str, policy: RateLimitPolicy, *, now: datetime | None = None) -> float:
        """0.0 and one token used, or the seconds until a token (or the end of a block)."""

    def block_until(self, key: str, retry_at: datetime, *, now: datetime | None = None) -> None:
        """Nothing on `key` goes out before `retry_at` (a later block wins over an earlier one)."""


# --- The table (embedded mode, and the fallback) ---------------------------------------------------


class TableBuckets:
    """Buckets in `token_buckets`; every change is a conditional UPDATE of the row as it was read."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def take(self, key: str, policy: RateLimitPolicy, *, now: datetime | None = None) -> float:
        now = now or utcnow()
        for _ in range(MAX_TABLE_RETRIES):
            with self.engine.begin() as connection:
                row = self._row(connection, key, policy, now)
                tokens, stamp = _refilled(row.tokens, row.updated_at, policy, now)
                if row.blocked_until is not None and row.blocked_until > now:
                    return (row.blocked_until - now).total_seconds()
                if tokens >= 1:
                    if self._swap(connection, row, tokens=tokens - 1, updated_at=stamp):
                        return 0.0
                    continue  # another worker changed the bucket since we read it: read again
                return max((1 - tokens) / policy.refill_per_second, 0.001)
        raise RuntimeError(f"the publish bucket {key!r} kept changing under us")

    def block_until(self, key: str, retry_at: datetime, *, now: datetime | None = None) -> None:
        table = TokenBucket.__table__
        now = now or utcnow()
        insert = dialect_insert(self.engine)(table).values(
            key=key, tokens=FULL, updated_at=now, blocked_until=retry_at
        )
        later = sa.case(
            (table.c.blocked_until.is_(None), insert.excluded.blocked_until),
            (table.c.blocked_until < insert.excluded.blocked_until, insert.excluded.blocked_until),
            else_=table.c.blocked_until,
        )
        with self.engine.begin() as connection:
            connection.execute(
                insert.on_conflict_do_update(index_elements=[table.c.key], set_={"blocked_until": later})
            )

    def _row(self, connection: sa.Connection, key: str, policy: RateLimitPolicy, now: datetime) -> Any:
        table = TokenBucket.__table__
        row = connection.execute(sa.select(table).where(table.c.key == key)).one_or_none()
        if row is not None:
            return row
        # A new bucket starts full; a concurrent first take inserting too is fine (do nothing).
        connection.execute(
            dialect_insert(self.engine)(table)
            .values(key=key, tokens=float(policy.capacity), updated_at=now)
            .on_conflict_do_nothing(index_elements=[table.c.key])
        )
        return connection.execute(sa.select(table).where(table.c.key == key)).one()

    def _swap(self, connection: sa.Connection, row: Any, *, tokens: float, updated_at: datetime) -> bool:
        table = TokenBucket.__table__
        result = connection.execute(
            sa.update(table)
            .where(
                table.c.key == row.key,
                table.c.tokens == row.tokens,
                table.c.updated_at == row.updated_at,
            )
            .values(tokens=tokens, updated_at=updated_at)
        )
        return result.rowcount == 1

    def purge_idle(self, *, older_than: timedelta = timedelta(days=2), now: datetime | None = None) -> int:
        """Delete buckets untouched for a while (full again by now, and not blocked)."""
        table = TokenBucket.__table__
        cutoff = (now or utcnow()) - older_than
        with self.engine.begin() as connection:
            result = connection.execute(
                sa.delete(table).where(
                    table.c.updated_at < cutoff,
                    sa.or_(table.c.blocked_until.is_(None), table.c.blocked_until < cutoff),
                )
            )
        return int(result.rowcount or 0)


def _refilled(
    tokens: float, updated_at: datetime, policy: RateLimitPolicy, now: datetime
) -> tuple[float, datetime]:
    """Tokens after refilling from `updated_at` to `now` (a clock running behind refills nothing)."""
    elapsed = (now - updated_at).total_seconds()
    if elapsed <= 0:
        return min(float(policy.capacity), tokens), updated_at
    return min(float(policy.capacity), tokens + elapsed * policy.refill_per_second), now


# --- Redis ---------------------------------------------------------------------------------------

# Refill by the server's clock, then take a token or say how many milliseconds to wait.
# ARGV: capacity, tokens per millisecond. Returns the wait in whole milliseconds (0: granted).
_REDIS_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local h = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'blocked')
local tokens = tonumber(h[1])
local ts = tonumber(h[2])
local blocked = tonumber(h[3]) or 0
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
local wait = 0
if blocked > now then
  wait = blocked - now
elseif tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.max(1, math.ceil((1 - tokens) / rate))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', ts)
local ttl = math.ceil(capacity / rate) + math.max(0, blocked - now) + 1000
redis.call('PEXPIRE', KEYS[1], ttl)
return wait
"""

# ARGV: milliseconds from now to block. A later block wins; the bucket's tokens stay as they are.
_REDIS_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untill = now + tonumber(ARGV[1])
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked') or '0')
if untill > blocked then
  redis.call('HSET', KEYS[1], 'blocked', untill)
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 or ttl < untill - now + 1000 then
  redis.call('PEXPIRE', KEYS[1], untill - now + 1000)
end
return untill
"""


class RedisBuckets:
    """Buckets in Redis hashes, each call one Lua script on the server's clock."""

    def __init__(self, client: redis.Redis):
        self.client = client
        self._take = client.register_script(_REDIS_TAKE)
        self._block = client.register_script(_REDIS_BLOCK)

    def take(self, key: str, policy: RateLimitPolicy, *, now: datetime | None = None) -> float:
        rate_per_ms = policy.refill_per_second / 1000.0
        wait_ms = self._take(keys=[REDIS_KEY_PREFIX + key], args=[policy.capacity, repr(rate_per_ms)])
        return int(wait_ms) / 1000.0

    def block_until(self, key: str, retry_at: datetime, *, now: datetime | None = None) -> None:
        # Sent as a duration so the server's clock, not ours, decides when the block ends.
        millis = math.ceil((retry_at - (now or utcnow())).total_seconds() * 1000)
        if millis > 0:
            self._block(keys=[REDIS_KEY_PREFIX + key], args=[millis])


@functools.lru_cache(maxsize=4)
def _redis_buckets(url: str) -> RedisBuckets:
    return RedisBuckets(redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2))


class SettingsBuckets:
    """Redis when configured, the table otherwise or whenever Redis cannot be reached."""

    def __init__(self, engine: Engine, redis_url: str = ""):
        self.table = TableBuckets(engine)
        self.redis_url = redis_url

    def take(self, key: str, policy: RateLimitPolicy, *, now: datetime | None = None) -> float:
        if self.redis_url:
            try:
                return _redis_buckets(self.redis_url).take(key, policy, now=now)
            except redis.RedisError:
                logger.warning("publish limits: Redis unreachable, using the database bucket for %r", key)
        return self.table.take(key, policy, now=now)

    def block_until(self, key: str, retry_at: datetime, *, now: datetime | None = None) -> None:
        if self.redis_url:
            try:
                _redis_buckets(self.redis_url).block_until(key, retry_at, now=now)
                return
            except redis.RedisError:
                logger.warning("publish limits: Redis unreachable, blocking %r in the database", key)
        self.table.block_until(key, retry_at, now=now)


def limits_for(engine: Engine, settings: Any = None) -> PublishLimits:
    """The buckets the process's settings call for."""
    settings = settings or get_settings()
    return SettingsBuckets(engine, settings.redis_url)

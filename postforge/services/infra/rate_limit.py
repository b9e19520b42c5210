"""Fixed-window attempt counters: "at most `limit` hits per `window_seconds` for this key".

The backend is chosen from settings at every call: Redis when `REDIS_URL` is set (shared by
every web worker), otherwise the `rate_limit_counters` table. Both count the same way: the
window opens with the first hit and the `limit + 1`-th hit inside it is refused with the
seconds left until it closes. When Redis cannot be reached the table takes over, so an outage
never switches brute-force protection off.

The table backend writes in its own short transaction (never the caller's): a refused
attempt must still be counted when the caller rolls back. On SQLite that transaction waits
for any write lock the caller holds, so callers hit the limiter before their own writes.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import redis
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from postforge.models import RateLimitCounter, utcnow
from postforge.services.kernel.errors import RateLimited
from postforge.services.kernel.upsert import dialect_insert
from postforge.settings import get_settings

logger = logging.getLogger(__name__)

REDIS_KEY_PREFIX = "postforge:ratelimit:"
MAX_KEY_LENGTH = 255  # the counters table's primary key


@dataclass(frozen=True)
class Count:
    hits: int  # hits in the current window, this one included
    window_ends_at: datetime


class Backend(Protocol):
    def count_hit(self, key: str, *, window_seconds: int, now: datetime) -> Count: ...

    def reset(self, key: str) -> None: ...


class TableBackend:
    """Counters in `rate_limit_counters`, one upsert per hit (atomic on SQLite and PostgreSQL)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def count_hit(self, key: str, *, window_seconds: int, now: datetime) -> Count:
        table = RateLimitCounter.__table__
        new_end = now + timedelta(seconds=window_seconds)
        expired = table.c.window_ends_at <= sa.bindparam("now", now, type_=table.c.window_ends_at.type)
        insert = dialect_insert(self.engine)(table).values(key=key, count=1, window_ends_at=new_end)
        upsert = insert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "count": sa.case((expired, 1), else_=table.c.count + 1),
                "window_ends_at": sa.case(
                    (expired, insert.excluded.window_ends_at), else_=table.c.window_ends_at
                ),
            },
        ).returning(table.c.count, table.c.window_ends_at)
        with self.engine.begin() as connection:
            hits, window_ends_at = connection.execute(upsert).one()
        return Count(hits=hits, window_ends_at=window_ends_at)

    def reset(self, key: str) -> None:
        table = RateLimitCounter.__table__
        with self.engine.begin() as connection:
            connection.execute(sa.delete(table).where(table.c.key == key))

    def purge_expired(self, now: datetime | None = None) -> int:
        """Delete counters whose window has closed; returns how many went."""
        table = RateLimitCounter.__table__
        with self.engine.begin() as connection:
            result = connection.execute(sa.delete(table).where(table.c.window_ends_at <= (now or utcnow())))
        return result.rowcount


# Opens a window on the first hit (or after the last one closed), counts every other hit.
# Times are integer milliseconds: Lua hands numbers back to Redis truncated to integers.
_REDIS_HIT = """
local ends = tonumber(redis.call('HGET', KEYS[1], 'ends') or '0')
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local hits
if ends <= now then
  ends = now + window
  redis.call('HSET', KEYS[1], 'ends', ends, 'hits', 1)
  hits = 1
else
  hits = redis.call('HINCRBY', KEYS[1], 'hits', 1)
end
redis.call('PEXPIRE', KEYS[1], window + 1000)
return {hits, ends}
"""


class RedisBackend:
    """Counters in Redis hashes, updated by one Lua script so concurrent hits never race."""

    def __init__(self, client: redis.Redis):
        self.client = client
        self._hit = client.register_script(_REDIS_HIT)

    def count_hit(self, key: str, *, window_seconds: int, now: datetime) -> Count:
        now_ms = int(now.timestamp() * 1000)
        hits, ends_ms = self._hit(keys=[REDIS_KEY_PREFIX + key], args=[now_ms, window_seconds * 1000])
        return Count(hits=int(hits), window_ends_at=now + timedelta(milliseconds=int(ends_ms) - now_ms))

    def reset(self, key: str) -> None:
        self.client.delete(REDIS_KEY_PREFIX + key)


@functools.lru_cache(maxsize=4)
def _redis_backend(url: str) -> RedisBackend:
    # Short timeouts: a sign-in must not hang on a dead Redis; the table takes over instead.
    return RedisBackend(redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2))


_backend_override: Backend | None = None


def use_backend(backend: Backend | None) -> None:
    """Force a backend (tests, tools); `None` returns to choosing from settings."""
    global _backend_override
    _backend_override = backend


def _table_backend(engine: Engine | Connection | None) -> TableBackend:
    if isinstance(engine, Connection):
        engine = engine.engine
    if engine is None:
        from postforge.db import get_engine

        engine = get_engine()
    return TableBackend(engine)


def hit(
    key: str,
    *,
    limit: int,
    window_seconds: int,
    now: datetime | None = None,
    engine: Engine | Connection | None = None,
) -> None:
    """Count one attempt for `key`; raise `RateLimited` once more than `limit` fall in one window.

    `engine` is the database the embedded fallback counts in (default: the app's database);
    callers pass their session's bind so the counters live next to the data they protect.
    """
    _check_arguments(key, limit, window_seconds)
    now = now or utcnow()
    count = _count_hit(key, window_seconds=window_seconds, now=now, engine=engine)
    if count.hits > limit:
        retry_after = max(1, math.ceil((count.window_ends_at - now).total_seconds()))
        raise RateLimited(f"Too many attempts. Try again in {retry_after} s.", retry_after=retry_after)


def enforce(
    action: str,
    subject: str,
    rule: tuple[int, int],
    *,
    refusal: str,
    engine: Engine | Connection | None = None,
) -> None:
    """`hit` the counter of `subject` for `action` under `rule` = (limit, window in seconds).

    A refusal reads `refusal` followed by when to try again ("Try again in 40 s.", "… in 12 min.").
    """
    limit, window_seconds = rule
    try:
        hit(key_for(action, subject), limit=limit, window_seconds=window_seconds, engine=engine)
    except RateLimited as refused:
        raise RateLimited(
            f"{refusal} Try again in {wait_text(refused.retry_after)}.", retry_after=refused.retry_after
        ) from None


def wait_text(seconds: int) -> str:
    """A wait as people read it: seconds up to two minutes, then minutes, then hours (rounded up)."""
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 120 * 60:
        return f"{math.ceil(seconds / 60)} min"
    return f"{math.ceil(seconds / 3600)} h"


def reset(key: str, *, engine: Engine | Connection | None = None) -> None:
    """Forget the attempts counted for `key` (e.g. after a successful sign-in)."""
    if _backend_override is not None:
        _backend_override.reset(key)
        return
    redis_url = get_settings().redis_url
    if redis_url:
        try:
            _redis_backend(redis_url).reset(key)
        except redis.RedisError:
            logger.warning("rate limit: Redis unreachable, resetting %r in the database", key)
        else:
            return
    _table_backend(engine).reset(key)


def key_for(action: str, subject: str) -> str:
    """A counter key for `subject` (an email, an address) that stores neither it nor its length."""
    digest = hashlib.sha256(subject.encode("utf-8")).hexdigest()[:40]
    return f"{action}:{digest}"


def _count_hit(key: str, *, window_seconds: int, now: datetime, engine: Engine | Connection | None) -> Count:
    if _backend_override is not None:
        return _backend_override.count_hit(key, window_seconds=window_seconds, now=now)
    redis_url = get_settings().redis_url
    if redis_url:
        try:
            return _redis_backend(redis_url).count_hit(key, window_seconds=window_seconds, now=now)
        except redis.RedisError:
            logger.warning("rate limit: Redis unreachable, counting %r in the database", key)
    return _table_backend(engine).count_hit(key, window_seconds=window_seconds, now=now)


def _check_arguments(key: str, limit: int, window_seconds: int) -> None:
    # Programming errors, not user input: a wrong call must never silently disable a limit.
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"rate-limit key must be a non-empty string of at most {MAX_KEY_LENGTH} characters")
    if limit < 1 or window_seconds < 1:
        raise ValueError("limit and window_seconds must be at least 1")

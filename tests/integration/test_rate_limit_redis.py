"""The production rate limiter: counters in Redis, chosen from settings at call time.

Also the fallback when Redis is configured but down: the counters move to the database
(here PostgreSQL, whose upsert differs from SQLite's).
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import redis
from argon2 import PasswordHasher
from sqlalchemy import Engine
from sqlmodel import Session, select

from postforge.models import RateLimitCounter, utcnow
from postforge.services.identity import accounts_auth, passwords
from postforge.services.infra import rate_limit
from postforge.services.kernel.errors import RateLimited, ValidationFailed
from postforge.settings import get_settings


@pytest.fixture
def redis_settings(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[redis.Redis]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("SMTP_URL", "")
    get_settings.cache_clear()
    rate_limit._redis_backend.cache_clear()
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()
        get_settings.cache_clear()
        rate_limit._redis_backend.cache_clear()


def table_counters(engine: Engine) -> list[RateLimitCounter]:
    with Session(engine) as session:
        return list(session.exec(select(RateLimitCounter)).all())


def hit(key: str, *, limit: int = 3, window: int = 60, now=None, engine: Engine | None = None) -> None:
    rate_limit.hit(key, limit=limit, window_seconds=window, now=now, engine=engine)


def test_counts_in_redis_and_refuses_with_the_seconds_left(
    redis_settings: redis.Redis, sqlite_engine: Engine
) -> None:
    start = utcnow()
    for _ in range(3):
        hit("signin:a", now=start, engine=sqlite_engine)

    with pytest.raises(RateLimited) as refused:
        hit("signin:a", now=start + timedelta(seconds=20), engine=sqlite_engine)

    assert refused.value.retry_after == 40
    assert "Try again in 40 s." in refused.value.message
    stored = redis_settings.hgetall(rate_limit.REDIS_KEY_PREFIX + "signin:a")
    assert int(stored[b"hits"]) == 4
    assert 0 < redis_settings.pttl(rate_limit.REDIS_KEY_PREFIX + "signin:a") <= 61_000  # cleans itself up
    assert table_counters(sqlite_engine) == []  # Redis, not the embedded table


def test_a_new_window_opens_after_the_old_one_closes(redis_settings: redis.Redis) -> None:
    start = utcnow()
    hit("k", limit=1, now=start)
    with pytest.raises(RateLimited):
        hit("k", limit=1, now=start + timedelta(seconds=59))

    hit("k", limit=1, now=start + timedelta(seconds=60))
    with pytest.raises(RateLimited) as refused:
        hit("k", limit=1, now=start + timedelta(seconds=70))
    assert refused.value.retry_after == 50


def test_keys_are_apart_and_reset_forgets(redis_settings: redis.Redis) -> None:
    hit("a", limit=1)
    hit("b", limit=1)
    with pytest.raises(RateLimited):
        hit("a", limit=1)

    rate_limit.reset("a")

    hit("a", limit=1)
    with pytest.raises(RateLimited):
        hit("b", limit=1)


def test_concurrent_hits_let_exactly_the_limit_through(redis_settings: redis.Redis) -> None:
    def attempt(_: int) -> bool:
        try:
            hit("race", limit=10, window=600)
        except RateLimited:
            return False
        return True

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(attempt, range(40)))

    assert outcomes.count(True) == 10
    assert int(redis_settings.hget(rate_limit.REDIS_KEY_PREFIX + "race", "hits")) == 40


def test_sign_in_is_limited_per_account_through_redis(
    redis_settings: redis.Redis, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monkeypatch.setattr(accounts_auth, "SIGN_IN_PER_ACCOUNT", (2, 900))
    with Session(sqlite_engine) as session:
        accounts_auth.register(session, email="ada@example.com", password="tulip-Orbit-93", name="Ada")
        session.commit()

    for _ in range(2):
        with Session(sqlite_engine) as session, pytest.raises(ValidationFailed):
            accounts_auth.authenticate(session, email="ada@example.com", password="Wrong-guess-1")
    with Session(sqlite_engine) as session, pytest.raises(RateLimited) as refused:
        accounts_auth.authenticate(session, email="ada@example.com", password="tulip-Orbit-93")

    assert refused.value.message.startswith("Too many sign-in attempts. Try again in ")
    assert 0 < refused.value.retry_after <= 900
    assert table_counters(sqlite_engine) == []
    assert any(key.startswith(rate_limit.REDIS_KEY_PREFIX.encode()) for key in redis_settings.scan_iter())


def test_when_redis_is_down_postgres_counts_instead(
    postgres_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    get_settings.cache_clear()
    rate_limit._redis_backend.cache_clear()
    try:
        start = utcnow()
        for _ in range(2):
            hit("k", limit=2, now=start, engine=postgres_engine)
        with pytest.raises(RateLimited) as refused:
            hit("k", limit=2, now=start + timedelta(seconds=5), engine=postgres_engine)
        hit("k", limit=2, now=start + timedelta(seconds=60), engine=postgres_engine)
    finally:
        get_settings.cache_clear()
        rate_limit._redis_backend.cache_clear()

    assert refused.value.retry_after == 55
    [counter] = table_counters(postgres_engine)
    assert (counter.key, counter.count) == ("k", 1)


def test_postgres_table_counting_is_atomic_under_concurrency(postgres_engine: Engine) -> None:
    backend = rate_limit.TableBackend(postgres_engine)

    def attempt(_: int) -> int:
        return backend.count_hit("race", window_seconds=600, now=utcnow()).hits

    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = sorted(pool.map(attempt, range(30)))

    assert counts == list(range(1, 31))

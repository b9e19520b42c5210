"""Per-account publish buckets on the table (SQLite, PostgreSQL) and on Redis."""

import threading
import time
from datetime import timedelta

import pytest
import redis

from postforge.models import Platform, TokenBucket, utcnow
from postforge.platforms.base import RateLimitPolicy
from postforge.platforms.sandbox import SandboxAdapter
from postforge.services.channels import publish_limits
from postforge.services.channels.publish_limits import (
    REDIS_KEY_PREFIX,
    RedisBuckets,
    SettingsBuckets,
    TableBuckets,
)
from postforge.settings import load_settings

HOURLY_THREE = RateLimitPolicy(capacity=3, per_seconds=3600)  # one token every 20 minutes


def test_the_policy_is_the_adapters_unless_the_settings_override_its_platform():
    assert publish_limits.policy_for(SandboxAdapter, load_settings()) == SandboxAdapter.rate_limit
    overridden = load_settings(platform_rate_limits="sandbox=5/10,x=100/900")
    assert publish_limits.policy_for(SandboxAdapter, overridden) == RateLimitPolicy(5, 10.0)
    assert str(SandboxAdapter.platform) == Platform.SANDBOX.value


def test_a_new_bucket_is_full_then_says_how_long_to_wait(engine):
    buckets, now = TableBuckets(engine), utcnow()
    assert [buckets.take("account:1", HOURLY_THREE, now=now) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("account:1", HOURLY_THREE, now=now) == pytest.approx(1200.0)
    # A wait used no token: ten minutes later the wait is ten minutes shorter.
    assert buckets.take("account:1", HOURLY_THREE, now=now + timedelta(minutes=10)) == pytest.approx(600.0)
    assert buckets.take("account:1", HOURLY_THREE, now=now + timedelta(minutes=20)) == 0.0
    # Another account has a bucket of its own.
    assert buckets.take("account:2", HOURLY_THREE, now=now) == 0.0


def test_refill_never_goes_past_capacity_and_a_clock_behind_refills_nothing(engine):
    buckets, now = TableBuckets(engine), utcnow()
    buckets.take("account:1", HOURLY_THREE, now=now)
    later = now + timedelta(days=3)
    assert [buckets.take("account:1", HOURLY_THREE, now=later) for _ in range(4)][-1] > 0
    assert buckets.take("account:1", HOURLY_THREE, now=now) > 0  # an older clock gets nothing back


def test_a_block_holds_every_publish_until_it_ends_and_a_later_block_wins(engine):
    buckets, now = TableBuckets(engine), utcnow()
    buckets.block_until("account:1", now + timedelta(seconds=90), now=now)
    assert buckets.take("account:1", HOURLY_THREE, now=now) == pytest.approx(90.0)
    buckets.block_until("account:1", now + timedelta(seconds=30), now=now)  # earlier: ignored
    assert buckets.take("account:1", HOURLY_THREE, now=now + timedelta(seconds=10)) == pytest.approx(80.0)
    buckets.block_until("account:1", now + timedelta(seconds=200), now=now)
    assert buckets.take("account:1", HOURLY_THREE, now=now) == pytest.approx(200.0)
    # After the block the bucket's tokens are there again (the block used none).
    after = now + timedelta(seconds=201)
    assert buckets.take("account:1", HOURLY_THREE, now=after) == 0.0


def test_idle_buckets_are_purged(engine):
    buckets, now = TableBuckets(engine), utcnow()
    buckets.take("account:old", HOURLY_THREE, now=now - timedelta(days=3))
    buckets.take("account:new", HOURLY_THREE, now=now)
    assert buckets.purge_idle(now=now) == 1
    from sqlmodel import Session, select

    with Session(engine) as session:
        assert session.exec(select(TokenBucket.key)).all() == ["account:new"]


def test_concurrent_takes_never_spend_one_token_twice(engine):
    buckets, now = TableBuckets(engine), utcnow()
    policy = RateLimitPolicy(capacity=10, per_seconds=3600)
    granted: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(5):
            wait = buckets.take("account:busy", policy, now=now)
            with lock:
                granted.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 20
    assert granted.count(0.0) == 10


# --- Redis ---------------------------------------------------------------------------------------


@pytest.fixture
def redis_buckets(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield RedisBuckets(client), client
    client.close()


def test_redis_bucket_grants_capacity_then_waits_and_expires_its_key(redis_buckets):
    buckets, client = redis_buckets
    assert [buckets.take("account:1", HOURLY_THREE) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = buckets.take("account:1", HOURLY_THREE)
    assert 1199.0 <= wait <= 1200.0
    ttl = client.pttl(REDIS_KEY_PREFIX + "account:1")
    assert 0 < ttl <= 3600 * 1000 + 1000


def test_redis_bucket_refills_by_the_servers_clock(redis_buckets):
    buckets, _ = redis_buckets
    fast = RateLimitPolicy(capacity=1, per_seconds=0.2)
    assert buckets.take("account:1", fast) == 0.0
    wait = buckets.take("account:1", fast)
    assert 0 < wait <= 0.2
    time.sleep(wait + 0.05)
    assert buckets.take("account:1", fast) == 0.0


def test_redis_block_holds_the_account_and_a_later_block_wins(redis_buckets):
    buckets, client = redis_buckets
    now = utcnow()
    buckets.block_until("account:1", now + timedelta(seconds=60), now=now)
    assert 58.0 <= buckets.take("account:1", HOURLY_THREE) <= 60.0
    buckets.block_until("account:1", now + timedelta(seconds=5), now=now)
    assert buckets.take("account:1", HOURLY_THREE) > 55.0
    assert client.pttl(REDIS_KEY_PREFIX + "account:1") >= 59_000
    assert buckets.take("account:2", HOURLY_THREE) == 0.0


def test_redis_unreachable_falls_back_to_the_table(sqlite_engine):
    # Port 1 on localhost: nothing listens, the connection is refused at once.
    buckets = SettingsBuckets(sqlite_engine, "redis://127.0.0.1:1/0")
    now = utcnow()
    assert [buckets.take("account:1", HOURLY_THREE, now=now) for _ in range(4)][-1] == pytest.approx(1200.0)
    buckets.block_until("account:1", now + timedelta(seconds=30), now=now)
    assert TableBuckets(sqlite_engine).take("account:1", HOURLY_THREE, now=now) == pytest.approx(30.0)


def test_settings_choose_redis_when_configured(redis_url, sqlite_engine):
    buckets = publish_limits.limits_for(sqlite_engine, load_settings(redis_url=redis_url))
    for _ in range(3):
        assert buckets.take("account:9", HOURLY_THREE) == 0.0
    assert buckets.take("account:9", HOURLY_THREE) > 0
    # The table saw none of it.
    assert TableBuckets(sqlite_engine).take("account:9", HOURLY_THREE) == 0.0

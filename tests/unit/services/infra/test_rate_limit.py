"""The embedded rate limiter: fixed windows counted in the `rate_limit_counters` table."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from postforge.models import RateLimitCounter, utcnow
from postforge.services.infra import rate_limit
from postforge.services.kernel.errors import RateLimited
from postforge.settings import get_settings


@pytest.fixture(autouse=True)
def embedded_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("REDIS_URL", "")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def hit(engine: Engine, key: str, *, limit: int = 3, window: int = 60, now=None) -> None:
    rate_limit.hit(key, limit=limit, window_seconds=window, now=now, engine=engine)


def counters(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {row.key: row.count for row in session.exec(select(RateLimitCounter)).all()}


def test_allows_limit_hits_then_refuses_with_the_seconds_left(sqlite_engine: Engine) -> None:
    start = utcnow()
    for _ in range(3):
        hit(sqlite_engine, "signin:a", now=start)

    with pytest.raises(RateLimited) as refused:
        hit(sqlite_engine, "signin:a", now=start + timedelta(seconds=15))

    assert refused.value.retry_after == 45
    assert refused.value.message == "Too many attempts. Try again in 45 s."
    assert refused.value.code == "rate_limited"


def test_a_new_window_opens_when_the_old_one_has_closed(sqlite_engine: Engine) -> None:
    start = utcnow()
    for _ in range(3):
        hit(sqlite_engine, "k", now=start)
    with pytest.raises(RateLimited):
        hit(sqlite_engine, "k", now=start + timedelta(seconds=59))

    hit(sqlite_engine, "k", now=start + timedelta(seconds=60))
    hit(sqlite_engine, "k", now=start + timedelta(seconds=61))

    assert counters(sqlite_engine) == {"k": 2}


def test_retry_after_is_at_least_one_second(sqlite_engine: Engine) -> None:
    start = utcnow()
    hit(sqlite_engine, "k", limit=1, now=start)

    with pytest.raises(RateLimited) as refused:
        hit(sqlite_engine, "k", limit=1, now=start + timedelta(seconds=59, milliseconds=900))

    assert refused.value.retry_after == 1


def test_keys_are_counted_apart(sqlite_engine: Engine) -> None:
    now = utcnow()
    hit(sqlite_engine, "a", limit=1, now=now)
    hit(sqlite_engine, "b", limit=1, now=now)

    with pytest.raises(RateLimited):
        hit(sqlite_engine, "a", limit=1, now=now)
    assert counters(sqlite_engine) == {"a": 2, "b": 1}


def test_reset_forgets_the_attempts(sqlite_engine: Engine) -> None:
    hit(sqlite_engine, "k", limit=1)
    with pytest.raises(RateLimited):
        hit(sqlite_engine, "k", limit=1)

    rate_limit.reset("k", engine=sqlite_engine)

    hit(sqlite_engine, "k", limit=1)
    assert counters(sqlite_engine) == {"k": 1}


def test_the_counter_is_written_even_when_the_caller_rolls_back(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        hit(session.get_bind(), "k", limit=1)
        session.rollback()

    with pytest.raises(RateLimited):
        hit(sqlite_engine, "k", limit=1)


def test_concurrent_hits_never_let_more_than_the_limit_through(sqlite_engine: Engine) -> None:
    def attempt(_: int) -> bool:
        try:
            hit(sqlite_engine, "race", limit=5, window=600)
        except RateLimited:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(20)))

    assert outcomes.count(True) == 5
    assert counters(sqlite_engine) == {"race": 20}


def test_purge_removes_only_closed_windows(sqlite_engine: Engine) -> None:
    start = utcnow()
    hit(sqlite_engine, "old", window=10, now=start - timedelta(seconds=30))
    hit(sqlite_engine, "open", window=60, now=start)

    removed = rate_limit.TableBackend(sqlite_engine).purge_expired(now=start)

    assert removed == 1
    assert counters(sqlite_engine) == {"open": 1}


def test_key_for_hides_the_subject_and_fits_the_column() -> None:
    key = rate_limit.key_for("signin:account", "someone@example.com" * 30)

    assert key.startswith("signin:account:")
    assert "example" not in key
    assert len(key) <= rate_limit.MAX_KEY_LENGTH
    assert key != rate_limit.key_for("signin:account", "other@example.com")
    assert key != rate_limit.key_for("reset:account", "someone@example.com" * 30)


@pytest.mark.parametrize(
    ("key", "limit", "window"),
    [("", 1, 1), ("k" * 256, 1, 1), ("k", 0, 60), ("k", 1, 0), (None, 1, 1)],
)
def test_a_call_that_would_disable_the_limit_is_a_programming_error(
    sqlite_engine: Engine, key, limit: int, window: int
) -> None:
    with pytest.raises(ValueError):
        rate_limit.hit(key, limit=limit, window_seconds=window, engine=sqlite_engine)
    assert counters(sqlite_engine) == {}


def test_an_unreachable_redis_falls_back_to_the_table(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()

    hit(sqlite_engine, "k", limit=1)
    with pytest.raises(RateLimited):
        hit(sqlite_engine, "k", limit=1)
    rate_limit.reset("k", engine=sqlite_engine)

    assert counters(sqlite_engine) == {}


def test_an_injected_backend_takes_precedence(sqlite_engine: Engine) -> None:
    calls: list[tuple[str, str]] = []

    class Recording:
        def count_hit(self, key, *, window_seconds, now):
            calls.append(("hit", key))
            return rate_limit.Count(hits=99, window_ends_at=now + timedelta(seconds=7))

        def reset(self, key):
            calls.append(("reset", key))

    rate_limit.use_backend(Recording())
    try:
        with pytest.raises(RateLimited) as refused:
            hit(sqlite_engine, "k")
        rate_limit.reset("k")
    finally:
        rate_limit.use_backend(None)

    assert refused.value.retry_after == 7
    assert calls == [("hit", "k"), ("reset", "k")]
    assert counters(sqlite_engine) == {}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1, "1 s"),
        (119, "119 s"),
        (120, "2 min"),
        (3599, "60 min"),
        (7199, "120 min"),
        (7200, "2 h"),
        (86400, "24 h"),
    ],
)
def test_waits_read_in_the_unit_people_expect(seconds: int, text: str) -> None:
    assert rate_limit.wait_text(seconds) == text


def test_enforce_says_what_was_refused_and_when_to_try_again(sqlite_engine: Engine) -> None:
    rule = (1, 3600)
    rate_limit.enforce("invite:user", "7", rule, refusal="Too many invitations.", engine=sqlite_engine)

    with pytest.raises(RateLimited) as refused:
        rate_limit.enforce("invite:user", "7", rule, refusal="Too many invitations.", engine=sqlite_engine)

    assert refused.value.message == "Too many invitations. Try again in 60 min."
    assert 3590 < refused.value.retry_after <= 3600
    rate_limit.enforce("invite:user", "8", rule, refusal="Too many invitations.", engine=sqlite_engine)

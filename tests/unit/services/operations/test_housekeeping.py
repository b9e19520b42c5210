"""The periodic sweep: expired sign-in leftovers go, unapplied identity events are found again."""

from datetime import timedelta

from sqlmodel import Session, select

from postforge.models import IdentityEvent, OAuthAttempt, RateLimitCounter, TokenBucket, utcnow
from postforge.services.operations.housekeeping import sweep


def test_sweep_purges_expired_rows_and_lists_stale_unapplied_events(sqlite_engine) -> None:
    now = utcnow()
    with Session(sqlite_engine) as session:
        session.add(
            OAuthAttempt(provider="oidc", state="old", code_verifier="v", expires_at=now - timedelta(days=2))
        )
        session.add(
            OAuthAttempt(
                provider="oidc", state="live", code_verifier="v", expires_at=now + timedelta(minutes=5)
            )
        )
        session.add(RateLimitCounter(key="closed", count=3, window_ends_at=now - timedelta(seconds=1)))
        session.add(RateLimitCounter(key="open", count=1, window_ends_at=now + timedelta(minutes=5)))
        session.add(
            IdentityEvent(id="msg_stale", type="user.created", received_at=now - timedelta(minutes=10))
        )
        session.add(IdentityEvent(id="msg_fresh", type="user.created", received_at=now))
        session.add(
            IdentityEvent(
                id="msg_done", type="user.created", received_at=now - timedelta(hours=1), processed_at=now
            )
        )
        session.commit()

    result = sweep(sqlite_engine)

    assert result.expired_attempts == 1
    assert result.expired_counters == 1
    assert result.events_to_apply == ["msg_stale"]
    with Session(sqlite_engine) as session:
        assert [a.state for a in session.exec(select(OAuthAttempt)).all()] == ["live"]
        assert [c.key for c in session.exec(select(RateLimitCounter)).all()] == ["open"]


def test_sweep_drops_idle_publish_buckets_but_keeps_busy_and_blocked_ones(sqlite_engine) -> None:
    now = utcnow()
    old = now - timedelta(days=3)
    with Session(sqlite_engine) as session:
        session.add(TokenBucket(key="idle", tokens=5, updated_at=old))
        session.add(TokenBucket(key="busy", tokens=0, updated_at=now))
        session.add(
            TokenBucket(key="blocked", tokens=0, updated_at=old, blocked_until=now + timedelta(hours=1))
        )
        session.commit()

    result = sweep(sqlite_engine)

    assert result.expired_counters == 1
    with Session(sqlite_engine) as session:
        assert sorted(b.key for b in session.exec(select(TokenBucket)).all()) == ["blocked", "busy"]

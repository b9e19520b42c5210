"""The publishing engine with a scripted adapter: every outcome, waits, retries, refreshes, the
reaper, derived post statuses and the review answer. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from postforge.models import (
    AccountStatus,
    AttemptOutcome,
    DestinationStatus,
    Notification,
    NotificationKind,
    OutboxMessage,
    Platform,
    Post,
    PostDestination,
    PostStatus,
    PublishAttempt,
    Role,
    SocialAccount,
    utcnow,
)
from postforge.platforms.base import (
    AuthExpired,
    Outcome,
    PlatformAdapter,
    Published,
    PublishRequest,
    RateLimited,
    RateLimitPolicy,
    RefreshRevoked,
    RefreshUnavailable,
    Rejected,
    TokenSet,
    Transient,
    Unknown,
    send,
)
from postforge.services.channels import account_tokens, publishing
from postforge.services.channels.publish_limits import TableBuckets
from postforge.services.channels.publishing import ReviewAnswer
from postforge.services.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from postforge.settings import load_settings
from tests.support import media_source
from tests.support.factories import (
    make_destination,
    make_membership,
    make_post,
    make_social_account,
    make_user,
    make_workspace,
)
from tests.support.media import media
from tests.support.scripted_refresh import ScriptedRefresh

SETTINGS = load_settings(
    publish_max_attempts=3,
    publish_backoff_base_seconds=10,
    publish_backoff_max_seconds=25,
    publish_lease_seconds=60,
    dispatch_interval_seconds=1,
)


class ScriptedAdapter(ScriptedRefresh, PlatformAdapter):
    """Answers each publish with the next scripted outcome (or callable(request) → outcome)."""

    platform = Platform.MASTODON
    label = "Mastodon"
    rate_limit = RateLimitPolicy(capacity=1000, per_seconds=1)

    def __init__(self, *outcomes: Outcome | Callable[[PublishRequest], Outcome], idempotent: bool = False):
        super().__init__(SETTINGS)
        self.outcomes = list(outcomes)
        self.idempotent = idempotent
        self.calls: list[PublishRequest] = []

    def publish(self, request: PublishRequest) -> Outcome:
        self.calls.append(request)
        outcome = self.outcomes.pop(0)
        return outcome(request) if callable(outcome) else outcome


@dataclass
class FixedLimits:
    """A bucket that always answers the same wait, and remembers blocks."""

    wait: float = 0.0
    blocks: list[tuple[str, datetime]] = field(default_factory=list)

    def take(self, key: str, policy: RateLimitPolicy, *, now: datetime | None = None) -> float:
        return self.wait

    def block_until(self, key: str, retry_at: datetime, *, now: datetime | None = None) -> None:
        self.blocks.append((key, retry_at))


@dataclass
class World:
    author: int
    viewer: int
    outsider: int
    workspace: int
    account: int
    second_account: int


@pytest.fixture
def world(engine) -> World:
    with Session(engine) as session:
        author = make_user(session, name="Author", email="author@example.com")
        viewer = make_user(session, name="Viewer")
        outsider = make_user(session, name="Outsider")
        workspace = make_workspace(session, owner=author)
        make_membership(session, workspace, author, role=Role.EDITOR)
        make_membership(session, workspace, viewer, role=Role.VIEWER)
        account = make_social_account(
            session, workspace, platform=Platform.MASTODON, handle="@ana@example.social"
        )
        second = make_social_account(
            session, workspace, platform=Platform.MASTODON, handle="@bo@example.social"
        )
        for row in (account, second):
            account_tokens.store_tokens(row, TokenSet("access-1", refresh_token="refresh-1"))
            session.add(row)
        session.commit()
        return World(author.id, viewer.id, outsider.id, workspace.id, account.id, second.id)


def schedule(
    engine,
    world: World,
    *,
    due: datetime | None = None,
    content: str = "Spring launch: new colours",
    status: PostStatus = PostStatus.SCHEDULED,
    accounts: tuple[int, ...] | None = None,
    **post_fields: Any,
) -> tuple[int, list[int]]:
    """A post with one pending destination per account, due at `due` (None: a draft's)."""
    due = due if due is not None or status == PostStatus.DRAFT else utcnow() - timedelta(seconds=1)
    with Session(engine) as session:
        from postforge.models import Workspace

        workspace = session.get(Workspace, world.workspace)
        post = make_post(
            session,
            workspace,
            content=content,
            status=status,
            scheduled_at=due,
            **post_fields,
        )
        post.author_id = world.author
        ids = []
        for account_id in accounts or (world.account,):
            account = session.get(SocialAccount, account_id)
            ids.append(make_destination(session, post, account, next_attempt_at=due).id)
        session.commit()
        return post.id, ids


def destination(engine, destination_id: int) -> PostDestination:
    with Session(engine) as session:
        return session.get(PostDestination, destination_id)


def post(engine, post_id: int) -> Post:
    with Session(engine) as session:
        return session.get(Post, post_id)


def attempts(engine, destination_id: int) -> list[PublishAttempt]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(PublishAttempt)
                .where(PublishAttempt.destination_id == destination_id)
                .order_by(PublishAttempt.id)
            ).all()
        )


def notices(engine) -> list[Notification]:
    with Session(engine) as session:
        return list(session.exec(select(Notification).order_by(Notification.id)).all())


def outbox(engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def publish(engine, destination_id: int, adapter: PlatformAdapter, *, limits=None, now=None):
    return publishing.publish_destination(
        engine,
        destination_id,
        adapter_factory=lambda platform, settings: adapter,
        limits=limits or FixedLimits(),
        now=now,
        settings=SETTINGS,
    )


def dispatch_and_publish(engine, destination_id: int, adapter: PlatformAdapter, *, now=None, limits=None):
    claimed = dict(publishing.dispatch_due(engine, now=now, settings=SETTINGS))
    assert destination_id in claimed
    return publish(engine, destination_id, adapter, now=now, limits=limits)


# --- Dispatch -------------------------------------------------------------------------------------


def test_dispatch_claims_due_rows_with_a_lease_and_a_countdown_for_the_next_second(engine, world):
    now = utcnow()
    post_id, [late] = schedule(engine, world, due=now - timedelta(minutes=5))
    _, [soon] = schedule(engine, world, due=now + timedelta(milliseconds=400))
    _, [later] = schedule(engine, world, due=now + timedelta(seconds=5))

    claimed = publishing.dispatch_due(engine, now=now, settings=SETTINGS)

    assert [destination_id for destination_id, _ in claimed] == [late, soon]
    countdowns = dict(claimed)
    assert countdowns[late] == 0
    assert countdowns[soon] == pytest.approx(0.4, abs=0.01)
    row = destination(engine, soon)
    assert row.status == DestinationStatus.QUEUED
    assert row.lease_until == row.next_attempt_at + timedelta(seconds=SETTINGS.publish_lease_seconds)
    assert destination(engine, later).status == DestinationStatus.PENDING
    assert post(engine, post_id).status == PostStatus.PUBLISHING
    assert publishing.dispatch_due(engine, now=now, settings=SETTINGS) == []  # claimed once


def test_drafts_deleted_and_cancelled_posts_are_never_dispatched(engine, world):
    now = utcnow()
    schedule(engine, world, status=PostStatus.DRAFT)
    # Even a draft whose destination has a time (a half-finished edit) stays put.
    schedule(engine, world, status=PostStatus.DRAFT, due=now - timedelta(seconds=5))
    schedule(engine, world, status=PostStatus.CANCELLED, due=now - timedelta(seconds=5))
    schedule(engine, world, due=now - timedelta(seconds=5), deleted_at=now)
    assert publishing.dispatch_due(engine, now=now, settings=SETTINGS) == []


def test_the_batch_size_bounds_one_look_oldest_first(engine, world):
    now = utcnow()
    ids = [schedule(engine, world, due=now - timedelta(seconds=n))[1][0] for n in range(5)]
    small = load_settings(dispatch_batch_size=2, dispatch_interval_seconds=1)
    assert [i for i, _ in publishing.dispatch_due(engine, now=now, settings=small)] == [ids[4], ids[3]]


# --- Outcomes ------------------------------------------------------------------------------------


def test_published_records_the_platform_post_and_the_post_is_published(engine, world):
    post_id, [dest] = schedule(engine, world)
    adapter = ScriptedAdapter(Published("109", "https://example.social/@ana/109"))

    result = dispatch_and_publish(engine, dest, adapter)

    assert result.status == "published"
    row = destination(engine, dest)
    assert (row.status, row.platform_post_id, row.platform_post_url) == (
        DestinationStatus.PUBLISHED,
        "109",
        "https://example.social/@ana/109",
    )
    assert row.published_at is not None and row.lease_until is None and row.attempts == 1
    assert post(engine, post_id).status == PostStatus.PUBLISHED
    assert post(engine, post_id).published_at is not None
    [attempt] = attempts(engine, dest)
    assert (attempt.attempt_number, attempt.outcome) == (1, AttemptOutcome.PUBLISHED)
    assert attempt.finished_at is not None
    request = adapter.calls[0]
    assert request.text == "Spring launch: new colours"
    assert request.idempotency_key == row.idempotency_key
    assert request.account.access_token == "access-1"
    assert [n.kind for n in notices(engine)] == [NotificationKind.PUBLISHED]
    assert outbox(engine) == []


def test_a_duplicate_or_redelivered_message_publishes_once(engine, world):
    _, [dest] = schedule(engine, world)
    adapter = ScriptedAdapter(Published("1"))
    assert dispatch_and_publish(engine, dest, adapter).status == "published"
    assert publish(engine, dest, adapter).status == "skipped"
    assert len(adapter.calls) == 1


def test_the_destinations_own_text_goes_out_and_is_checked_again(engine, world):
    _, [dest] = schedule(engine, world, content="x" * 600)  # too long for Mastodon's 500
    with Session(engine) as session:
        row = session.get(PostDestination, dest)
        row.content_override = "Short version"
        session.add(row)
        session.commit()
    adapter = ScriptedAdapter(Published("1"))
    dispatch_and_publish(engine, dest, adapter)
    assert adapter.calls[0].text == "Short version"

    _, [too_long] = schedule(engine, world, content="y" * 600)
    adapter = ScriptedAdapter()
    result = dispatch_and_publish(engine, too_long, adapter)
    assert result.status == "failed"
    assert adapter.calls == []
    assert "Too long for Mastodon" in destination(engine, too_long).last_error


def test_rejected_fails_with_the_platforms_message_notice_and_mail(engine, world):
    post_id, [dest] = schedule(engine, world)
    adapter = ScriptedAdapter(Rejected("Validation failed: Text character limit of 500 exceeded", 422))
    assert dispatch_and_publish(engine, dest, adapter).status == "failed"
    row = destination(engine, dest)
    assert row.status == DestinationStatus.FAILED
    assert row.last_error == "Validation failed: Text character limit of 500 exceeded"
    assert post(engine, post_id).status == PostStatus.FAILED
    [attempt] = attempts(engine, dest)
    assert (attempt.outcome, attempt.http_status) == (AttemptOutcome.REJECTED, 422)
    assert [n.kind for n in notices(engine)] == [NotificationKind.FAILED]
    [mail] = outbox(engine)
    assert mail.to_address == "author@example.com"
    assert "character limit" in mail.body_text


def test_transient_backs_off_with_jitter_and_fails_after_max_attempts(engine, world):
    post_id, [dest] = schedule(engine, world)
    adapter = ScriptedAdapter(*(Transient(f"502 number {n}", 502) for n in range(1, 4)))
    now = utcnow()
    for number in (1, 2):
        result = dispatch_and_publish(engine, dest, adapter, now=now)
        assert result.status == "waiting"
        row = destination(engine, dest)
        assert row.status == DestinationStatus.PENDING and row.attempts == number
        ceiling = min(25, 10 * 2 ** (number - 1))
        assert now + timedelta(seconds=1) <= row.next_attempt_at <= now + timedelta(seconds=ceiling)
        assert post(engine, post_id).status == PostStatus.SCHEDULED  # only pending: waiting again
        now = row.next_attempt_at
    result = dispatch_and_publish(engine, dest, adapter, now=now)
    assert result.status == "failed"
    row = destination(engine, dest)
    assert row.status == DestinationStatus.FAILED
    assert "3 tries" in row.last_error and "502 number 3" in row.last_error
    assert [a.attempt_number for a in attempts(engine, dest)] == [1, 2, 3]
    assert [n.kind for n in notices(engine)] == [NotificationKind.FAILED]


def test_backoff_bounds_grow_and_cap():
    import random

    rng = random.Random(7)
    for attempt_number, ceiling in ((1, 10), (2, 20), (3, 25), (9, 25)):
        values = [publishing.backoff_seconds(attempt_number, SETTINGS, rng=rng) for _ in range(200)]
        assert all(1.0 <= value <= ceiling for value in values)
        assert max(values) > ceiling * 0.8  # full jitter spreads over the whole range


def test_rate_limited_waits_for_the_reset_blocks_the_account_and_counts_no_attempt(engine, world):
    _, [dest] = schedule(engine, world)
    now = utcnow()
    reset = now + timedelta(minutes=5)
    limits = FixedLimits()
    adapter = ScriptedAdapter(RateLimited(reset))
    result = dispatch_and_publish(engine, dest, adapter, now=now, limits=limits)
    assert result.status == "waiting"
    row = destination(engine, dest)
    assert row.status == DestinationStatus.PENDING and row.attempts == 0
    assert reset <= row.next_attempt_at <= reset + timedelta(seconds=publishing.RATE_LIMIT_JITTER_SECONDS)
    assert limits.blocks == [(f"account:{world.account}", reset)]
    [attempt] = attempts(engine, dest)
    assert attempt.outcome == AttemptOutcome.RATE_LIMITED


def test_many_rate_limits_never_exhaust_the_attempts(engine, world):
    _, [dest] = schedule(engine, world)
    now = utcnow()
    adapter = ScriptedAdapter(*(RateLimited(now) for _ in range(5)), Published("ok"))
    for _ in range(5):
        assert dispatch_and_publish(engine, dest, adapter, now=now).status == "waiting"
        now = destination(engine, dest).next_attempt_at
    assert dispatch_and_publish(engine, dest, adapter, now=now).status == "published"
    assert destination(engine, dest).attempts == 1
    assert [a.attempt_number for a in attempts(engine, dest)] == [1, 2, 3, 4, 5, 6]


def test_an_empty_bucket_is_a_wait_not_an_attempt(engine, world):
    post_id, [dest] = schedule(engine, world)
    now = utcnow()
    adapter = ScriptedAdapter()
    result = dispatch_and_publish(engine, dest, adapter, now=now, limits=FixedLimits(wait=30))
    assert result.status == "waiting"
    assert result.retry_at == now + timedelta(seconds=30)
    row = destination(engine, dest)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        DestinationStatus.PENDING,
        0,
        now + timedelta(seconds=30),
    )
    assert adapter.calls == [] and attempts(engine, dest) == []
    assert post(engine, post_id).status == PostStatus.SCHEDULED


def test_the_account_bucket_spaces_publishes_out(engine, world):
    now = utcnow()
    ids = [schedule(engine, world, due=now)[1][0] for _ in range(3)]
    adapter = ScriptedAdapter(*(Published(str(n)) for n in range(3)))
    adapter.rate_limit = RateLimitPolicy(capacity=2, per_seconds=60)
    buckets = TableBuckets(engine)
    publishing.dispatch_due(engine, now=now, settings=SETTINGS)
    statuses = [publish(engine, i, adapter, now=now, limits=buckets).status for i in ids]
    assert statuses == ["published", "published", "waiting"]
    assert destination(engine, ids[2]).next_attempt_at == now + timedelta(seconds=30)


def test_unknown_on_a_platform_without_idempotency_needs_review(engine, world):
    post_id, [dest] = schedule(engine, world)
    adapter = ScriptedAdapter(Unknown("The connection ended before the platform answered"))
    assert dispatch_and_publish(engine, dest, adapter).status == "needs_review"
    row = destination(engine, dest)
    assert row.status == DestinationStatus.NEEDS_REVIEW
    assert row.last_error.startswith(
        "The platform may have published this post — the connection dropped before it confirmed. "
        "Check your Mastodon profile: mark it as published, post it again, or mark it as not published."
    )
    assert post(engine, post_id).status == PostStatus.NEEDS_REVIEW
    assert [n.kind for n in notices(engine)] == [NotificationKind.NEEDS_REVIEW]
    assert len(outbox(engine)) == 1
    # Nothing retries it by itself.
    assert publishing.dispatch_due(engine, now=utcnow() + timedelta(days=1), settings=SETTINGS) == []


def test_unknown_on_an_idempotent_platform_retries_with_the_same_key_and_saved_state(engine, world):
    _, [dest] = schedule(engine, world)

    def creates_container_then_drops(request: PublishRequest) -> Outcome:
        request.checkpoint({"container_id": "c-42"})
        return Unknown("read timeout")

    adapter = ScriptedAdapter(creates_container_then_drops, Published("p-1"), idempotent=True)
    now = utcnow()
    assert dispatch_and_publish(engine, dest, adapter, now=now).status == "waiting"
    row = destination(engine, dest)
    assert row.status == DestinationStatus.PENDING and row.platform_state == {"container_id": "c-42"}
    assert dispatch_and_publish(engine, dest, adapter, now=row.next_attempt_at).status == "published"
    first, second = adapter.calls
    assert first.idempotency_key == second.idempotency_key == row.idempotency_key
    assert second.state == {"container_id": "c-42"}


def test_a_post_with_one_published_and_one_failed_destination_is_partially_published(engine, world):
    post_id, [ok, bad] = schedule(engine, world, accounts=(world.account, world.second_account))
    publishing.dispatch_due(engine, settings=SETTINGS)
    assert publish(engine, ok, ScriptedAdapter(Published("1"))).status == "published"
    assert post(engine, post_id).status == PostStatus.PUBLISHING  # the other is still queued
    assert publish(engine, bad, ScriptedAdapter(Rejected("Duplicate"))).status == "failed"
    assert post(engine, post_id).status == PostStatus.PARTIALLY_PUBLISHED


def test_a_cancelled_post_is_never_published(engine, world):
    from postforge.services.content import posts

    post_id, [dest] = schedule(engine, world)
    with Session(engine) as session:
        posts.cancel_post(session, actor_id=world.author, workspace_id=world.workspace, post_id=post_id)
        session.commit()
    assert publishing.dispatch_due(engine, settings=SETTINGS) == []
    assert destination(engine, dest).status == DestinationStatus.CANCELLED

    # A queued row whose post was cancelled by some other path is settled, not published.
    post_id, [dest] = schedule(engine, world)
    publishing.dispatch_due(engine, settings=SETTINGS)
    with Session(engine) as session:
        row = session.get(Post, post_id)
        row.status = PostStatus.CANCELLED
        session.add(row)
        session.commit()
    adapter = ScriptedAdapter(Published("never"))
    assert publish(engine, dest, adapter).status == "skipped"
    assert adapter.calls == []
    assert destination(engine, dest).status == DestinationStatus.CANCELLED


def test_a_post_deleted_while_queued_is_not_published(engine, world):
    post_id, [dest] = schedule(engine, world)
    publishing.dispatch_due(engine, settings=SETTINGS)
    with Session(engine) as session:  # deleted by a path that left the queued row alone
        row = session.get(Post, post_id)
        row.deleted_at = utcnow()
        session.add(row)
        session.commit()
    adapter = ScriptedAdapter(Published("never"))
    assert publish(engine, dest, adapter).status == "skipped"
    assert adapter.calls == []
    assert destination(engine, dest).status == DestinationStatus.CANCELLED


# --- Accounts and tokens -------------------------------------------------------------------------


def set_account(engine, account_id: int, **values) -> None:
    with Session(engine) as session:
        account = session.get(SocialAccount, account_id)
        for name, value in values.items():
            setattr(account, name, value)
        session.add(account)
        session.commit()


def account(engine, account_id: int) -> SocialAccount:
    with Session(engine) as session:
        return session.get(SocialAccount, account_id)


def test_an_account_needing_reconnect_fails_the_destination_with_what_to_do(engine, world):
    _, [dest] = schedule(engine, world)
    set_account(engine, world.account, status=AccountStatus.NEEDS_RECONNECT)
    adapter = ScriptedAdapter()
    assert dispatch_and_publish(engine, dest, adapter).status == "failed"
    assert adapter.calls == []
    error = destination(engine, dest).last_error
    assert "@ana@example.social on Mastodon" in error and "reconnect the account, then retry" in error


def test_a_token_near_expiry_is_refreshed_first_and_the_refresh_token_kept(engine, world):
    _, [dest] = schedule(engine, world)
    set_account(engine, world.account, token_expires_at=utcnow() + timedelta(minutes=1))
    adapter = ScriptedAdapter(Published("1"))
    adapter.refresh_answer = TokenSet(
        "access-2", refresh_token=None, expires_at=utcnow() + timedelta(hours=2)
    )
    assert dispatch_and_publish(engine, dest, adapter).status == "published"
    assert [c.refresh_token for c in adapter.refreshed_with] == ["refresh-1"]
    assert adapter.calls[0].account.access_token == "access-2"
    credentials = account_tokens.credentials_for(account(engine, world.account))
    assert (credentials.access_token, credentials.refresh_token) == ("access-2", "refresh-1")


def test_a_token_someone_else_refreshed_meanwhile_is_not_refreshed_again(engine, world):
    _, [dest] = schedule(engine, world)
    set_account(engine, world.account, token_expires_at=utcnow() + timedelta(minutes=1))
    adapter = ScriptedAdapter(Published("1"))
    adapter.refresh_answer = TokenSet("access-3")

    # Another worker stored fresh tokens between our read and our lock.
    original = publishing._claim_and_prepare

    def prepare_then_other_refresh(run):
        prepared = original(run)
        with Session(engine) as session:
            row = session.get(SocialAccount, world.account)
            account_tokens.store_tokens(
                row, TokenSet("access-other", expires_at=utcnow() + timedelta(hours=2))
            )
            session.add(row)
            session.commit()
        return prepared

    publishing.dispatch_due(engine, settings=SETTINGS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(publishing, "_claim_and_prepare", prepare_then_other_refresh)
        assert publish(engine, dest, adapter).status == "published"
    assert adapter.refreshed_with == []
    assert adapter.calls[0].account.access_token == "access-other"


def test_a_revoked_refresh_asks_for_a_reconnect_with_a_notice_and_a_mail(engine, world):
    post_id, [dest] = schedule(engine, world)
    set_account(engine, world.account, token_expires_at=utcnow() - timedelta(minutes=1))
    adapter = ScriptedAdapter()
    adapter.refresh_answer = RefreshRevoked("invalid_grant: the refresh token was revoked")
    assert dispatch_and_publish(engine, dest, adapter).status == "failed"
    assert adapter.calls == []
    row = account(engine, world.account)
    assert row.status == AccountStatus.NEEDS_RECONNECT
    assert "revoked" in row.last_error
    assert account_tokens.credentials_for(row).refresh_token == "refresh-1"  # nothing erased
    assert "reconnect the account, then retry" in destination(engine, dest).last_error
    assert [n.kind for n in notices(engine)] == [NotificationKind.ACCOUNT_NEEDS_RECONNECT]
    [mail] = outbox(engine)
    assert mail.subject.startswith("Reconnect @ana@example.social on Mastodon")
    assert f"/posts?post={post_id}" in mail.body_text


def test_a_refresh_that_cannot_be_tried_now_is_a_transient_retry(engine, world):
    _, [dest] = schedule(engine, world)
    set_account(engine, world.account, token_expires_at=utcnow() - timedelta(minutes=1))
    adapter = ScriptedAdapter()
    adapter.refresh_answer = RefreshUnavailable("503 from the token endpoint")
    assert dispatch_and_publish(engine, dest, adapter).status == "waiting"
    row = destination(engine, dest)
    assert row.status == DestinationStatus.PENDING and row.attempts == 1
    assert "503" in row.last_error
    assert account(engine, world.account).status == AccountStatus.CONNECTED


def test_auth_expired_refreshes_once_and_retries_at_once(engine, world):
    _, [dest] = schedule(engine, world)
    adapter = ScriptedAdapter(AuthExpired("The access token was revoked"), Published("1"))
    adapter.refresh_answer = TokenSet("access-2")
    assert dispatch_and_publish(engine, dest, adapter).status == "published"
    assert [c.account.access_token for c in adapter.calls] == ["access-1", "access-2"]
    assert [a.outcome for a in attempts(engine, dest)] == [
        AttemptOutcome.AUTH_EXPIRED,
        AttemptOutcome.PUBLISHED,
    ]


def test_auth_expired_again_after_the_refresh_asks_for_a_reconnect(engine, world):
    _, [dest] = schedule(engine, world)
    adapter = ScriptedAdapter(AuthExpired("nope"), AuthExpired("still nope"))
    adapter.refresh_answer = TokenSet("access-2")
    assert dispatch_and_publish(engine, dest, adapter).status == "failed"
    assert len(adapter.calls) == 2
    assert account(engine, world.account).status == AccountStatus.NEEDS_RECONNECT
    assert [n.kind for n in notices(engine)] == [NotificationKind.ACCOUNT_NEEDS_RECONNECT]


def test_auth_expired_without_a_refresh_asks_for_a_reconnect(engine, world):
    _, [dest] = schedule(engine, world)
    adapter = ScriptedAdapter(AuthExpired("The access token is invalid"))
    assert dispatch_and_publish(engine, dest, adapter).status == "failed"
    assert account(engine, world.account).status == AccountStatus.NEEDS_RECONNECT
    assert "The access token is invalid" in destination(engine, dest).last_error


# --- Reaper --------------------------------------------------------------------------------------


def test_the_reaper_requeues_a_lost_message(engine, world):
    _, [dest] = schedule(engine, world)
    now = utcnow()
    publishing.dispatch_due(engine, now=now, settings=SETTINGS)
    assert publishing.reap_expired_leases(engine, now=now, settings=SETTINGS) == publishing.ReapResult()
    later = now + timedelta(seconds=SETTINGS.publish_lease_seconds + 1)
    result = publishing.reap_expired_leases(engine, now=later, settings=SETTINGS)
    assert result.requeued == 1
    row = destination(engine, dest)
    assert (row.status, row.next_attempt_at, row.lease_until) == (DestinationStatus.PENDING, later, None)
    # The lost message arrives after all: nothing happens; the next dispatch sends it.
    adapter = ScriptedAdapter(Published("1"))
    assert publish(engine, dest, adapter, now=later).status == "skipped"
    assert dispatch_and_publish(engine, dest, adapter, now=later).status == "published"


def crash_mid_publish(engine, dest: int, now: datetime, *, idempotent: bool) -> None:
    """Claim and start an attempt, then 'die' inside the adapter call."""

    class Killed(BaseException):
        pass

    def dies(request: PublishRequest) -> Outcome:
        raise Killed

    with pytest.raises(Killed):
        dispatch_and_publish(engine, dest, ScriptedAdapter(dies, idempotent=idempotent), now=now)


def reaped_adapter(idempotent: bool) -> Callable[[str], type[PlatformAdapter]]:
    class Reaped(ScriptedAdapter):
        def __init__(self, settings: Any = None):
            super().__init__(idempotent=idempotent)

    return lambda platform: Reaped


def test_the_reaper_sends_a_publish_cut_short_to_review_where_the_platform_cannot_deduplicate(engine, world):
    post_id, [dest] = schedule(engine, world)
    now = utcnow()
    crash_mid_publish(engine, dest, now, idempotent=False)
    assert destination(engine, dest).status == DestinationStatus.PUBLISHING
    later = now + timedelta(seconds=SETTINGS.publish_lease_seconds + 1)
    result = publishing.reap_expired_leases(
        engine, now=later, settings=SETTINGS, adapter_class=reaped_adapter(False)
    )
    assert result == publishing.ReapResult(needs_review=1)
    row = destination(engine, dest)
    assert row.status == DestinationStatus.NEEDS_REVIEW
    assert "may have published" in row.last_error
    [attempt] = attempts(engine, dest)
    assert (attempt.outcome, attempt.finished_at) == (AttemptOutcome.UNKNOWN, later)
    assert post(engine, post_id).status == PostStatus.NEEDS_REVIEW
    assert [n.kind for n in notices(engine)] == [NotificationKind.NEEDS_REVIEW]


def test_the_reaper_retries_a_publish_cut_short_on_an_idempotent_platform(engine, world):
    _, [dest] = schedule(engine, world)
    now = utcnow()
    crash_mid_publish(engine, dest, now, idempotent=True)
    later = now + timedelta(seconds=SETTINGS.publish_lease_seconds + 1)
    result = publishing.reap_expired_leases(
        engine, now=later, settings=SETTINGS, adapter_class=reaped_adapter(True)
    )
    assert result == publishing.ReapResult(retried=1)
    row = destination(engine, dest)
    assert row.status == DestinationStatus.PENDING and row.attempts == 1
    assert attempts(engine, dest)[0].outcome == AttemptOutcome.UNKNOWN


def test_the_reaper_returns_a_row_whose_worker_died_before_calling_the_platform(engine, world):
    _, [dest] = schedule(engine, world)
    now = utcnow()
    publishing.dispatch_due(engine, now=now, settings=SETTINGS)
    with Session(engine) as session:  # claimed, then the worker died during the token refresh
        row = session.get(PostDestination, dest)
        row.status = DestinationStatus.PUBLISHING
        session.add(row)
        session.commit()
    later = now + timedelta(seconds=SETTINGS.publish_lease_seconds + 1)
    result = publishing.reap_expired_leases(
        engine, now=later, settings=SETTINGS, adapter_class=reaped_adapter(False)
    )
    assert result == publishing.ReapResult(retried=1)
    assert destination(engine, dest).status == DestinationStatus.PENDING


# --- Review --------------------------------------------------------------------------------------


def needing_review(engine, world) -> tuple[int, int]:
    post_id, [dest] = schedule(engine, world)
    dispatch_and_publish(engine, dest, ScriptedAdapter(Unknown("reset by peer")))
    return post_id, dest


def test_the_user_confirms_it_was_published(engine, world):
    post_id, dest = needing_review(engine, world)
    with Session(engine) as session:
        publishing.resolve_review(
            session,
            user_id=world.author,
            workspace_id=world.workspace,
            destination_id=dest,
            answer=ReviewAnswer.PUBLISHED,
        )
        session.commit()
    row = destination(engine, dest)
    assert (row.status, row.platform_post_id, row.last_error) == (DestinationStatus.PUBLISHED, None, "")
    assert row.platform_state["confirmed_by_user_id"] == world.author
    assert post(engine, post_id).status == PostStatus.PUBLISHED


def test_the_user_posts_it_again_with_the_same_key(engine, world):
    post_id, dest = needing_review(engine, world)
    key = destination(engine, dest).idempotency_key
    with Session(engine) as session:
        publishing.resolve_review(
            session,
            user_id=world.author,
            workspace_id=world.workspace,
            destination_id=dest,
            answer=ReviewAnswer.POST_AGAIN,
        )
        session.commit()
    row = destination(engine, dest)
    assert (row.status, row.attempts, row.idempotency_key) == (DestinationStatus.PENDING, 0, key)
    assert post(engine, post_id).status == PostStatus.SCHEDULED
    adapter = ScriptedAdapter(Published("2"))
    assert dispatch_and_publish(engine, dest, adapter).status == "published"


def test_review_answers_are_refused_to_viewers_outsiders_and_settled_rows(engine, world):
    _, dest = needing_review(engine, world)
    with Session(engine) as session:
        for user_id in (world.viewer, world.outsider):
            with pytest.raises(PermissionDenied):
                publishing.resolve_review(
                    session,
                    user_id=user_id,
                    workspace_id=world.workspace,
                    destination_id=dest,
                    answer=ReviewAnswer.PUBLISHED,
                )
        with pytest.raises(NotFound):
            publishing.resolve_review(
                session,
                user_id=world.author,
                workspace_id=world.workspace,
                destination_id=10**9,
                answer=ReviewAnswer.PUBLISHED,
            )
        publishing.resolve_review(
            session,
            user_id=world.author,
            workspace_id=world.workspace,
            destination_id=dest,
            answer=ReviewAnswer.PUBLISHED,
        )
        with pytest.raises(Conflict):
            publishing.resolve_review(
                session,
                user_id=world.author,
                workspace_id=world.workspace,
                destination_id=dest,
                answer=ReviewAnswer.POST_AGAIN,
            )


def answer_review(
    engine, world, dest: int, answer: ReviewAnswer | str, *, user_id: int | None = None
) -> None:
    with Session(engine) as session:
        publishing.resolve_review(
            session,
            user_id=user_id or world.author,
            workspace_id=world.workspace,
            destination_id=dest,
            answer=answer,
        )
        session.commit()


def test_the_user_found_it_was_not_published_so_it_fails_and_waits_for_a_retry(engine, world):
    from postforge.services.content import posts

    post_id, dest = needing_review(engine, world)
    assert post(engine, post_id).status == PostStatus.NEEDS_REVIEW
    before = destination(engine, dest)

    answer_review(engine, world, dest, ReviewAnswer.NOT_PUBLISHED)

    row = destination(engine, dest)
    assert (row.status, row.last_error, row.next_attempt_at) == (
        DestinationStatus.FAILED,
        publishing.NOT_PUBLISHED_MESSAGE,
        None,
    )
    assert (row.idempotency_key, row.attempts) == (before.idempotency_key, before.attempts)
    assert row.platform_state["not_found_by_user_id"] == world.author
    assert post(engine, post_id).status == PostStatus.FAILED
    assert publishing.dispatch_due(engine, now=utcnow() + timedelta(days=1), settings=SETTINGS) == []
    assert [n.kind for n in notices(engine)] == [NotificationKind.NEEDS_REVIEW]  # the answer adds none

    # A person checked: the retry is an ordinary one, with the same key.
    with Session(engine) as session:
        posts.retry_failed(session, actor_id=world.author, workspace_id=world.workspace, post_id=post_id)
        session.commit()
    assert post(engine, post_id).status == PostStatus.SCHEDULED
    adapter = ScriptedAdapter(Published("7"))
    assert dispatch_and_publish(engine, dest, adapter).status == "published"
    assert adapter.calls[0].idempotency_key == before.idempotency_key
    assert post(engine, post_id).status == PostStatus.PUBLISHED


def test_a_post_waiting_for_review_settles_as_each_account_is_answered(engine, world):
    post_id, [first, second] = schedule(engine, world, accounts=(world.account, world.second_account))
    publishing.dispatch_due(engine, settings=SETTINGS)
    for dest in (first, second):
        assert publish(engine, dest, ScriptedAdapter(Unknown("reset by peer"))).status == "needs_review"
    assert post(engine, post_id).status == PostStatus.NEEDS_REVIEW

    answer_review(engine, world, first, ReviewAnswer.PUBLISHED)
    # One account is live, the other is still owed an answer: not "partially published" yet.
    settled = post(engine, post_id)
    assert settled.status == PostStatus.NEEDS_REVIEW
    assert settled.published_at is not None  # it did go out somewhere

    answer_review(engine, world, second, ReviewAnswer.NOT_PUBLISHED)
    assert post(engine, post_id).status == PostStatus.PARTIALLY_PUBLISHED


def test_review_answers_refuse_bad_input_other_workspaces_and_stale_rows(engine, world):
    from postforge.models import User

    post_id, dest = needing_review(engine, world)
    with Session(engine) as session:  # the outsider's own workspace, with a post awaiting review
        theirs = make_workspace(session)
        make_membership(session, theirs, session.get(User, world.outsider), role=Role.ADMIN)
        their_post = make_post(session, theirs, status=PostStatus.NEEDS_REVIEW)
        their_account = make_social_account(session, theirs)
        their_dest = make_destination(
            session, their_post, their_account, status=DestinationStatus.NEEDS_REVIEW
        )
        session.commit()
        theirs_id, their_dest_id = theirs.id, their_dest.id

    def answer(destination_id, said, *, user_id=world.author, workspace_id=world.workspace):
        with Session(engine) as session:
            publishing.resolve_review(
                session,
                user_id=user_id,
                workspace_id=workspace_id,
                destination_id=destination_id,
                answer=said,
            )
            session.commit()

    with pytest.raises(ValidationFailed, match="choose one of"):
        answer(dest, "maybe")
    with pytest.raises(PermissionDenied):
        answer(dest, ReviewAnswer.NOT_PUBLISHED, user_id=world.viewer)
    # Another workspace's destination, whoever asks and from wherever: not there.
    with pytest.raises(NotFound):
        answer(their_dest_id, ReviewAnswer.NOT_PUBLISHED)
    with pytest.raises(NotFound):
        answer(dest, ReviewAnswer.NOT_PUBLISHED, user_id=world.outsider, workspace_id=theirs_id)
    with pytest.raises(NotFound):
        answer(str(dest), ReviewAnswer.NOT_PUBLISHED)  # ids come as integers only
    row = destination(engine, dest)
    assert row.status == DestinationStatus.NEEDS_REVIEW, "a refused answer changes nothing"
    assert destination(engine, their_dest_id).status == DestinationStatus.NEEDS_REVIEW

    answer(dest, ReviewAnswer.NOT_PUBLISHED)
    for said in ReviewAnswer:  # a second answer (another tab, a stale page)
        with pytest.raises(Conflict, match="no longer needs checking"):
            answer(dest, said)
    assert destination(engine, dest).status == DestinationStatus.FAILED

    gone_post, gone = needing_review(engine, world)
    with Session(engine) as session:  # a deleted post's review cannot be answered
        row_post = session.get(Post, gone_post)
        row_post.deleted_at = utcnow()
        session.add(row_post)
        session.commit()
    with pytest.raises(NotFound):
        answer(gone, ReviewAnswer.PUBLISHED)
    assert post(engine, post_id).status == PostStatus.FAILED


# --- An earlier Unknown: the post may be live, so nothing ends "failed" -----------------------------


def unknown_then(engine, world, *later: Outcome, idempotent: bool = True) -> tuple[int, int, list[str]]:
    """A destination whose first try ended Unknown, then `later` outcomes; (post, destination, results)."""
    post_id, [dest] = schedule(engine, world)
    adapter = ScriptedAdapter(Unknown("read timeout after sending"), *later, idempotent=idempotent)
    now, results = utcnow(), []
    for _ in range(1 + len(later)):
        results.append(dispatch_and_publish(engine, dest, adapter, now=now).status)
        row = destination(engine, dest)
        if row.status != DestinationStatus.PENDING:
            break
        now = row.next_attempt_at
    return post_id, dest, results


def assert_in_review(engine, dest: int, *mentions: str) -> None:
    row = destination(engine, dest)
    assert row.status == DestinationStatus.NEEDS_REVIEW, row.last_error
    assert row.last_error.startswith("An earlier try may already have published this post")
    for text in mentions:
        assert text in row.last_error
    assert publishing.dispatch_due(engine, now=utcnow() + timedelta(days=1), settings=SETTINGS) == []


def test_transient_errors_after_an_unknown_end_in_review_not_failed(engine, world):
    """The retries after an unconfirmed try hit 502s until the limit: the first try may be live."""
    _, dest, results = unknown_then(engine, world, Transient("502 a", 502), Transient("502 b", 502))
    assert results == ["waiting", "waiting", "needs_review"]
    assert_in_review(engine, dest, "Gave up after 3 tries", "502 b")
    assert [a.outcome for a in attempts(engine, dest)] == [
        AttemptOutcome.UNKNOWN,
        AttemptOutcome.TRANSIENT,
        AttemptOutcome.TRANSIENT,
    ]
    assert [n.kind for n in notices(engine)] == [NotificationKind.NEEDS_REVIEW]


def test_a_rejection_after_an_unknown_is_evidence_not_a_failure(engine, world):
    """A platform refusing the retry as a duplicate says the first try landed."""
    _, dest, results = unknown_then(engine, world, Rejected("Duplicate status", 422))
    assert results == ["waiting", "needs_review"]
    assert_in_review(engine, dest, "Duplicate status")
    assert [n.kind for n in notices(engine)] == [NotificationKind.NEEDS_REVIEW]


def test_an_expired_sign_in_after_an_unknown_asks_for_review_and_a_reconnect(engine, world):
    _, dest, results = unknown_then(engine, world, AuthExpired("The access token is invalid"))
    assert results == ["waiting", "needs_review"]
    assert_in_review(engine, dest, "needs reconnecting", "The access token is invalid")
    assert account(engine, world.account).status == AccountStatus.NEEDS_RECONNECT


def test_an_account_lost_between_an_unknown_and_its_retry_sends_the_destination_to_review(engine, world):
    _, [dest] = schedule(engine, world)
    adapter = ScriptedAdapter(Unknown("read timeout after sending"), idempotent=True)
    assert dispatch_and_publish(engine, dest, adapter).status == "waiting"
    set_account(engine, world.account, status=AccountStatus.NEEDS_RECONNECT)
    now = destination(engine, dest).next_attempt_at
    assert dispatch_and_publish(engine, dest, adapter, now=now).status == "needs_review"
    assert_in_review(engine, dest, "needs reconnecting")


def test_disconnecting_an_account_never_fails_a_destination_that_may_be_live(engine, world):
    from postforge.services.channels import account_connect

    _, [maybe_live] = schedule(engine, world)
    _, [waiting] = schedule(engine, world, due=utcnow() + timedelta(days=1))
    adapter = ScriptedAdapter(Unknown("read timeout after sending"), idempotent=True)
    assert dispatch_and_publish(engine, maybe_live, adapter).status == "waiting"
    with Session(engine) as session:
        assert account_connect.disconnect(session, user_id=world.author, account_id=world.account) == 2
        session.commit()
    assert_in_review(engine, maybe_live, "disconnected")
    assert destination(engine, waiting).status == DestinationStatus.FAILED  # nothing went out for it


def test_a_reaped_publish_after_an_unknown_goes_to_review_once_the_tries_run_out(engine, world):
    _, dest, results = unknown_then(engine, world, Transient("502", 502))
    assert results == ["waiting", "waiting"]
    now = destination(engine, dest).next_attempt_at
    crash_mid_publish(engine, dest, now, idempotent=True)  # the third and last try dies mid-call
    later = now + timedelta(seconds=SETTINGS.publish_lease_seconds + 1)
    result = publishing.reap_expired_leases(
        engine, now=later, settings=SETTINGS, adapter_class=reaped_adapter(True)
    )
    assert result == publishing.ReapResult(needs_review=1)
    assert destination(engine, dest).status == DestinationStatus.NEEDS_REVIEW


def test_once_a_person_checked_later_failures_are_ordinary_failures(engine, world):
    """ "Post it again" is the person's answer to the earlier Unknown: what fails after it fails."""
    _, dest = needing_review(engine, world)
    with Session(engine) as session:
        publishing.resolve_review(
            session,
            user_id=world.author,
            workspace_id=world.workspace,
            destination_id=dest,
            answer=ReviewAnswer.POST_AGAIN,
        )
        session.commit()
    adapter = ScriptedAdapter(Rejected("Validation failed: Text character limit of 500 exceeded", 422))
    assert dispatch_and_publish(engine, dest, adapter).status == "failed"
    assert destination(engine, dest).status == DestinationStatus.FAILED
    # A new unconfirmed try after the answer goes back to review.
    _, again = needing_review(engine, world)
    with Session(engine) as session:
        publishing.resolve_review(
            session,
            user_id=world.author,
            workspace_id=world.workspace,
            destination_id=again,
            answer=ReviewAnswer.POST_AGAIN,
        )
        session.commit()
    assert (
        dispatch_and_publish(engine, again, ScriptedAdapter(Unknown("reset by peer"))).status
        == "needs_review"
    )


def test_retry_and_edit_never_send_a_destination_that_may_be_live(engine, world):
    """The posts page's Retry and an edit resend failed destinations, never one awaiting review."""
    from postforge.services.content import posts

    post_id, [review, failed] = schedule(engine, world, accounts=(world.account, world.second_account))
    publishing.dispatch_due(engine, settings=SETTINGS)
    assert publish(engine, review, ScriptedAdapter(Unknown("reset by peer"))).status == "needs_review"
    assert publish(engine, failed, ScriptedAdapter(Rejected("Text too long"))).status == "failed"
    with Session(engine) as session:
        posts.retry_failed(session, actor_id=world.author, workspace_id=world.workspace, post_id=post_id)
        session.commit()
    assert destination(engine, review).status == DestinationStatus.NEEDS_REVIEW
    assert destination(engine, failed).status == DestinationStatus.PENDING

    publish(engine, failed, ScriptedAdapter(Rejected("Text too long")))  # nothing claimed: stays pending
    with Session(engine) as session:
        row = session.get(PostDestination, failed)
        row.status = DestinationStatus.FAILED  # it failed again
        session.add(row)
        row_post = session.get(Post, post_id)
        row_post.status = PostStatus.FAILED
        session.add(row_post)
        session.commit()
        posts.update_post(
            session,
            actor_id=world.author,
            workspace_id=world.workspace,
            post_id=post_id,
            expected_version=None,
            content="Spring launch, shorter",
            scheduled_at=utcnow() + timedelta(hours=1),
            account_ids=[world.account, world.second_account],
        )
        session.commit()
    assert destination(engine, review).status == DestinationStatus.NEEDS_REVIEW
    assert destination(engine, failed).status == DestinationStatus.PENDING


def test_retry_leaves_a_failed_destination_with_an_unconfirmed_try_alone(engine, world):
    """A row failed before this rule existed (an Unknown, then failures) is not resent blindly."""
    from postforge.services.content import posts

    post_id, [dest] = schedule(engine, world)
    adapter = ScriptedAdapter(Unknown("read timeout after sending"), idempotent=True)
    assert dispatch_and_publish(engine, dest, adapter).status == "waiting"
    with Session(engine) as session:
        row = session.get(PostDestination, dest)
        row.status, row.next_attempt_at = DestinationStatus.FAILED, None
        session.add(row)
        row_post = session.get(Post, post_id)
        row_post.status = PostStatus.FAILED
        session.add(row_post)
        session.commit()
    with Session(engine) as session, pytest.raises(Conflict, match="may already have published"):
        posts.retry_failed(session, actor_id=world.author, workspace_id=world.workspace, post_id=post_id)
    assert destination(engine, dest).status == DestinationStatus.FAILED


# --- A publish cut short (the worker's soft time limit, an adapter bug) ----------------------------


class TimeUp(Exception):
    """Stands for Celery's SoftTimeLimitExceeded: the engine learns of it only as `interrupted`."""


def publish_interrupted(engine, dest: int, adapter: PlatformAdapter) -> publishing.PublishResult:
    publishing.dispatch_due(engine, settings=SETTINGS)
    return publishing.publish_destination(
        engine,
        dest,
        adapter_factory=lambda platform, settings: adapter,
        limits=FixedLimits(),
        settings=SETTINGS,
        interrupted=(TimeUp,),
    )


def stops_before_sending(error: BaseException) -> Callable[[PublishRequest], Outcome]:
    def publish(request: PublishRequest) -> Outcome:
        raise error

    return publish


def stops_while_a_request_is_out(error: BaseException) -> Callable[[PublishRequest], Outcome]:
    """The interruption strikes while the platform's answer is awaited."""

    def publish(request: PublishRequest) -> Outcome:
        def waiting_for_the_answer(http_request: httpx.Request) -> httpx.Response:
            raise error

        with httpx.Client(transport=httpx.MockTransport(waiting_for_the_answer)) as client:
            send(client, "POST", "https://mastodon.example/api/v1/statuses", json={"status": request.text})
        raise AssertionError("not reached")

    return publish


def test_time_up_before_anything_was_sent_is_retried_later_never_sent_to_review(engine, world):
    _, [dest] = schedule(engine, world)
    result = publish_interrupted(engine, dest, ScriptedAdapter(stops_before_sending(TimeUp())))
    assert result.status == "waiting"
    row = destination(engine, dest)
    assert row.status == DestinationStatus.PENDING and row.next_attempt_at is not None
    assert "ran out of time before anything was sent" in row.last_error
    assert [a.outcome for a in attempts(engine, dest)] == [AttemptOutcome.TRANSIENT]


def test_an_adapter_failing_before_it_sent_anything_is_retried_not_sent_to_review(engine, world):
    _, [dest] = schedule(engine, world)
    assert dispatch_and_publish(
        engine, dest, ScriptedAdapter(stops_before_sending(KeyError("x")))
    ).status == ("waiting")
    assert destination(engine, dest).status == DestinationStatus.PENDING


def test_time_up_while_the_request_was_out_is_unknown_so_review_without_deduplication(engine, world):
    _, [dest] = schedule(engine, world)
    result = publish_interrupted(engine, dest, ScriptedAdapter(stops_while_a_request_is_out(TimeUp())))
    assert result.status == "needs_review"
    row = destination(engine, dest)
    assert row.status == DestinationStatus.NEEDS_REVIEW
    assert "may have published" in row.last_error and "ran out of time" in row.last_error
    assert [a.outcome for a in attempts(engine, dest)] == [AttemptOutcome.UNKNOWN]


def test_time_up_while_the_request_was_out_is_retried_with_the_same_key_where_it_deduplicates(engine, world):
    _, [dest] = schedule(engine, world)
    adapter = ScriptedAdapter(stops_while_a_request_is_out(TimeUp()), idempotent=True)
    assert publish_interrupted(engine, dest, adapter).status == "waiting"
    assert destination(engine, dest).status == DestinationStatus.PENDING


class OutOfTimeLimits(FixedLimits):
    def take(self, key: str, policy: RateLimitPolicy, *, now: datetime | None = None) -> float:
        from celery.exceptions import SoftTimeLimitExceeded

        raise SoftTimeLimitExceeded()


def test_the_publish_task_cut_short_before_calling_the_platform_frees_its_row_at_once(
    engine, world, monkeypatch
):
    from worker import tasks

    _, [dest] = schedule(engine, world)
    publishing.dispatch_due(engine, settings=SETTINGS)
    monkeypatch.setattr(tasks, "get_engine", lambda: engine)
    monkeypatch.setattr(publishing.registry, "adapter_for", lambda *_: ScriptedAdapter(Published("1")))
    monkeypatch.setattr(publishing.publish_limits, "limits_for", lambda *_: OutOfTimeLimits())

    assert tasks.publish_destination_task.run(dest) == "waiting"
    row = destination(engine, dest)
    assert row.status == DestinationStatus.PENDING and row.next_attempt_at <= utcnow()
    assert attempts(engine, dest) == []


def test_the_publish_task_cut_short_after_the_platform_answered_takes_the_unknown_path(
    engine, world, monkeypatch
):
    from celery.exceptions import SoftTimeLimitExceeded

    from worker import tasks

    set_account(engine, world.account, platform=Platform.X)  # X has no idempotency key
    _, [dest] = schedule(engine, world)
    publishing.dispatch_due(engine, settings=SETTINGS)
    monkeypatch.setattr(tasks, "get_engine", lambda: engine)
    monkeypatch.setattr(publishing.registry, "adapter_for", lambda *_: ScriptedAdapter(Published("1")))
    monkeypatch.setattr(publishing.publish_limits, "limits_for", lambda *_: FixedLimits())

    def interrupted_while_writing(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(publishing, "_write_outcome", interrupted_while_writing)
    assert tasks.publish_destination_task.run(dest) == "needs_review"
    row = destination(engine, dest)
    assert row.status == DestinationStatus.NEEDS_REVIEW  # never a blind retry: it may be out there
    assert [a.outcome for a in attempts(engine, dest)] == [AttemptOutcome.UNKNOWN]


# --- Media rules ----------------------------------------------------------------------------------


@pytest.fixture
def post_media():
    """Which media each post carries (what the media library gives the engine)."""
    by_post: dict[int, tuple] = {}
    undo = media_source.attach(lambda post_id: by_post.get(post_id, ()))
    yield by_post
    undo()


def test_media_within_the_platforms_rules_reach_the_adapter(engine, world, post_media):
    post_id, [dest] = schedule(engine, world)
    files = (media("image", alt="a"), media("video", seconds=20))
    post_media[post_id] = files[:1]
    adapter = ScriptedAdapter(Published("1"))

    assert dispatch_and_publish(engine, dest, adapter).status == "published"

    assert adapter.calls[0].media == files[:1]


def test_media_that_break_the_platforms_rules_fail_before_anything_is_sent(engine, world, post_media):
    post_id, [dest] = schedule(engine, world)
    post_media[post_id] = (media("image"), media("video", seconds=20))  # Mastodon: not both
    adapter = ScriptedAdapter()

    result = dispatch_and_publish(engine, dest, adapter)

    assert result.status == "failed"
    assert adapter.calls == []
    row = destination(engine, dest)
    assert row.status == DestinationStatus.FAILED
    assert row.last_error == (
        "@ana@example.social on Mastodon: Mastodon can't mix images and videos in one post; "
        "post the video on its own or drop it."
    )
    assert [n.kind for n in notices(engine)] == [NotificationKind.FAILED]
    assert attempts(engine, dest) == []  # refused before any try, like a text that breaks the rules


def test_an_oversized_image_fails_with_the_size_and_the_limit(engine, world, post_media):
    post_id, [dest] = schedule(engine, world)
    post_media[post_id] = (media("image", size=17 * 1024 * 1024),)

    dispatch_and_publish(engine, dest, ScriptedAdapter())

    assert destination(engine, dest).last_error == (
        "@ana@example.social on Mastodon: Mastodon takes images up to 16.8 MB; this image is 17.8 MB."
    )


# --- Media ----------------------------------------------------------------------------------------


def test_the_adapter_receives_the_posts_media_in_order_with_links_and_streams(engine, world, tmp_path):
    from postforge.models import MediaAsset, MediaKind, MediaStatus, PostMedia
    from postforge.services.media import storage as media_storage

    store = media_storage.LocalStorage(tmp_path / "store", secret="s", base_url="http://app.test")
    media_storage.use_storage(store)
    try:
        post_id, [dest] = schedule(engine, world)
        with Session(engine) as session:
            ids = []
            # Two images: the account is on Mastodon, which takes no image and video together.
            for name, data, mime, alt in (
                ("a.jpg", b"\xff\xd8\xff first", "image/jpeg", "A red door"),
                ("b.png", b"\x89PNG second", "image/png", ""),
            ):
                key = f"media/{world.workspace}/{name.replace('.', '-')}.{name.rsplit('.', 1)[1]}"
                store.path(key).parent.mkdir(parents=True, exist_ok=True)
                store.path(key).write_bytes(data)
                media = MediaAsset(
                    workspace_id=world.workspace,
                    storage_key=key,
                    filename=name,
                    mime_type=mime,
                    size_bytes=len(data),
                    kind=MediaKind.IMAGE,
                    status=MediaStatus.READY,
                    alt_text=alt,
                )
                session.add(media)
                session.flush()
                ids.append(media.id)
            pending = MediaAsset(
                workspace_id=world.workspace,
                storage_key=f"media/{world.workspace}/pending.jpg",
                mime_type="image/jpeg",
                size_bytes=1,
                status=MediaStatus.PENDING,
            )
            session.add(pending)
            session.flush()
            # Positions, not ids, give the order; an unchecked upload never goes out.
            session.add(PostMedia(post_id=post_id, media_id=ids[0], position=2))
            session.add(PostMedia(post_id=post_id, media_id=ids[1], position=1))
            session.add(PostMedia(post_id=post_id, media_id=pending.id, position=0))
            session.commit()
        adapter = ScriptedAdapter(Published("1"))
        assert dispatch_and_publish(engine, dest, adapter).status == "published"
        second, photo = adapter.calls[0].media
        assert (second.media_id, second.mime_type) == (ids[1], "image/png")
        assert (photo.media_id, photo.alt_text, photo.size_bytes) == (ids[0], "A red door", 9)
        assert photo.url.startswith("http://app.test/api/media/files/")
        with photo.open() as stream:
            assert stream.read() == b"\xff\xd8\xff first"
        assert store.file_for_link(photo.url.rsplit("/", 1)[1]) == store.path(
            f"media/{world.workspace}/a-jpg.jpg"
        )
    finally:
        media_storage.use_storage(None)

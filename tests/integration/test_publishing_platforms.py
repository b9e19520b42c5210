"""The publishing engine end to end: real Celery worker and beat processes, PostgreSQL, Redis and
local fake platforms speaking Mastodon's, Bluesky's and LinkedIn's wire formats.

* on time: a post due in a few seconds reaches the platform at its minute, not before;
* 429 → waits for the announced reset and publishes (never failed);
* 5xx → backs off and publishes;
* an expired access token → refresh → published; a revoked session → the account needs
  reconnecting, the destination fails with that message and the author gets an email;
* the same publish task delivered many times at once → one post;
* a worker SIGKILLed while the platform holds the request → published exactly once on an
  idempotent platform (Mastodon's Idempotency-Key), needs_review on one without (LinkedIn);
* Redis flushed with posts scheduled and with messages already queued → they still publish;
* a publish held by the platform past the task's soft time limit (prefork worker) → the Unknown
  path at once: needs_review on a platform without idempotency, never a blind retry.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import Engine
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
    Workspace,
    utcnow,
)
from postforge.services.channels import publishing
from postforge.services.infra import token_crypto
from postforge.settings import load_settings
from tests.fakes.bluesky_api import FakeBluesky
from tests.fakes.linkedin_api import FakeLinkedIn
from tests.fakes.mastodon_api import FakeMastodon
from tests.fakes.server import serve
from tests.support.factories import (
    make_destination,
    make_membership,
    make_post,
    make_social_account,
    make_user,
    make_workspace,
)
from tests.support.worker import CeleryProcess, celery_env, running_beat, running_worker, wait_for

KEY = Fernet.generate_key().decode()
CIPHER = MultiFernet([Fernet(KEY)])
TIMEOUT = 60.0
FINAL = {DestinationStatus.PUBLISHED, DestinationStatus.FAILED, DestinationStatus.NEEDS_REVIEW}
ENGINE_SETTINGS = {
    "token_encryption_keys": KEY,
    "dispatch_interval_seconds": "1",
    "publish_lease_seconds": "6",
    "publish_backoff_base_seconds": "0.5",
    "publish_backoff_max_seconds": "2",
    "platform_http_timeout_seconds": "60",
}


@dataclass
class Stack:
    engine: Engine
    env: dict[str, str]
    tmp: Path
    redis_url: str
    mastodon: FakeMastodon
    bluesky: FakeBluesky
    linkedin: FakeLinkedIn
    author_id: int
    workspace_id: int
    mastodon_account: int
    bluesky_account: int
    linkedin_account: int
    bluesky_did: str

    @contextmanager
    def worker(self, name: str | None = None, pool: str = "solo") -> Iterator[CeleryProcess]:
        with running_worker(self.env, self.tmp, name=name, pool=pool) as worker:
            yield worker

    @contextmanager
    def beat(self) -> Iterator[CeleryProcess]:
        with running_beat(self.env, self.tmp) as beat:
            yield beat

    def schedule(self, account_id: int, *, due: datetime | None = None, text: str = "") -> int:
        """A scheduled post with one destination on `account_id`; returns the destination id."""
        due = due or utcnow()
        with Session(self.engine) as session:
            workspace = session.get(Workspace, self.workspace_id)
            post = make_post(
                session,
                workspace,
                content=text or f"Launch day {time.time_ns()}",
                status=PostStatus.SCHEDULED,
                scheduled_at=due,
            )
            post.author_id = self.author_id
            account = session.get(SocialAccount, account_id)
            destination = make_destination(session, post, account, next_attempt_at=due)
            session.commit()
            return destination.id

    def destination(self, destination_id: int) -> PostDestination:
        with Session(self.engine) as session:
            return session.get(PostDestination, destination_id)

    def post_of(self, destination_id: int) -> Post:
        with Session(self.engine) as session:
            return session.get(Post, session.get(PostDestination, destination_id).post_id)

    def account(self, account_id: int) -> SocialAccount:
        with Session(self.engine) as session:
            return session.get(SocialAccount, account_id)

    def attempts(self, destination_id: int) -> list[PublishAttempt]:
        with Session(self.engine) as session:
            query = select(PublishAttempt).where(PublishAttempt.destination_id == destination_id)
            return list(session.exec(query.order_by(PublishAttempt.id)).all())

    def finished(self, destination_id: int, timeout: float = TIMEOUT) -> PostDestination:
        def probe() -> PostDestination | None:
            row = self.destination(destination_id)
            return row if row.status in FINAL else None

        return wait_for(probe, timeout=timeout, what=f"destination {destination_id} to finish")


def _encrypted(token: str | None) -> str | None:
    return token_crypto.encrypt(token, using=CIPHER)


@pytest.fixture
def stack(
    postgres_engine: Engine, migrated_postgres_url: str, redis_url: str, tmp_path: Path
) -> Iterator[Stack]:
    mastodon = FakeMastodon(rate_limits=False)
    bluesky = FakeBluesky(rate_limits=False)
    linkedin = FakeLinkedIn()
    with ExitStack() as servers:
        mastodon_url = servers.enter_context(serve(mastodon.app))
        bluesky_url = servers.enter_context(serve(bluesky.app))
        linkedin_url = servers.enter_context(serve(linkedin.app))
        env = celery_env(
            database_url=migrated_postgres_url,
            redis_url=redis_url,
            data_dir=tmp_path,
            linkedin_api_base=linkedin_url,
            linkedin_auth_base=linkedin_url,
            bluesky_service_url=bluesky_url,
            **ENGINE_SETTINGS,
        )
        fake_bsky = bluesky.add_account("ana.bsky.test", "abcd-efgh-ijkl-mnop")
        access, refresh = bluesky.session_for(fake_bsky)
        with Session(postgres_engine) as session:
            author = make_user(session, name="Ana", email="ana@example.com")
            workspace = make_workspace(session, owner=author)
            make_membership(session, workspace, author, role=Role.ADMIN)
            toot = make_social_account(
                session,
                workspace,
                platform=Platform.MASTODON,
                platform_account_id=mastodon.account.id,
                handle="@ana@mastodon.test",
                instance_url=mastodon_url,
                access_token_enc=_encrypted(mastodon.issue_token()),
            )
            sky = make_social_account(
                session,
                workspace,
                platform=Platform.BLUESKY,
                platform_account_id=fake_bsky.did,
                handle="ana.bsky.test",
                instance_url=bluesky_url,
                access_token_enc=_encrypted(access),
                refresh_token_enc=_encrypted(refresh),
                token_expires_at=utcnow() + timedelta(hours=2),
            )
            linked = make_social_account(
                session,
                workspace,
                platform=Platform.LINKEDIN,
                platform_account_id=linkedin.member.urn,
                handle="Ada Lovelace",
                access_token_enc=_encrypted(linkedin.issue_token()),
                token_expires_at=utcnow() + timedelta(days=60),
            )
            session.commit()
            yield Stack(
                engine=postgres_engine,
                env=env,
                tmp=tmp_path,
                redis_url=redis_url,
                mastodon=mastodon,
                bluesky=bluesky,
                linkedin=linkedin,
                author_id=author.id,
                workspace_id=workspace.id,
                mastodon_account=toot.id,
                bluesky_account=sky.id,
                linkedin_account=linked.id,
                bluesky_did=fake_bsky.did,
            )


def test_a_post_due_in_a_few_seconds_reaches_the_platform_on_time(stack: Stack) -> None:
    with stack.worker(), stack.beat():
        due = utcnow() + timedelta(seconds=4)
        destination_id = stack.schedule(stack.mastodon_account, due=due, text="On the dot")
        row = stack.finished(destination_id)
    assert row.status == DestinationStatus.PUBLISHED
    assert [p.text for p in stack.mastodon.posts] == ["On the dot"]
    received = datetime.fromtimestamp(stack.mastodon.posts[0].received_at, UTC)
    assert received >= due - timedelta(milliseconds=50), "published before its time"
    # Generous for a loaded CI machine; the benchmark measures the real lag (bench/publish.py).
    assert received <= due + timedelta(seconds=3), f"published {received - due} late"
    assert row.platform_post_id == stack.mastodon.posts[0].id
    assert stack.post_of(destination_id).status == PostStatus.PUBLISHED


def test_a_429_waits_for_the_reset_and_publishes(stack: Stack) -> None:
    reset = stack.mastodon.throttle_next("statuses", reset_in_seconds=3)
    with stack.worker(), stack.beat():
        destination_id = stack.schedule(stack.mastodon_account)
        row = stack.finished(destination_id)
    assert row.status == DestinationStatus.PUBLISHED
    outcomes = [a.outcome for a in stack.attempts(destination_id)]
    assert outcomes[0] == AttemptOutcome.RATE_LIMITED and outcomes[-1] == AttemptOutcome.PUBLISHED
    assert AttemptOutcome.TRANSIENT not in outcomes
    assert len(stack.mastodon.posts) == 1
    assert datetime.fromtimestamp(stack.mastodon.posts[0].received_at, UTC) >= reset - timedelta(seconds=1)


def test_5xx_backs_off_then_publishes(stack: Stack) -> None:
    stack.mastodon.faults.fail_next("statuses", status=503, body={"error": "Service Unavailable"}, times=2)
    with stack.worker(), stack.beat():
        destination_id = stack.schedule(stack.mastodon_account)
        row = stack.finished(destination_id)
    assert row.status == DestinationStatus.PUBLISHED
    attempts = stack.attempts(destination_id)
    assert [a.outcome for a in attempts] == [
        AttemptOutcome.TRANSIENT,
        AttemptOutcome.TRANSIENT,
        AttemptOutcome.PUBLISHED,
    ]
    assert attempts[0].http_status == 503
    # Each retry waited for its backoff instead of hammering the platform.
    assert attempts[1].started_at > attempts[0].finished_at
    assert len(stack.mastodon.posts) == 1


def test_an_expired_access_token_is_refreshed_and_the_post_published(stack: Stack) -> None:
    stack.bluesky.expire_access_tokens()
    stored_refresh = stack.account(stack.bluesky_account).refresh_token_enc
    with stack.worker(), stack.beat():
        destination_id = stack.schedule(stack.bluesky_account, text="Fresh token, fresh post")
        row = stack.finished(destination_id)
    assert row.status == DestinationStatus.PUBLISHED
    assert [r.text for r in stack.bluesky.posts] == ["Fresh token, fresh post"]
    account = stack.account(stack.bluesky_account)
    assert account.status == AccountStatus.CONNECTED
    assert account.refresh_token_enc and account.refresh_token_enc != stored_refresh  # rotated, kept
    assert token_crypto.decrypt(account.refresh_token_enc, using=CIPHER)


def test_a_revoked_session_asks_for_a_reconnect_and_tells_the_author(stack: Stack) -> None:
    stack.bluesky.revoke_sessions()
    with stack.worker(), stack.beat():
        destination_id = stack.schedule(stack.bluesky_account)
        row = stack.finished(destination_id)
    assert row.status == DestinationStatus.FAILED
    assert "reconnect" in row.last_error.lower()
    account = stack.account(stack.bluesky_account)
    assert account.status == AccountStatus.NEEDS_RECONNECT
    assert account.refresh_token_enc, "a failed refresh must not erase the stored refresh token"
    assert stack.bluesky.posts == []
    with Session(stack.engine) as session:
        kinds = {n.kind for n in session.exec(select(Notification)).all()}
        mail = session.exec(select(OutboxMessage)).all()
    assert NotificationKind.ACCOUNT_NEEDS_RECONNECT in kinds
    assert any(m.to_address == "ana@example.com" for m in mail)


def test_the_same_publish_task_delivered_many_times_posts_once(stack: Stack) -> None:
    from worker.celery_app import PUBLISH_TASK

    settings = _settings(stack)
    producer = _producer(stack)
    destination_id = stack.schedule(stack.mastodon_account)
    claimed = dict(publishing.dispatch_due(stack.engine, settings=settings))
    assert destination_id in claimed
    with stack.worker(), stack.worker():
        for _ in range(8):
            producer.send_task(PUBLISH_TASK, args=[destination_id])
        row = stack.finished(destination_id)
        time.sleep(2)  # let every copy run: the late ones must find the row already handled
    assert row.status == DestinationStatus.PUBLISHED
    assert len(stack.mastodon.posts) == 1
    assert len(stack.attempts(destination_id)) == 1


def _settings(stack: Stack):
    return load_settings(
        database_url=stack.env["DATABASE_URL"],
        redis_url=stack.redis_url,
        data_dir=stack.tmp,
        token_encryption_keys=KEY,
        publish_lease_seconds=6,
    )


def _producer(stack: Stack):
    from worker.celery_app import create_celery_app

    return create_celery_app(_settings(stack))


def _kill(worker: CeleryProcess) -> None:
    os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait(timeout=10)


def test_a_worker_killed_mid_publish_on_an_idempotent_platform_publishes_exactly_once(stack: Stack) -> None:
    # Mastodon stores the status, then holds the answer while the worker is killed.
    stack.mastodon.faults.drop_next("statuses", after_seconds=30)
    with stack.beat():
        with stack.worker("doomed") as doomed:
            destination_id = stack.schedule(stack.mastodon_account, text="Exactly once")
            wait_for(lambda: True if stack.mastodon.posts else None, timeout=TIMEOUT, what="the request")
            _kill(doomed)
        assert stack.destination(destination_id).status == DestinationStatus.PUBLISHING
        with stack.worker("survivor"):
            row = stack.finished(destination_id)
    assert row.status == DestinationStatus.PUBLISHED
    assert [p.text for p in stack.mastodon.posts] == ["Exactly once"]  # the key replayed the original
    assert row.platform_post_id == stack.mastodon.posts[0].id
    outcomes = [a.outcome for a in stack.attempts(destination_id)]
    assert outcomes == [AttemptOutcome.UNKNOWN, AttemptOutcome.PUBLISHED]


def test_a_worker_killed_mid_publish_without_idempotency_needs_review(stack: Stack) -> None:
    stack.linkedin.faults.drop_next("posts", after_seconds=30)
    with stack.beat():
        with stack.worker("doomed") as doomed:
            destination_id = stack.schedule(stack.linkedin_account, text="Maybe posted")
            wait_for(lambda: True if stack.linkedin.posts else None, timeout=TIMEOUT, what="the request")
            _kill(doomed)
        with stack.worker("survivor"):
            row = stack.finished(destination_id)
            time.sleep(2)  # nothing may retry it on its own
    assert row.status == DestinationStatus.NEEDS_REVIEW
    assert "linkedin" in row.last_error.lower()
    assert len(stack.linkedin.posts) == 1, "never a blind retry"
    with Session(stack.engine) as session:
        kinds = [n.kind for n in session.exec(select(Notification)).all()]
    assert NotificationKind.NEEDS_REVIEW in kinds


def test_posts_still_publish_after_redis_is_flushed(stack: Stack) -> None:
    from worker.celery_app import PUBLISH_TASK

    settings = _settings(stack)
    producer = _producer(stack)
    client = redis.Redis.from_url(stack.redis_url)
    try:
        # Scheduled rows only live in the database: a flush before they are due changes nothing.
        early = stack.schedule(stack.mastodon_account, due=utcnow() + timedelta(seconds=3), text="Before")
        # A row already dispatched, its message waiting in Redis: the flush loses the message.
        late = stack.schedule(stack.bluesky_account, text="After")
        claimed = dict(publishing.dispatch_due(stack.engine, settings=settings))
        assert list(claimed) == [late]
        producer.send_task(PUBLISH_TASK, args=[late])
        client.flushdb()
        assert stack.destination(late).status == DestinationStatus.QUEUED
        with stack.worker(), stack.beat():
            rows = [stack.finished(early), stack.finished(late)]
    finally:
        client.close()
    assert [r.status for r in rows] == [DestinationStatus.PUBLISHED, DestinationStatus.PUBLISHED]
    assert [p.text for p in stack.mastodon.posts] == ["Before"]
    assert [r.text for r in stack.bluesky.posts] == ["After"]


def test_a_publish_held_past_the_soft_time_limit_needs_review_without_idempotency(stack: Stack) -> None:
    # The lease is 6 s, so the soft limit strikes at 4.5 s while LinkedIn holds the request.
    stack.linkedin.faults.drop_next("posts", after_seconds=30)
    with stack.beat(), stack.worker(pool="prefork") as worker:  # time limits need the prefork pool
        destination_id = stack.schedule(stack.linkedin_account, text="Held too long")
        row = stack.finished(destination_id)
        time.sleep(2)  # nothing may retry it on its own
    assert row.status == DestinationStatus.NEEDS_REVIEW
    assert "ran out of time" in row.last_error, worker.output()[-2000:]
    assert len(stack.linkedin.posts) == 1, "never a blind retry"
    assert [a.outcome for a in stack.attempts(destination_id)] == [AttemptOutcome.UNKNOWN]

"""The publishing engine: due destinations go out on time, once, and never get stuck silently.

The database is the source of truth; the queue only carries "look at destination N now".

* `dispatch_due` (beat, every `DISPATCH_INTERVAL_SECONDS`) claims the destinations due before
  the next tick — pending → queued, with a lease — and returns them with the seconds until each
  is due, so one due between two ticks is sent with a short countdown and lands on time.
* `publish_destination` (one task per destination) claims its row with one conditional UPDATE
  (queued → publishing): a redelivered or duplicated message finds nothing to claim and does
  nothing. It checks the account and the text again, refreshes a token that is about to
  expire (one refresh per account at a time; a refresh token is never erased), takes a token
  from the account's bucket (a wait is not a failure and costs no attempt), records the
  attempt, calls the adapter and writes the one outcome in one transaction together with the
  post's derived status and the notice.
* `reap_expired_leases` (beat) frees what a lost message or a killed worker left behind: a
  queued row goes back to pending; a row that was publishing may have reached the platform, so
  it takes the `Unknown` path — retried with the same idempotency key where the platform
  deduplicates, otherwise `needs_review` for a person to check. Never a blind retry.
* `release_interrupted` does the same for one row at once when the worker's soft time limit cut
  its publish short outside the platform call (inside it, the call's outcome says what happened:
  nothing sent → a retry, a request out → `Unknown`).
* `resolve_review` records that person's answer: it was published, post it again, or it was not
  published (then it is an ordinary failure, retried only when someone asks);
  `resolve_review_for_operator` takes a system admin's answer.

Outcomes (see `platforms/base.py`): Published → published; RateLimited → wait until the
platform's reset (the whole account waits), no attempt counted; Transient → exponential
backoff with full jitter, failed after `PUBLISH_MAX_ATTEMPTS`; AuthExpired → refresh once and
try again, else the account needs reconnecting; Rejected → failed with the platform's
message; Unknown → retry only where the platform is idempotent, else needs_review.

**A live post never reads "failed".** Once a try ended Unknown, the post may be on the platform:
every path that would fail that destination (the try limit, a rejection — a duplicate refusal
is evidence it landed —, an expired sign-in, an account no longer connected, unreadable tokens,
a missing adapter) sends it to needs_review instead, until a person has answered the review
(`publish_history`). The reaper only ever retries or asks for review; disconnecting an account
and the posts page's retry and edit follow the same rule. The post as a whole then reads
`needs_review` too (`post_status.derive_post_status`), never failed or partially published.

Plain Python and SQLAlchemy: the Celery tasks in `worker/tasks.py` are thin doors into this.
Works the same on PostgreSQL (row locks, `SKIP LOCKED`) and SQLite (one writer at a time).
"""

from __future__ import annotations

import enum
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from postforge.models import (
    AccountStatus,
    AttemptOutcome,
    DestinationStatus,
    NotificationKind,
    Post,
    PostDestination,
    PostMedia,
    PostStatus,
    PublishAttempt,
    SocialAccount,
    utcnow,
)
from postforge.platforms import media_rules, registry, rules
from postforge.platforms.base import (
    AccountCredentials,
    AuthExpired,
    MediaItem,
    Outcome,
    PlatformAdapter,
    Published,
    PublishRequest,
    RateLimited,
    Rejected,
    Transient,
    Unknown,
    counting_requests,
)
from postforge.services.alerts import notifications
from postforge.services.channels import account_tokens, publish_limits
from postforge.services.content import post_status, publish_history
from postforge.services.infra import token_crypto
from postforge.services.kernel.errors import Conflict, NotFound, ValidationFailed
from postforge.services.media import publish_media
from postforge.services.tenancy import workspaces
from postforge.settings import get_settings

logger = logging.getLogger(__name__)

D = DestinationStatus
# Posts whose pending destinations may go out. Drafts never (their destinations wait with no
# time); cancelled, deleted and fully published posts have nothing left to send. (A post with a
# pending destination derives to scheduled or publishing; the outcomes are listed for safety.)
DISPATCHABLE_POSTS = (
    PostStatus.SCHEDULED,
    PostStatus.PUBLISHING,
    PostStatus.PARTIALLY_PUBLISHED,
    PostStatus.NEEDS_REVIEW,
    PostStatus.FAILED,
)
FINISH_TRIES = 5
RATE_LIMIT_JITTER_SECONDS = 2.0  # spread an account's waiting destinations past the reset
MIN_BACKOFF_SECONDS = 1.0
REAPED_ERROR = "The worker stopped before the platform answered (it was restarted or lost)."
INTERRUPTED_ERROR = "The publish ran out of time before the platform answered."
RECONNECT_MESSAGE = "{name} needs reconnecting: reconnect the account, then retry the post."

AdapterFactory = Callable[..., PlatformAdapter]


@dataclass(frozen=True)
class PublishResult:
    """What one `publish_destination` call did (the worker logs it; tests read it)."""

    destination_id: int
    status: str  # published | waiting | failed | needs_review | skipped
    detail: str = ""
    retry_at: datetime | None = None


@dataclass(frozen=True)
class ReapResult:
    requeued: int = 0  # queued rows whose message was lost: due again now
    retried: int = 0  # publishing rows on idempotent platforms: tried again with the same key
    needs_review: int = 0  # publishing rows that may have reached a platform without deduplication


# --- Dispatch ------------------------------------------------------------------------------------


def dispatch_due(
    engine: Engine, *, now: datetime | None = None, settings: Any = None
) -> list[tuple[int, float]]:
    """Claim the destinations due before the next tick; [(destination id, seconds until due)]."""
    settings = settings or get_settings()
    now = now or utcnow()
    horizon = now + timedelta(seconds=settings.dispatch_interval_seconds)
    lease = timedelta(seconds=settings.publish_lease_seconds)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        query = (
            select(PostDestination.id, PostDestination.post_id, PostDestination.next_attempt_at)
            .join(Post, col(Post.id) == PostDestination.post_id)
            .where(
                PostDestination.status == D.PENDING,
                col(PostDestination.next_attempt_at).is_not(None),
                col(PostDestination.next_attempt_at) <= horizon,
                col(Post.deleted_at).is_(None),
                col(Post.status).in_(DISPATCHABLE_POSTS),
            )
            .order_by(col(PostDestination.next_attempt_at), col(PostDestination.id))
            .limit(settings.dispatch_batch_size)
        )
        if _is_postgres(engine):
            # Two dispatchers (a second beat, a slow tick overlapping the next) never claim one row twice.
            query = query.with_for_update(skip_locked=True, of=PostDestination)
        rows = session.execute(query).all()
        if not rows:
            return []
        claims = [(row.id, row.post_id, max(row.next_attempt_at, now)) for row in rows]
        table = PostDestination.__table__
        session.connection().execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("b_id"), table.c.status == D.PENDING)
            .values(status=D.QUEUED, lease_until=sa.bindparam("b_lease"), updated_at=now),
            [{"b_id": id_, "b_lease": due + lease} for id_, _, due in claims],
        )
        _set_post_status(
            session,
            {post_id for _, post_id, _ in claims},
            PostStatus.PUBLISHING,
            now,
            only_from=DISPATCHABLE_POSTS,
        )
    return [(id_, round((due - now).total_seconds(), 3)) for id_, _, due in claims]


# --- Publish -------------------------------------------------------------------------------------


@dataclass
class _Run:
    """One publish_destination call's context."""

    engine: Engine
    destination_id: int
    settings: Any
    fixed_now: datetime | None
    lease_until: datetime | None = None
    refreshed: bool = False
    state: dict[str, Any] | None = None  # the platform state last checkpointed by this run
    # What the caller raises to say "time is up" (the worker: Celery's SoftTimeLimitExceeded).
    interrupted: tuple[type[BaseException], ...] = ()

    def now(self) -> datetime:
        return self.fixed_now or utcnow()


def publish_destination(
    engine: Engine,
    destination_id: int,
    *,
    adapter_factory: AdapterFactory | None = None,
    limits: publish_limits.PublishLimits | None = None,
    now: datetime | None = None,
    settings: Any = None,
    interrupted: tuple[type[BaseException], ...] = (),
) -> PublishResult:
    """Publish one queued destination and record its outcome; a second call for it does nothing.

    `interrupted`: the exceptions by which the caller says time is up. Raised inside the platform
    call they become its outcome (see `_call_adapter`); raised anywhere else they propagate and
    the caller settles the row with `release_interrupted`.
    """
    settings = settings or get_settings()
    run = _Run(engine, destination_id, settings, now, interrupted=interrupted)
    # The claim and the reads commit together: a failure in between leaves the row queued for the
    # reaper, and one publish costs three short transactions (claim, attempt, outcome).
    prepared = _claim_and_prepare(run)
    if isinstance(prepared, PublishResult):
        return prepared
    try:
        return _publish_claimed(run, prepared, adapter_factory or registry.adapter_for, limits)
    except interrupted:
        raise
    except Exception:
        # A bug or an unreachable database after the claim: the lease runs out and the reaper
        # returns the row to the right path. Nothing is retried blindly from here.
        logger.exception("publishing destination %s failed unexpectedly", destination_id)
        raise


def _claim(session: Session, run: _Run) -> bool:
    """queued → publishing with this run's lease; False when the row is not queued (a redelivery)."""
    table = PostDestination.__table__
    now = run.now()
    run.lease_until = now + timedelta(seconds=run.settings.publish_lease_seconds)
    result = session.connection().execute(
        sa.update(table)
        .where(table.c.id == run.destination_id, table.c.status == D.QUEUED)
        .values(status=D.PUBLISHING, lease_until=run.lease_until, updated_at=now)
    )
    return result.rowcount == 1


@dataclass(frozen=True)
class _Prepared:
    post_id: int
    text: str
    language: str | None
    idempotency_key: str
    state: Mapping[str, Any]
    account_id: int
    platform: str
    account_name: str
    credentials: AccountCredentials
    options: Mapping[str, Any] = field(default_factory=dict)
    media: tuple[MediaItem, ...] = ()


def _publish_claimed(
    run: _Run,
    prepared: _Prepared,
    adapter_factory: AdapterFactory,
    limits: publish_limits.PublishLimits | None,
) -> PublishResult:
    try:
        adapter = adapter_factory(prepared.platform, run.settings)
    except (ImportError, AttributeError, KeyError, ValueError) as error:
        logger.exception("no adapter for %s", prepared.platform)
        return _finish(run, Rejected(f"PostForge can't publish to this platform right now ({error})."), None)
    # Media the platform would refuse are refused here, with words a person can act on, before
    # anything is uploaded (no attempt, no token from the account's bucket).
    media_problems = media_rules.check_media(prepared.platform, prepared.media)
    if media_problems:
        reason = f"{prepared.account_name}: {media_rules.problems_text(media_problems)}"
        return _finish(run, Rejected(reason), adapter, attempt_id=None)
    credentials = prepared.credentials
    if account_tokens.expiring(credentials, adapter, run.now()) and adapter.can_refresh(credentials):
        refreshed = _refresh_locked(run, prepared.account_id, adapter, used_token=None)
        if not isinstance(refreshed, AccountCredentials):
            return _finish(run, refreshed, adapter, attempt_id=None)
        credentials = refreshed
    limits = limits or publish_limits.limits_for(run.engine, run.settings)
    wait = limits.take(
        publish_limits.bucket_key(prepared.account_id),
        publish_limits.policy_for(adapter, run.settings),
        now=run.now(),
    )
    if wait > 0:
        return _wait(run, wait)
    while True:
        attempt_id = _start_attempt(run)
        outcome = _call_adapter(run, adapter, prepared, credentials)
        if isinstance(outcome, AuthExpired) and not run.refreshed and adapter.can_refresh(credentials):
            _close_attempt(run, attempt_id, outcome)
            refreshed = _refresh_locked(
                run, prepared.account_id, adapter, used_token=credentials.access_token
            )
            if isinstance(refreshed, AccountCredentials):
                credentials = refreshed
                continue  # the one immediate retry with the new token
            return _finish(run, refreshed, adapter, attempt_id=None)
        if isinstance(outcome, RateLimited):
            limits.block_until(
                publish_limits.bucket_key(prepared.account_id), outcome.retry_at, now=run.now()
            )
        return _finish(run, outcome, adapter, attempt_id=attempt_id)


def _claim_and_prepare(run: _Run) -> _Prepared | PublishResult:
    """Claim the row, load what the publish needs (one query) and settle at once what cannot
    be published (no attempt used)."""
    with Session(run.engine, expire_on_commit=False) as session, session.begin():
        if not _claim(session, run):
            return PublishResult(
                run.destination_id, "skipped", "not queued (already handled, cancelled or rescheduled)"
            )
        media = (
            select(sa.func.count())
            .select_from(PostMedia)
            .where(col(PostMedia.post_id) == PostDestination.post_id)
            .scalar_subquery()
        )
        row = session.exec(
            select(PostDestination, Post, SocialAccount, media)
            .join(Post, col(Post.id) == PostDestination.post_id)
            .join(SocialAccount, col(SocialAccount.id) == PostDestination.social_account_id)
            .where(PostDestination.id == run.destination_id)
        ).first()
        if row is None:
            return PublishResult(run.destination_id, "skipped", "the destination no longer exists")
        destination, post, account, media_count = row
        if post.deleted_at is not None or post.status in (PostStatus.CANCELLED, PostStatus.DRAFT):
            # Cancelled, deleted or unscheduled while the message was on its way.
            to_draft = post.status == PostStatus.DRAFT and post.deleted_at is None
            _set_destination(
                session,
                destination,
                run.now(),
                status=D.PENDING if to_draft else D.CANCELLED,
                next_attempt_at=None,
                lease_until=None,
            )
            return PublishResult(run.destination_id, "skipped", f"the post is {post.status}")
        name = notifications.account_name(account)
        if account.status != AccountStatus.CONNECTED:
            return _fail_in(session, run, destination, RECONNECT_MESSAGE.format(name=name))
        try:
            credentials = account_tokens.credentials_for(account)
        except token_crypto.TokenUnreadable:
            reason = "The stored sign-in of this account can no longer be read (the encryption key changed)."
            account_tokens.mark_needs_reconnect(account, reason)
            session.add(account)
            return _fail_in(
                session,
                run,
                destination,
                RECONNECT_MESSAGE.format(name=name),
                kind=NotificationKind.ACCOUNT_NEEDS_RECONNECT,
            )
        text = destination.content_override if (destination.content_override or "").strip() else post.content
        problems = rules.text_problems(
            account.platform,
            text or "",
            media_count=int(media_count or 0),
            instance_limit=_instance_limit(account),
        )
        if problems:
            return _fail_in(session, run, destination, f"{name}: {problems[0]}")
        return _Prepared(
            post_id=post.id or 0,
            text=text or "",
            language=(post.meta or {}).get("language") or None,
            idempotency_key=destination.idempotency_key,
            state=dict(destination.platform_state or {}),
            options=dict(destination.options or {}),
            account_id=account.id or 0,
            platform=str(account.platform),
            account_name=name,
            credentials=credentials,
            # Links and streams from storage, made now: the adapter call follows at once.
            media=publish_media.media_items(session, post.id or 0, settings=run.settings)
            if media_count
            else (),
        )


def _instance_limit(account: SocialAccount) -> int | None:
    value = (account.settings or {}).get("max_characters")
    return value if isinstance(value, int) and value > 0 else None


def _refresh_locked(
    run: _Run, account_id: int, adapter: PlatformAdapter, *, used_token: str | None
) -> AccountCredentials | account_tokens.Reconnect | Transient:
    run.refreshed = True
    return account_tokens.refresh_locked(
        run.engine, account_id, adapter, used_token=used_token, now=run.now()
    )


def _wait(run: _Run, seconds: float) -> PublishResult:
    """The account's bucket is empty (or blocked): back to pending, no attempt counted."""
    retry_at = run.now() + timedelta(seconds=seconds)
    with Session(run.engine, expire_on_commit=False) as session, session.begin():
        destination = _owned(session, run)
        if destination is None:
            return PublishResult(run.destination_id, "skipped", "the lease was lost")
        _set_destination(
            session, destination, run.now(), status=D.PENDING, next_attempt_at=retry_at, lease_until=None
        )
        _settle_post(session, destination.post_id, run.now())
    return PublishResult(run.destination_id, "waiting", "the account's publish budget is used up", retry_at)


def _start_attempt(run: _Run) -> int:
    with Session(run.engine, expire_on_commit=False) as session, session.begin():
        destination = _owned(session, run)
        if destination is None:
            raise RuntimeError(f"destination {run.destination_id} was taken from this worker")
        destination.attempts += 1
        # Numbered over every try, waits included (`attempts` counts only the ones that count).
        earlier = session.exec(
            select(sa.func.count())
            .select_from(PublishAttempt)
            .where(PublishAttempt.destination_id == run.destination_id)
        ).one()
        attempt = PublishAttempt(
            destination_id=run.destination_id, attempt_number=int(earlier) + 1, started_at=run.now()
        )
        session.add(destination)
        session.add(attempt)
        session.flush()
        return attempt.id or 0


def _call_adapter(
    run: _Run, adapter: PlatformAdapter, prepared: _Prepared, credentials: AccountCredentials
) -> Outcome:
    request = PublishRequest(
        text=prepared.text,
        idempotency_key=prepared.idempotency_key,
        account=credentials,
        # What an earlier call of this run checkpointed (a retry after a refresh), else the stored state.
        state=run.state if run.state is not None else prepared.state,
        language=prepared.language,
        media=prepared.media,
        checkpoint=lambda state: _checkpoint(run, state),
        options=prepared.options,
    )
    with counting_requests() as sent:
        try:
            return adapter.publish(request)
        except run.interrupted:
            return _cut_short(adapter, sent[0], "the publish ran out of time")
        except Exception as error:  # an adapter bug
            logger.exception("adapter %s raised instead of returning an outcome", type(adapter).__name__)
            return _cut_short(adapter, sent[0], f"the connection failed unexpectedly: {type(error).__name__}")


def _cut_short(adapter: PlatformAdapter, requests_sent: int, why: str) -> Transient | Unknown:
    """A publish that stopped without an outcome: nothing sent can be tried again; once a request
    was out, the post may exist — the Unknown path (a retry only where the platform deduplicates)."""
    if not requests_sent:
        return Transient(f"PostForge stopped: {why} before anything was sent to {adapter.label}.")
    return Unknown(f"PostForge stopped waiting for {adapter.label}: {why}.")


def _checkpoint(run: _Run, state: dict[str, Any]) -> None:
    """Store what the adapter must find on a retry (a record key, a container id) durably, now."""
    table = PostDestination.__table__
    with run.engine.begin() as connection:
        connection.execute(
            sa.update(table)
            .where(table.c.id == run.destination_id)
            .values(platform_state=dict(state), updated_at=run.now())
        )
    run.state = dict(state)


def _close_attempt(run: _Run, attempt_id: int, outcome: Outcome) -> None:
    with Session(run.engine, expire_on_commit=False) as session, session.begin():
        _write_attempt(session, attempt_id, outcome, run.now())


def _write_attempt(session: Session, attempt_id: int | None, outcome: Outcome, now: datetime) -> None:
    if attempt_id is None:
        return
    attempt = session.get(PublishAttempt, attempt_id)
    if attempt is None:
        return
    attempt.finished_at = now
    attempt.outcome = _attempt_outcome(outcome)
    attempt.http_status = getattr(outcome, "http_status", None)
    attempt.error = _error_of(outcome)
    session.add(attempt)


def _attempt_outcome(outcome: Outcome) -> AttemptOutcome:
    return {
        Published: AttemptOutcome.PUBLISHED,
        RateLimited: AttemptOutcome.RATE_LIMITED,
        Transient: AttemptOutcome.TRANSIENT,
        AuthExpired: AttemptOutcome.AUTH_EXPIRED,
        Rejected: AttemptOutcome.REJECTED,
        Unknown: AttemptOutcome.UNKNOWN,
    }[type(outcome)]


def _error_of(outcome: Any) -> str:
    if isinstance(outcome, Published):
        return ""
    if isinstance(outcome, Rejected):
        return outcome.reason
    return getattr(outcome, "error", "")


def _finish(
    run: _Run,
    outcome: Outcome | account_tokens.Reconnect,
    adapter: PlatformAdapter | None,
    *,
    attempt_id: int | None = None,
) -> PublishResult:
    """Write the outcome: attempt row, destination, post status and notice, in one transaction.

    A lock conflict (a deadlock with an edit on PostgreSQL, a busy SQLite file) is retried: an
    outcome the platform gave must not be lost to the reaper's guess."""
    for attempt in range(FINISH_TRIES):
        try:
            with Session(run.engine, expire_on_commit=False) as session, session.begin():
                return _write_outcome(session, run, outcome, adapter, attempt_id)
        except OperationalError:
            if attempt == FINISH_TRIES - 1:
                raise
            logger.warning("destination %s: writing the outcome conflicted; trying again", run.destination_id)
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _write_outcome(
    session: Session,
    run: _Run,
    outcome: Outcome | account_tokens.Reconnect,
    adapter: PlatformAdapter | None,
    attempt_id: int | None,
) -> PublishResult:
    now = run.now()
    if not isinstance(outcome, account_tokens.Reconnect):
        _write_attempt(session, attempt_id, outcome, now)
    destination = _owned(session, run)
    if destination is None:
        return _lost_lease(session, run, outcome)
    if attempt_id is None and isinstance(outcome, Transient):
        destination.attempts += 1  # a refresh that could not be tried: a try all the same
    if isinstance(outcome, account_tokens.Reconnect):
        return _needs_reconnect(session, run, destination, outcome.error, adapter)
    if isinstance(outcome, AuthExpired):
        account = session.get(SocialAccount, destination.social_account_id)
        if account is not None and account.status == AccountStatus.CONNECTED:
            account_tokens.mark_needs_reconnect(account, outcome.error)
            session.add(account)
        return _needs_reconnect(session, run, destination, outcome.error, adapter)
    if isinstance(outcome, Published):
        return _mark_published(session, destination, outcome, now)
    if isinstance(outcome, RateLimited):
        retry_at = max(outcome.retry_at, now) + timedelta(
            seconds=random.uniform(0, RATE_LIMIT_JITTER_SECONDS)
        )
        # A wait is not a failure: the attempt is recorded but not counted against the limit.
        destination.attempts = max(0, destination.attempts - 1)
        return _retry_later(session, run, destination, retry_at, outcome.error, "waiting")
    if isinstance(outcome, Rejected):
        return _fail_in(session, run, destination, outcome.reason)
    if isinstance(outcome, Unknown):
        return _unknown(session, run, destination, outcome.error, adapter)
    # Transient
    if destination.attempts >= run.settings.publish_max_attempts:
        return _fail_in(session, run, destination, _tries_message(destination.attempts, outcome.error))
    retry_at = now + timedelta(seconds=backoff_seconds(destination.attempts, run.settings))
    return _retry_later(session, run, destination, retry_at, outcome.error, "waiting")


def backoff_seconds(attempts: int, settings: Any = None, *, rng: random.Random | None = None) -> float:
    """Full jitter: uniform between 1 s and base * 2^(attempts-1), capped at the maximum."""
    settings = settings or get_settings()
    ceiling = min(
        settings.publish_backoff_max_seconds,
        settings.publish_backoff_base_seconds * (2 ** max(0, attempts - 1)),
    )
    return max(MIN_BACKOFF_SECONDS, (rng or random).uniform(0, ceiling))


def _tries_message(attempts: int, error: str) -> str:
    return f"Gave up after {attempts} tries. The last answer: {error}"


def _retry_later(
    session: Session, run: _Run, destination: PostDestination, retry_at: datetime, error: str, status: str
) -> PublishResult:
    now = run.now()
    _set_destination(
        session,
        destination,
        now,
        status=D.PENDING,
        next_attempt_at=retry_at,
        lease_until=None,
        last_error=error,
    )
    _settle_post(session, destination.post_id, now)
    return PublishResult(run.destination_id, status, error, retry_at)


def _unknown(
    session: Session, run: _Run, destination: PostDestination, error: str, adapter: PlatformAdapter | None
) -> PublishResult:
    """The request may have landed. Retry only where the platform deduplicates; else ask a person."""
    idempotent = bool(adapter and adapter.idempotent)
    if idempotent and destination.attempts < run.settings.publish_max_attempts:
        retry_at = run.now() + timedelta(seconds=backoff_seconds(destination.attempts, run.settings))
        return _retry_later(session, run, destination, retry_at, error, "waiting")
    label = adapter.label if adapter else "the platform's"
    message = (
        "The platform may have published this post — the connection dropped before it confirmed. "
        f"Check your {label} profile: mark it as published, post it again, or mark it as not published."
    )
    if error:
        message += f" ({error})"
    return _review_in(session, run, destination, message)


def _review_in(session: Session, run: _Run, destination: PostDestination, message: str) -> PublishResult:
    """The post may be on the platform: stop, and ask a person to check (never retried by itself)."""
    now = run.now()
    _set_destination(
        session,
        destination,
        now,
        status=D.NEEDS_REVIEW,
        next_attempt_at=None,
        lease_until=None,
        last_error=message,
    )
    _settle_post(session, destination.post_id, now)
    notifications.notify_destination(session, destination, NotificationKind.NEEDS_REVIEW)
    return PublishResult(run.destination_id, "needs_review", message)


def _needs_reconnect(
    session: Session, run: _Run, destination: PostDestination, error: str, adapter: PlatformAdapter | None
) -> PublishResult:
    account = session.get(SocialAccount, destination.social_account_id)
    name = notifications.account_name(account) if account else "The account"
    message = RECONNECT_MESSAGE.format(name=name)
    if error:
        message += f" ({adapter.label if adapter else 'The platform'} said: {error})"
    return _fail_in(session, run, destination, message, kind=NotificationKind.ACCOUNT_NEEDS_RECONNECT)


def _fail_in(
    session: Session,
    run: _Run,
    destination: PostDestination,
    message: str,
    *,
    kind: NotificationKind = NotificationKind.FAILED,
) -> PublishResult:
    """Fail the destination — unless an earlier try may have published it: then it needs review."""
    if publish_history.may_be_live(session, destination):
        return _review_in(session, run, destination, publish_history.review_message(message))
    now = run.now()
    _set_destination(
        session, destination, now, status=D.FAILED, next_attempt_at=None, lease_until=None, last_error=message
    )
    _settle_post(session, destination.post_id, now)
    notifications.notify_destination(session, destination, kind)
    return PublishResult(run.destination_id, "failed", message)


def _mark_published(
    session: Session, destination: PostDestination, outcome: Published, now: datetime
) -> PublishResult:
    """The platform confirmed the post: record where it lives, settle the post, tell its people."""
    _set_destination(
        session,
        destination,
        now,
        status=D.PUBLISHED,
        platform_post_id=outcome.platform_post_id,
        platform_post_url=outcome.url or None,
        published_at=now,
        last_error="",
        next_attempt_at=None,
        lease_until=None,
    )
    _settle_post(session, destination.post_id, now)
    notifications.notify_destination(session, destination, NotificationKind.PUBLISHED)
    return PublishResult(destination.id or 0, "published", outcome.platform_post_id)


def _lost_lease(session: Session, run: _Run, outcome: Outcome | account_tokens.Reconnect) -> PublishResult:
    """The reaper took the row while we were publishing (we were slower than the lease)."""
    destination = session.get(PostDestination, run.destination_id)
    if destination is not None and isinstance(outcome, Published) and destination.status != D.PUBLISHED:
        # The platform confirmed: that is the truth, whatever the reaper guessed meanwhile.
        return _mark_published(session, destination, outcome, run.now())
    logger.warning(
        "destination %s: lease lost before the outcome %r was written", run.destination_id, outcome
    )
    return PublishResult(run.destination_id, "skipped", "the lease ran out before the platform answered")


def _owned(session: Session, run: _Run) -> PostDestination | None:
    """The destination if this run still holds it (publishing, with the lease it set)."""
    query = select(PostDestination).where(
        PostDestination.id == run.destination_id,
        PostDestination.status == D.PUBLISHING,
        PostDestination.lease_until == run.lease_until,
    )
    if _is_postgres(session.get_bind()):
        query = query.with_for_update()
    return session.exec(query).first()


def _set_destination(session: Session, destination: PostDestination, now: datetime, **values: Any) -> None:
    for name, value in values.items():
        setattr(destination, name, value)
    destination.updated_at = now
    session.add(destination)
    session.flush()


# --- Post status -----------------------------------------------------------------------------------


def _settle_post(session: Session, post_id: int, now: datetime) -> PostStatus | None:
    """Write the post's status derived from its destinations (and when it first went out)."""
    statuses = session.exec(select(PostDestination.status).where(PostDestination.post_id == post_id)).all()
    derived = post_status.derive_post_status(statuses)
    if derived is None:
        return None
    published = derived in (PostStatus.PUBLISHED, PostStatus.PARTIALLY_PUBLISHED)
    _set_post_status(session, {post_id}, derived, now, published_at=now if published else None)
    if derived == PostStatus.NEEDS_REVIEW and D.PUBLISHED in statuses:
        # Still owed an answer (its status may not change), but out on another account already.
        session.execute(
            sa.update(Post)
            .where(col(Post.id) == post_id, col(Post.published_at).is_(None))
            .values(published_at=now)
            .execution_options(synchronize_session=False)
        )
    return derived


def _set_post_status(
    session: Session,
    post_ids: set[int],
    status: PostStatus,
    now: datetime,
    *,
    only_from: tuple[PostStatus, ...] = (),
    published_at: datetime | None = None,
) -> None:
    """Move posts to `status`, bumping their version so an editor holding the old one reloads."""
    if not post_ids:
        return
    conditions = [col(Post.id).in_(sorted(post_ids)), col(Post.status) != status]
    if only_from:
        conditions.append(col(Post.status).in_(only_from))
    values: dict[str, Any] = {"status": status, "version": Post.version + 1, "updated_at": now}
    if published_at is not None:
        values["published_at"] = sa.func.coalesce(Post.published_at, published_at)
    session.execute(
        sa.update(Post).where(*conditions).values(**values).execution_options(synchronize_session=False)
    )


# --- Reaper --------------------------------------------------------------------------------------


def reap_expired_leases(
    engine: Engine,
    *,
    now: datetime | None = None,
    settings: Any = None,
    adapter_class: Callable[[str], type[PlatformAdapter]] = registry.adapter_class,
) -> ReapResult:
    """Free claimed destinations whose lease ran out (a lost message, a killed worker)."""
    settings = settings or get_settings()
    now = now or utcnow()
    table = PostDestination.__table__
    with engine.begin() as connection:
        requeued = connection.execute(
            sa.update(table)
            .where(table.c.status == D.QUEUED, table.c.lease_until < now)
            .values(status=D.PENDING, next_attempt_at=now, lease_until=None, updated_at=now)
        ).rowcount
    retried = needs_review = 0
    with Session(engine, expire_on_commit=False) as session, session.begin():
        query = (
            select(PostDestination, SocialAccount.platform)
            .join(SocialAccount, col(SocialAccount.id) == PostDestination.social_account_id)
            .where(PostDestination.status == D.PUBLISHING, col(PostDestination.lease_until) < now)
            .order_by(col(PostDestination.lease_until))
            .limit(settings.dispatch_batch_size)
        )
        if _is_postgres(engine):
            query = query.with_for_update(skip_locked=True, of=PostDestination)
        for destination, platform in session.exec(query).all():
            result = _release(
                engine, session, destination, platform, now, settings, adapter_class, REAPED_ERROR
            )
            if result.status == "needs_review":
                needs_review += 1
            else:
                retried += 1
    return ReapResult(requeued=int(requeued or 0), retried=retried, needs_review=needs_review)


def release_interrupted(
    engine: Engine,
    destination_id: int,
    *,
    now: datetime | None = None,
    settings: Any = None,
    adapter_class: Callable[[str], type[PlatformAdapter]] = registry.adapter_class,
) -> PublishResult:
    """Settle a destination whose publish was cut short outside the platform call (the worker's
    soft time limit), now rather than when its lease runs out: as the reaper would."""
    settings = settings or get_settings()
    now = now or utcnow()
    with Session(engine, expire_on_commit=False) as session, session.begin():
        query = (
            select(PostDestination, SocialAccount.platform)
            .join(SocialAccount, col(SocialAccount.id) == PostDestination.social_account_id)
            .where(PostDestination.id == destination_id, PostDestination.status == D.PUBLISHING)
        )
        if _is_postgres(engine):
            query = query.with_for_update(of=PostDestination)
        row = session.exec(query).first()
        if row is None:
            return PublishResult(destination_id, "skipped", "not being published (already settled)")
        destination, platform = row
        return _release(
            engine, session, destination, platform, now, settings, adapter_class, INTERRUPTED_ERROR
        )


def _release(
    engine: Engine,
    session: Session,
    destination: PostDestination,
    platform: str,
    now: datetime,
    settings: Any,
    adapter_class: Callable[[str], type[PlatformAdapter]],
    error: str,
) -> PublishResult:
    """A publishing row whose worker stopped: back to pending if the platform was never called,
    else the Unknown path (the request may have landed)."""
    run = _Run(engine, destination.id or 0, settings, now, lease_until=destination.lease_until)
    if not _close_open_attempts(session, destination.id or 0, now, error):
        # The worker stopped before calling the platform: nothing can have gone out.
        _set_destination(session, destination, now, status=D.PENDING, next_attempt_at=now, lease_until=None)
        _settle_post(session, destination.post_id, now)
        return PublishResult(run.destination_id, "waiting", error, now)
    adapter = _adapter_or_none(adapter_class, platform, settings)
    return _unknown(session, run, destination, error, adapter)


def _close_open_attempts(session: Session, destination_id: int, now: datetime, error: str) -> bool:
    """Close the attempts a stopped worker left open as unknown; whether there was one."""
    attempts = session.exec(
        select(PublishAttempt).where(
            PublishAttempt.destination_id == destination_id, col(PublishAttempt.finished_at).is_(None)
        )
    ).all()
    for attempt in attempts:
        attempt.finished_at = now
        attempt.outcome = AttemptOutcome.UNKNOWN
        attempt.error = error
        session.add(attempt)
    return bool(attempts)


def _adapter_or_none(
    adapter_class: Callable[[str], type[PlatformAdapter]], platform: str, settings: Any
) -> PlatformAdapter | None:
    try:
        return adapter_class(platform)(settings)
    except (ImportError, AttributeError, KeyError):
        # Unknown or missing adapter: treat the platform as one without deduplication (safe side).
        logger.exception("no adapter for %s; the destination goes to review", platform)
        return None


# --- A person's answer for a destination that needs review ---------------------------------------


class ReviewAnswer(enum.StrEnum):
    """What a person found on the platform for a destination that needs review."""

    PUBLISHED = "published"  # it is there: record it as published
    POST_AGAIN = "post_again"  # send it once more now (same idempotency key)
    NOT_PUBLISHED = "not_published"  # it is not there: an ordinary failure, retried when asked


REVIEW_ANSWERS = ", ".join(f"“{answer.value}”" for answer in ReviewAnswer)
NOT_PUBLISHED_MESSAGE = (
    "You checked the account and the post was not there, so it counts as failed. "
    "Retry it when you want it posted."
)


def resolve_review(
    session: Session, *, user_id: int, workspace_id: int, destination_id: int, answer: ReviewAnswer | str
) -> None:
    """The user checked the platform and answers (the caller commits):

    * "it was published" → published, with no platform id (a person said it is there);
    * "post it again" → pending now: the worker sends it once more;
    * "it was not published" → failed with a message saying so: nothing is sent until someone
      retries the post, and a retry then sends it like any failure.

    Every answer keeps the destination's idempotency key: a platform that deduplicates returns
    the original post if the first request did land after all. The answer covers every try made
    so far (`publish_history.mark_reviewed`): what fails after it, fails.
    """
    workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="write_posts")
    try:
        answer = ReviewAnswer(str(answer))
    except ValueError:
        raise ValidationFailed(
            f"Unknown answer {str(answer)[:40]!r}: choose one of {REVIEW_ANSWERS}."
        ) from None
    destination = session.get(PostDestination, destination_id) if isinstance(destination_id, int) else None
    post = session.get(Post, destination.post_id) if destination else None
    if post is not None and post.workspace_id != workspace_id:
        post = None
    _apply_review(session, destination, post, answer=answer, by_user_id=user_id)


def resolve_review_for_operator(
    session: Session, *, operator_id: int, destination_id: int, answer: ReviewAnswer
) -> None:
    """The same answer, given by a caller that authorized itself another way (a system admin)."""
    destination = session.get(PostDestination, destination_id) if isinstance(destination_id, int) else None
    post = session.get(Post, destination.post_id) if destination else None
    _apply_review(session, destination, post, answer=ReviewAnswer(answer), by_user_id=operator_id)


def _apply_review(
    session: Session,
    destination: PostDestination | None,
    post: Post | None,
    *,
    answer: ReviewAnswer,
    by_user_id: int,
) -> None:
    if destination is None or post is None or post.deleted_at is not None:
        raise NotFound("That post does not exist in this workspace (it may have been deleted).")
    if destination.status != D.NEEDS_REVIEW:
        raise Conflict("This account's post no longer needs checking — reload to see where it stands.")
    now = utcnow()
    checked = publish_history.mark_reviewed(session, destination)  # what fails after this, fails
    if answer == ReviewAnswer.PUBLISHED:
        state = dict(checked)
        state["confirmed_by_user_id"] = by_user_id  # no platform id: a person said it is there
        _set_destination(
            session,
            destination,
            now,
            status=D.PUBLISHED,
            published_at=now,
            last_error="",
            platform_state=state,
        )
    elif answer == ReviewAnswer.POST_AGAIN:
        _set_destination(
            session,
            destination,
            now,
            status=D.PENDING,
            next_attempt_at=now,
            attempts=0,
            last_error="",
            lease_until=None,
            platform_state=checked,
        )
    else:
        state = dict(checked)
        state["not_found_by_user_id"] = by_user_id  # a person looked and it was not there
        _set_destination(
            session,
            destination,
            now,
            status=D.FAILED,
            next_attempt_at=None,
            last_error=NOT_PUBLISHED_MESSAGE,
            lease_until=None,
            platform_state=state,
        )
    _settle_post(session, post.id or 0, now)


def _is_postgres(bind: Any) -> bool:
    return bind.dialect.name == "postgresql"

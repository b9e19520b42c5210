"""Is publishing keeping up? The figures that show a stuck queue before a customer does.

A post that should have gone out minutes ago and is still `pending` means dispatch is not
running (beat down, or no worker consuming the `control` queue) or the workers cannot keep up:
`/api/health` turns degraded when the oldest such post is more than `OVERDUE_ALERT_SECONDS`
late, and the admin page shows the backlog with the rate limits and failures per platform.
Rows waiting on purpose — a rate-limit reset, a backoff — have a future `next_attempt_at`
and never count as overdue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from postforge.models import (
    AccountStatus,
    AttemptOutcome,
    DestinationStatus,
    Post,
    PostDestination,
    PublishAttempt,
    SocialAccount,
    utcnow,
)
from postforge.services.channels.publishing import DISPATCHABLE_POSTS

D = DestinationStatus
OVERDUE_GRACE_SECONDS = 60.0  # a due row is "overdue" once a dispatch tick should long have taken it
OVERDUE_ALERT_SECONDS = 300.0  # the oldest overdue row older than this degrades the health check


@dataclass(frozen=True)
class PublishingHealth:
    backlog: Backlog
    in_flight: int  # queued or publishing right now
    needs_review: int
    accounts_needing_reconnect: int
    rate_limited_last_hour: dict[str, int] = field(default_factory=dict)  # platform → 429 answers
    failed_last_day: dict[str, int] = field(default_factory=dict)  # platform → destinations failed


@dataclass(frozen=True)
class Backlog:
    overdue: int
    oldest_overdue_seconds: float | None

    @property
    def stuck(self) -> bool:
        return self.oldest_overdue_seconds is not None and self.oldest_overdue_seconds > OVERDUE_ALERT_SECONDS

    def summary(self) -> str:
        if self.oldest_overdue_seconds is None:
            return "no due post is waiting"
        late = _duration(self.oldest_overdue_seconds)
        text = f"{self.overdue} due post(s) still waiting, the oldest {late} past its time"
        if self.stuck:
            text += " — is `postforge beat` running, and a worker consuming the control queue?"
        return text


def backlog(session: Session, now: datetime | None = None) -> Backlog:
    """Due posts dispatch has not taken (one query on the dispatcher's index; the health check's)."""
    now = now or utcnow()
    overdue, oldest = session.exec(
        select(sa.func.count(), sa.func.min(PostDestination.next_attempt_at))
        .select_from(PostDestination)
        .join(Post, col(Post.id) == PostDestination.post_id)
        .where(
            PostDestination.status == D.PENDING,
            col(PostDestination.next_attempt_at) < now - timedelta(seconds=OVERDUE_GRACE_SECONDS),
            col(Post.deleted_at).is_(None),
            col(Post.status).in_(DISPATCHABLE_POSTS),
        )
    ).one()
    seconds = (now - oldest).total_seconds() if oldest is not None else None
    return Backlog(int(overdue or 0), seconds)


def publishing_health(session: Session, now: datetime | None = None) -> PublishingHealth:
    """The admin page's figures: the backlog, what is in flight or waiting for people, and trouble
    per platform."""
    now = now or utcnow()
    waiting = backlog(session, now)
    by_status = dict(
        session.exec(
            select(PostDestination.status, sa.func.count())
            .where(col(PostDestination.status).in_([D.QUEUED, D.PUBLISHING, D.NEEDS_REVIEW]))
            .group_by(col(PostDestination.status))
        ).all()
    )
    reconnect = session.exec(
        select(sa.func.count())
        .select_from(SocialAccount)
        .where(SocialAccount.status == AccountStatus.NEEDS_RECONNECT)
    ).one()
    return PublishingHealth(
        backlog=waiting,
        in_flight=int(by_status.get(D.QUEUED, 0)) + int(by_status.get(D.PUBLISHING, 0)),
        needs_review=int(by_status.get(D.NEEDS_REVIEW, 0)),
        accounts_needing_reconnect=int(reconnect or 0),
        rate_limited_last_hour=_rate_limited_since(session, now - timedelta(hours=1)),
        failed_last_day=_failed_since(session, now - timedelta(days=1)),
    )


def _rate_limited_since(session: Session, since: datetime) -> dict[str, int]:
    rows = session.exec(
        select(SocialAccount.platform, sa.func.count())
        .select_from(PublishAttempt)
        .join(PostDestination, col(PostDestination.id) == PublishAttempt.destination_id)
        .join(SocialAccount, col(SocialAccount.id) == PostDestination.social_account_id)
        .where(
            PublishAttempt.outcome == AttemptOutcome.RATE_LIMITED,
            col(PublishAttempt.started_at) >= since,
        )
        .group_by(col(SocialAccount.platform))
    ).all()
    return {str(platform): int(count) for platform, count in rows}


def _failed_since(session: Session, since: datetime) -> dict[str, int]:
    rows = session.exec(
        select(SocialAccount.platform, sa.func.count())
        .select_from(PostDestination)
        .join(SocialAccount, col(SocialAccount.id) == PostDestination.social_account_id)
        .where(PostDestination.status == D.FAILED, col(PostDestination.updated_at) >= since)
        .group_by(col(SocialAccount.platform))
    ).all()
    return {str(platform): int(count) for platform, count in rows}


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"

"""A stuck publishing queue shows before a customer notices: the backlog, the health check and
the admin page's figures. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from postforge.models import (
    AccountStatus,
    AttemptOutcome,
    DestinationStatus,
    Platform,
    PostStatus,
    PublishAttempt,
    SocialAccount,
    Workspace,
    utcnow,
)
from postforge.services.operations import publishing_health
from postforge.services.operations.health import _check_publishing
from postforge.services.operations.publishing_health import OVERDUE_ALERT_SECONDS
from tests.support.factories import make_destination, make_post, make_social_account, make_workspace

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=utcnow().tzinfo)
D = DestinationStatus


@pytest.fixture
def accounts(engine) -> dict[str, int]:
    with Session(engine) as session:
        workspace = make_workspace(session, name="Brand")
        x = make_social_account(session, workspace, platform=Platform.X, handle="@brand")
        linkedin = make_social_account(session, workspace, platform=Platform.LINKEDIN, handle="Brand")
        session.commit()
        return {"workspace": workspace.id, "x": x.id, "linkedin": linkedin.id}


def destination(
    engine,
    accounts,
    *,
    status: DestinationStatus = D.PENDING,
    due: datetime | None = None,
    post_status: PostStatus = PostStatus.SCHEDULED,
    deleted: bool = False,
    platform: str = "x",
    updated_at: datetime | None = None,
) -> int:
    with Session(engine) as session:
        workspace = session.get(Workspace, accounts["workspace"])
        post = make_post(session, workspace, status=post_status, deleted_at=NOW if deleted else None)
        account = session.get(SocialAccount, accounts[platform])
        row = make_destination(
            session, post, account, status=status, next_attempt_at=due, updated_at=updated_at or NOW
        )
        session.commit()
        return row.id


def backlog(engine, now: datetime = NOW) -> publishing_health.Backlog:
    with Session(engine) as session:
        return publishing_health.backlog(session, now)


def test_only_due_posts_dispatch_should_have_taken_count_as_overdue(engine, accounts) -> None:
    destination(engine, accounts, due=NOW - timedelta(minutes=10))  # overdue
    destination(engine, accounts, due=NOW - timedelta(minutes=3))  # overdue
    destination(engine, accounts, due=NOW - timedelta(seconds=20))  # within the grace: a tick away
    destination(engine, accounts, due=NOW + timedelta(minutes=15))  # waiting for a rate-limit reset
    destination(engine, accounts, due=NOW - timedelta(hours=1), status=D.QUEUED)  # the reaper's job
    destination(engine, accounts, due=NOW - timedelta(hours=1), post_status=PostStatus.CANCELLED)
    destination(engine, accounts, due=NOW - timedelta(hours=1), deleted=True)
    destination(engine, accounts, due=None, post_status=PostStatus.DRAFT)

    waiting = backlog(engine)
    assert waiting.overdue == 2
    assert waiting.oldest_overdue_seconds == pytest.approx(600)
    assert waiting.stuck, "ten minutes late is past the alert"
    assert "2 due post(s) still waiting, the oldest 10 min past its time" in waiting.summary()
    assert "postforge beat" in waiting.summary()


def test_a_short_backlog_is_reported_but_not_an_alert(engine, accounts) -> None:
    destination(engine, accounts, due=NOW - timedelta(seconds=OVERDUE_ALERT_SECONDS - 30))
    waiting = backlog(engine)
    assert waiting.overdue == 1 and not waiting.stuck
    assert "beat" not in waiting.summary()
    assert backlog(engine, NOW - timedelta(hours=1)).summary() == "no due post is waiting"


def test_the_health_check_degrades_when_the_queue_is_stuck(engine, accounts) -> None:
    assert _check_publishing(engine, NOW).ok
    destination(engine, accounts, due=NOW - timedelta(minutes=30))
    check = _check_publishing(engine, NOW)
    assert not check.ok
    assert "30 min past its time" in check.detail


def test_the_admin_figures_count_flight_review_reconnects_and_trouble_per_platform(engine, accounts) -> None:
    destination(engine, accounts, status=D.QUEUED, due=NOW)
    destination(engine, accounts, status=D.PUBLISHING, due=NOW)
    destination(engine, accounts, status=D.NEEDS_REVIEW, platform="linkedin")
    destination(engine, accounts, status=D.FAILED, platform="linkedin", updated_at=NOW - timedelta(hours=2))
    destination(engine, accounts, status=D.FAILED, platform="linkedin", updated_at=NOW - timedelta(days=3))
    limited = destination(engine, accounts, due=NOW + timedelta(minutes=5))
    with Session(engine) as session:
        for minutes_ago in (10, 50, 70):
            session.add(
                PublishAttempt(
                    destination_id=limited,
                    attempt_number=minutes_ago,
                    started_at=NOW - timedelta(minutes=minutes_ago),
                    outcome=AttemptOutcome.RATE_LIMITED,
                    http_status=429,
                )
            )
        account = session.get(SocialAccount, accounts["linkedin"])
        account.status = AccountStatus.NEEDS_RECONNECT
        session.add(account)
        session.commit()

    with Session(engine) as session:
        figures = publishing_health.publishing_health(session, NOW)
    assert (figures.in_flight, figures.needs_review, figures.accounts_needing_reconnect) == (2, 1, 1)
    assert figures.rate_limited_last_hour == {"x": 2}
    assert figures.failed_last_day == {"linkedin": 1}
    assert figures.backlog.overdue == 0

"""Publishing across workspaces in the console: the trouble lists and the answers an admin gives,
under the engine's own rules, each audited against the post."""

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from postforge.models import (
    AccountStatus,
    AttemptOutcome,
    AuditLog,
    DestinationStatus,
    Post,
    PostDestination,
    PostStatus,
    PublishAttempt,
    Workspace,
    utcnow,
)
from postforge.services.admin_console import publishing
from postforge.services.kernel.errors import Conflict, NotFound, ValidationFailed
from tests.support.factories import make_destination, make_post, make_social_account
from tests.unit.services.admin_console.conftest import fingerprint

D = DestinationStatus


@pytest.fixture
def trouble(sqlite_engine, world) -> dict[str, int]:
    """In two workspaces: a failed publish, one waiting for review, one overdue, a broken account."""
    with Session(sqlite_engine) as session:
        personal, team = session.get(Workspace, world.personal), session.get(Workspace, world.team)
        account = make_social_account(session, personal, handle="@ada")
        broken = make_social_account(
            session, team, handle="@engines", status=AccountStatus.NEEDS_RECONNECT, last_error="Token revoked"
        )
        failed_post = make_post(session, personal, content="Failed launch post", status=PostStatus.FAILED)
        failed = make_destination(
            session, failed_post, account, status=D.FAILED, last_error="Rejected: too long"
        )
        review_post = make_post(session, team, content="Maybe live", status=PostStatus.FAILED)
        review = make_destination(
            session, review_post, broken, status=D.NEEDS_REVIEW, last_error="Never confirmed"
        )
        late_post = make_post(session, personal, content="Late", status=PostStatus.SCHEDULED)
        late = make_destination(
            session, late_post, account, status=D.PENDING, next_attempt_at=utcnow() - timedelta(minutes=10)
        )
        session.commit()
        return {"failed": failed.id, "review": review.id, "late": late.id, "broken": broken.id}


def test_each_list_spans_every_workspace_with_the_platform_s_message(sqlite_engine, world, trouble) -> None:
    with Session(sqlite_engine) as session:
        failed = publishing.destinations(session, actor_id=world.admin, which="failed")
        review = publishing.destinations(session, actor_id=world.admin, which="needs_review")
        overdue = publishing.destinations(session, actor_id=world.admin, which="overdue")
        accounts = publishing.accounts_needing_reconnect(session, actor_id=world.admin)
    assert [(r.id, r.workspace_name, r.message) for r in failed.rows] == [
        (trouble["failed"], "Ada's space", "Rejected: too long")
    ]
    assert [(r.id, r.workspace_name) for r in review.rows] == [(trouble["review"], "Analytical Engines")]
    assert [r.id for r in overdue.rows] == [trouble["late"]]
    assert [(a.id, a.last_error) for a in accounts] == [(trouble["broken"], "Token revoked")]


def test_an_unknown_list_is_refused(sqlite_engine, world) -> None:
    with (
        Session(sqlite_engine) as session,
        pytest.raises(ValidationFailed, match="failed, needs review or overdue"),
    ):
        publishing.destinations(session, actor_id=world.admin, which="everything")


def test_a_retry_sends_the_failed_publish_again_and_is_audited(sqlite_engine, world, trouble) -> None:
    with Session(sqlite_engine) as session:
        publishing.retry(session, actor_id=world.admin, destination_id=trouble["failed"], ip="192.0.2.7")
        session.commit()
        destination = session.get(PostDestination, trouble["failed"])
        post = session.get(Post, destination.post_id)
        (row,) = session.exec(select(AuditLog).where(AuditLog.action == "post.retry")).all()
    assert (str(destination.status), str(post.status)) == ("pending", "scheduled")
    assert (row.target_type, row.target_id, row.workspace_id) == ("post", str(post.id), world.personal)
    assert (row.details["before"], row.details["after"]) == ({"status": "failed"}, {"status": "pending"})


def test_a_failed_publish_that_may_be_live_is_never_resent(sqlite_engine, world, trouble) -> None:
    with Session(sqlite_engine) as session:
        now = utcnow()
        session.add(
            PublishAttempt(
                destination_id=trouble["failed"],
                attempt_number=1,
                started_at=now,
                finished_at=now,
                outcome=AttemptOutcome.UNKNOWN,
            )
        )
        session.commit()
    before = fingerprint(sqlite_engine)
    with Session(sqlite_engine) as session, pytest.raises(Conflict, match="may already have published"):
        publishing.retry(session, actor_id=world.admin, destination_id=trouble["failed"])
    assert fingerprint(sqlite_engine) == before


@pytest.mark.parametrize(
    ("published", "status", "action"),
    [(True, "published", "post.mark_published"), (False, "pending", "post.post_again")],
)
def test_answering_a_review(sqlite_engine, world, trouble, published, status, action) -> None:
    with Session(sqlite_engine) as session:
        publishing.resolve_review(
            session, actor_id=world.admin, destination_id=trouble["review"], published=published
        )
        session.commit()
        destination = session.get(PostDestination, trouble["review"])
        (row,) = session.exec(select(AuditLog).where(AuditLog.action == action)).all()
    assert str(destination.status) == status
    assert row.details["after"] == {"status": status} and row.workspace_id == world.team
    if published:
        assert destination.platform_state["confirmed_by_user_id"] == world.admin


def test_a_review_answered_twice_or_a_missing_publish_is_refused(sqlite_engine, world, trouble) -> None:
    with Session(sqlite_engine) as session:
        publishing.resolve_review(
            session, actor_id=world.admin, destination_id=trouble["review"], published=True
        )
        session.commit()
        with pytest.raises(Conflict, match="no longer needs checking"):
            publishing.resolve_review(
                session, actor_id=world.admin, destination_id=trouble["review"], published=False
            )
        for missing in (0, 424242):
            with pytest.raises(NotFound):
                publishing.retry(session, actor_id=world.admin, destination_id=missing)

"""The live-status look and the sandbox feed read: what a tab learns, what it never learns, and
how little one look costs."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from postforge.models import (
    DestinationStatus,
    Notification,
    NotificationKind,
    Platform,
    Post,
    PostDestination,
    Role,
    SandboxPost,
    User,
    utcnow,
)
from postforge.services.channels import live_status, sandbox_feed
from postforge.services.kernel.errors import PermissionDenied
from tests.support.factories import (
    make_destination,
    make_membership,
    make_post,
    make_social_account,
    make_user,
    make_workspace,
)


@dataclass
class World:
    alice: int
    bob: int  # a member of A too
    carol: int  # only in B
    space_a: int
    space_b: int
    destination_a: int
    destination_b: int
    account_a: int
    account_b: int


@pytest.fixture
def world(engine) -> World:
    with Session(engine, expire_on_commit=False) as session:
        alice, bob, carol = make_user(session), make_user(session), make_user(session)
        space_a, space_b = make_workspace(session, name="A"), make_workspace(session, name="B")
        make_membership(session, space_a, alice, role=Role.ADMIN)
        make_membership(session, space_a, bob, role=Role.VIEWER)
        make_membership(session, space_b, carol, role=Role.ADMIN)
        account_a = make_social_account(session, space_a, platform=Platform.SANDBOX, handle="@a")
        account_b = make_social_account(session, space_b, platform=Platform.SANDBOX, handle="@b")
        post_a, post_b = make_post(session, space_a, author=alice), make_post(session, space_b, author=carol)
        destination_a = make_destination(session, post_a, account_a)
        destination_b = make_destination(session, post_b, account_b)
        session.commit()
        return World(
            alice.id,
            bob.id,
            carol.id,
            space_a.id,
            space_b.id,
            destination_a.id,
            destination_b.id,
            account_a.id,
            account_b.id,
        )


def _look(engine, world: World, since=None, after: int = 0, *, user: int | None = None, workspace=None):
    with Session(engine) as session:
        return live_status.changes_since(
            session,
            user_id=user or world.alice,
            workspace_id=workspace or world.space_a,
            since_update=since,
            after_notification_id=after,
        )


def _publish(engine, destination_id: int, seconds_later: float = 1.0) -> None:
    """What the engine does when a destination is published: a later updated_at."""
    with Session(engine) as session:
        session.execute(
            sa.update(PostDestination)
            .where(PostDestination.id == destination_id)
            .values(
                status=DestinationStatus.PUBLISHED, updated_at=utcnow() + timedelta(seconds=seconds_later)
            )
        )
        session.commit()


def _notify(engine, workspace_id: int, *, user_id: int | None = None, title: str = "Published") -> int:
    with Session(engine) as session:
        row = Notification(
            workspace_id=workspace_id, user_id=user_id, kind=NotificationKind.PUBLISHED, title=title
        )
        session.add(row)
        session.commit()
        return row.id or 0


def test_the_first_look_is_a_baseline_with_nothing_new(engine, world) -> None:
    _notify(engine, world.space_a, title="Old news")
    first = _look(engine, world)
    assert first.last_update is not None
    assert first.notifications == () and first.changed is False
    assert first.last_notification_id > 0, "the baseline remembers the newest notice so it is never toasted"


def test_a_destination_change_in_the_workspace_is_reported_once(engine, world) -> None:
    baseline = _look(engine, world)
    assert not _look(engine, world, baseline.last_update).changed, "nothing happened"

    _publish(engine, world.destination_a)
    seen = _look(engine, world, baseline.last_update)
    assert seen.changed and seen.last_update > baseline.last_update
    again = _look(engine, world, seen.last_update)
    assert not again.changed and again.last_update == seen.last_update


def test_another_workspaces_changes_and_notices_stay_out(engine, world) -> None:
    baseline = _look(engine, world)
    _publish(engine, world.destination_b, seconds_later=5)
    _notify(engine, world.space_b, title="B's secret")
    seen = _look(engine, world, baseline.last_update, baseline.last_notification_id)
    assert not seen.changed and seen.last_update == baseline.last_update
    assert seen.notifications == ()


def test_new_notices_for_everyone_or_for_me_come_newest_first(engine, world) -> None:
    baseline = _look(engine, world)
    everyone = _notify(engine, world.space_a, title="For all of A")
    mine = _notify(engine, world.space_a, user_id=world.alice, title="For Alice")
    _notify(engine, world.space_a, user_id=world.bob, title="For Bob")
    seen = _look(engine, world, baseline.last_update, baseline.last_notification_id)
    assert [n.id for n in seen.notifications] == [mine, everyone]
    assert [n.title for n in seen.notifications] == ["For Alice", "For all of A"]
    assert seen.last_notification_id >= mine
    assert _look(engine, world, seen.last_update, seen.last_notification_id).notifications == ()
    bobs = _look(engine, world, baseline.last_update, baseline.last_notification_id, user=world.bob)
    assert [n.title for n in bobs.notifications] == ["For Bob", "For all of A"]


def test_an_empty_workspace_has_no_last_update_until_its_first_post(engine, world) -> None:
    with Session(engine, expire_on_commit=False) as session:
        lonely = make_workspace(session, name="Empty")
        make_membership(session, lonely, session.get(User, world.alice), role=Role.ADMIN)
        session.commit()
    baseline = _look(engine, world, workspace=lonely.id)
    assert baseline.last_update is None and not baseline.changed
    epoch = datetime(1970, 1, 1, tzinfo=UTC)  # what a tab passes once its baseline found nothing
    assert not _look(engine, world, epoch, workspace=lonely.id).changed
    with Session(engine) as session:
        make_post(session, lonely)
        session.commit()
    assert _look(engine, world, epoch, workspace=lonely.id).changed


def test_an_outsider_learns_nothing(engine, world) -> None:
    with Session(engine) as session, pytest.raises(PermissionDenied):
        live_status.changes_since(session, user_id=world.carol, workspace_id=world.space_a)


@contextmanager
def counted(engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK", "PRAGMA")):
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_one_look_costs_at_most_two_queries_busy_or_idle(engine, world) -> None:
    baseline = _look(engine, world)
    with counted(engine) as idle:
        _look(engine, world, baseline.last_update, baseline.last_notification_id)
    _publish(engine, world.destination_a)
    for i in range(5):
        _notify(engine, world.space_a, title=f"Notice {i}")
    with counted(engine) as busy:
        seen = _look(engine, world, baseline.last_update, baseline.last_notification_id)
    assert seen.changed and len(seen.notifications) == 5
    assert len(idle) <= 2, idle
    assert len(busy) <= 2, busy


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)  # a PostgreSQL planner check
def test_the_change_query_starts_from_the_updated_at_index(engine, world) -> None:
    """A busy workspace (thousands of posts, all changed long ago): PostgreSQL finds the few
    destinations changed since the last look through ix_post_destinations_updated_at and joins
    only those to their posts, instead of walking every post of the workspace each second."""
    day_ago = utcnow() - timedelta(days=1)
    with engine.begin() as connection:
        post_ids = connection.execute(
            sa.insert(Post.__table__).returning(Post.__table__.c.id),
            [
                {
                    "workspace_id": world.space_a,
                    "content": f"Post {i}",
                    "updated_at": day_ago,
                    "created_at": day_ago,
                }
                for i in range(3000)
            ],
        ).scalars()
        connection.execute(
            sa.insert(PostDestination.__table__),
            [
                {
                    "post_id": post_id,
                    "social_account_id": world.account_a,
                    "idempotency_key": uuid.uuid4().hex,
                    "updated_at": day_ago,
                    "created_at": day_ago,
                }
                for post_id in post_ids
            ],
        )
        connection.execute(sa.text("ANALYZE posts"))
        connection.execute(sa.text("ANALYZE post_destinations"))
    statement = live_status._summary(world.space_a, utcnow() - timedelta(seconds=2))
    compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as connection:
        plan = "\n".join(row[0] for row in connection.execute(sa.text(f"EXPLAIN {compiled}")))
    assert "ix_post_destinations_updated_at" in plan, plan


def _sandbox_post(engine, account_id: int, text: str) -> int:
    with Session(engine) as session:
        row = SandboxPost(social_account_id=account_id, idempotency_key=text.replace(" ", "-"), text=text)
        session.add(row)
        session.commit()
        return row.id or 0


def test_the_sandbox_feed_shows_the_workspaces_own_posts_newest_first_in_pages(engine, world) -> None:
    ids = [_sandbox_post(engine, world.account_a, f"A post {i}") for i in range(5)]
    _sandbox_post(engine, world.account_b, "B's private post")
    with Session(engine) as session:
        first = sandbox_feed.feed_page(session, user_id=world.bob, workspace_id=world.space_a, limit=2)
        second = sandbox_feed.feed_page(
            session, user_id=world.bob, workspace_id=world.space_a, limit=2, offset=2
        )
        theirs = sandbox_feed.feed_page(session, user_id=world.carol, workspace_id=world.space_b)
    assert first.total == 5 and [p.id for p in first.rows] == ids[::-1][:2]
    assert [p.text for p in second.rows] == ["A post 2", "A post 1"]
    assert first.rows[0].handle == "@a" and first.rows[0].initial
    assert [p.text for p in theirs.rows] == ["B's private post"]


def test_the_sandbox_feed_refuses_an_outsider(engine, world) -> None:
    with Session(engine) as session, pytest.raises(PermissionDenied):
        sandbox_feed.feed_page(session, user_id=world.carol, workspace_id=world.space_a)

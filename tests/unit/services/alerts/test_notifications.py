"""Notifications: one notice per destination outcome, mail to the author when a person must act,
per-member listing, unread counts and read marks. Runs on SQLite and PostgreSQL."""

from dataclasses import dataclass

import pytest
from sqlmodel import Session, select

from postforge.models import (
    DestinationStatus,
    Notification,
    NotificationKind,
    OutboxMessage,
    Platform,
    PostDestination,
    Role,
    Workspace,
)
from postforge.services.alerts import notifications
from postforge.services.kernel.errors import PermissionDenied
from postforge.settings import get_settings
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
    author: int
    viewer: int
    outsider: int
    workspace: int
    other_workspace: int
    post: int
    destination: int


@pytest.fixture
def world(engine) -> World:
    with Session(engine) as session:
        author = make_user(session, name="Author", email="author@example.com")
        viewer = make_user(session, name="Viewer")
        outsider = make_user(session, name="Outsider")
        workspace = make_workspace(session, owner=author)
        other = make_workspace(session, owner=outsider)
        make_membership(session, workspace, author, role=Role.EDITOR)
        make_membership(session, workspace, viewer, role=Role.VIEWER)
        make_membership(session, other, outsider, role=Role.ADMIN)
        account = make_social_account(
            session, workspace, platform=Platform.MASTODON, handle="@ana@example.social"
        )
        post = make_post(session, workspace, author=author, content="Spring launch:\nnew colours are here")
        destination = make_destination(
            session,
            post,
            account,
            status=DestinationStatus.FAILED,
            last_error="Validation failed: Text character limit of 500 exceeded",
        )
        session.commit()
        return World(author.id, viewer.id, outsider.id, workspace.id, other.id, post.id, destination.id)


def notify(engine, world: World, kind: NotificationKind, **destination_fields) -> int:
    with Session(engine) as session:
        destination = session.get(PostDestination, world.destination)
        for name, value in destination_fields.items():
            setattr(destination, name, value)
        notification = notifications.notify_destination(session, destination, kind)
        session.commit()
        return notification.id


def outbox(engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def test_a_failure_names_post_and_account_links_to_the_post_and_mails_the_author(engine, world):
    notify(engine, world, NotificationKind.FAILED)
    with Session(engine) as session:
        row = session.exec(select(Notification)).one()
    assert row.workspace_id == world.workspace
    assert row.user_id is None
    assert row.kind == NotificationKind.FAILED
    assert row.title == "Couldn't publish to @ana@example.social on Mastodon"
    assert "Text character limit of 500 exceeded" in row.body
    assert "Spring launch: new colours are here" in row.body
    assert row.link == f"/posts?post={world.post}"
    assert (row.post_id, row.destination_id) == (world.post, world.destination)

    [mail] = outbox(engine)
    assert mail.to_address == "author@example.com"
    assert "@ana@example.social on Mastodon" in mail.subject
    assert "Spring launch" in mail.subject
    assert "Text character limit of 500 exceeded" in mail.body_text
    assert f"{get_settings().app_url.rstrip('/')}/posts?post={world.post}" in mail.body_text


def test_needs_review_and_reconnect_are_mailed_but_a_publish_is_not(engine, world):
    notify(engine, world, NotificationKind.PUBLISHED, platform_post_url="https://example.social/@ana/1")
    assert outbox(engine) == []
    notify(
        engine, world, NotificationKind.NEEDS_REVIEW, last_error="The platform may have published this post."
    )
    notify(engine, world, NotificationKind.ACCOUNT_NEEDS_RECONNECT, last_error="invalid_grant")
    subjects = [mail.subject for mail in outbox(engine)]
    assert len(subjects) == 2
    assert subjects[0].startswith("Check @ana@example.social on Mastodon: was it published?")
    assert subjects[1].startswith("Reconnect @ana@example.social on Mastodon")
    with Session(engine) as session:
        published = session.exec(
            select(Notification).where(Notification.kind == NotificationKind.PUBLISHED)
        ).one()
    assert "https://example.social/@ana/1" in published.body


def test_a_post_without_an_author_still_gets_its_notice(engine, world):
    with Session(engine) as session:
        destination = session.get(PostDestination, world.destination)
        orphan = make_post(session, session.get(Workspace, world.workspace))  # its author left
        destination.post_id = orphan.id
        notifications.notify_destination(session, destination, NotificationKind.FAILED)
        session.commit()
        orphan_id = orphan.id
    assert outbox(engine) == []
    with Session(engine) as session:
        assert session.exec(select(Notification)).one().post_id == orphan_id


def test_listing_newest_first_after_an_id_with_unread_counts_and_read_marks(engine, world):
    first = notify(engine, world, NotificationKind.PUBLISHED)
    second = notify(engine, world, NotificationKind.FAILED)
    with Session(engine) as session:
        # A notice addressed to another member is not the viewer's.
        personal = Notification(
            workspace_id=world.workspace,
            user_id=world.author,
            kind=NotificationKind.FAILED,
            title="Only yours",
        )
        session.add(personal)
        session.commit()
        personal_id = personal.id

    with Session(engine) as session:
        items = notifications.list_notifications(session, user_id=world.viewer, workspace_id=world.workspace)
        assert [item.id for item in items] == [second, first]
        assert items[0].kind == "failed" and items[0].link == f"/posts?post={world.post}"
        assert not items[0].read
        newer = notifications.list_notifications(
            session, user_id=world.viewer, workspace_id=world.workspace, after_id=first
        )
        assert [item.id for item in newer] == [second]
        author_items = notifications.list_notifications(
            session, user_id=world.author, workspace_id=world.workspace
        )
        assert [item.id for item in author_items] == [personal_id, second, first]
        assert notifications.unread_count(session, user_id=world.author, workspace_id=world.workspace) == 3
        assert notifications.latest_id(session, workspace_id=world.workspace) == personal_id
        assert notifications.latest_id(session, workspace_id=world.other_workspace) == 0

        assert notifications.mark_all_read(session, user_id=world.viewer, workspace_id=world.workspace) == 2
        session.commit()
    with Session(engine) as session:
        assert notifications.unread_count(session, user_id=world.viewer, workspace_id=world.workspace) == 0
        # The personal notice is still unread for its addressee.
        assert notifications.unread_count(session, user_id=world.author, workspace_id=world.workspace) == 1
        items = notifications.list_notifications(session, user_id=world.viewer, workspace_id=world.workspace)
        assert all(item.read for item in items)


def test_an_outsider_reads_nothing_and_marks_nothing(engine, world):
    notify(engine, world, NotificationKind.FAILED)
    with Session(engine) as session:
        for call in (
            notifications.list_notifications,
            notifications.unread_count,
            notifications.mark_all_read,
        ):
            with pytest.raises(PermissionDenied):
                call(session, user_id=world.outsider, workspace_id=world.workspace)
        session.commit()
    with Session(engine) as session:
        assert notifications.unread_count(session, user_id=world.author, workspace_id=world.workspace) == 1

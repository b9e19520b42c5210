"""The posts service: create, edit, schedule, move, cancel, retry, duplicate, delete, search.

Runs on SQLite and PostgreSQL. Times in the future are computed from now, so the tests keep
working whatever the date.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from postforge.models import (
    AccountStatus,
    DestinationStatus,
    Platform,
    Post,
    PostDestination,
    PostStatus,
    Role,
    utcnow,
)
from postforge.services.content import posts
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.support.factories import make_membership, make_social_account, make_user, make_workspace


@dataclass
class Team:
    user: int
    viewer: int
    workspace: int
    sandbox: int
    x: int
    mastodon: int
    broken: int  # needs reconnecting
    foreign: int  # an account of another workspace


@pytest.fixture
def team(engine) -> Team:
    with Session(engine) as session:
        user = make_user(session, name="Editor")
        viewer = make_user(session, name="Viewer")
        workspace = make_workspace(session, owner=user, name="Team")
        other = make_workspace(session, name="Other")
        make_membership(session, workspace, user, role=Role.EDITOR)
        make_membership(session, workspace, viewer, role=Role.VIEWER)
        sandbox = make_social_account(session, workspace, platform=Platform.SANDBOX, handle="@sandbox")
        x = make_social_account(session, workspace, platform=Platform.X, handle="@team_x")
        mastodon = make_social_account(
            session,
            workspace,
            platform=Platform.MASTODON,
            handle="@team@example.social",
            settings={"max_characters": 1000},
        )
        broken = make_social_account(
            session,
            workspace,
            platform=Platform.BLUESKY,
            handle="@team.bsky",
            status=AccountStatus.NEEDS_RECONNECT,
        )
        foreign = make_social_account(session, other, handle="@foreign")
        session.commit()
        return Team(user.id, viewer.id, workspace.id, sandbox.id, x.id, mastodon.id, broken.id, foreign.id)


def soon(hours: int = 24) -> datetime:
    return (utcnow() + timedelta(hours=hours)).replace(microsecond=0)


def create(session, team, **fields):
    fields.setdefault("content", "Hello world")
    return posts.create_post(session, actor_id=team.user, workspace_id=team.workspace, **fields)


def scheduled(session, team, **fields):
    fields.setdefault("scheduled_at", soon())
    fields.setdefault("account_ids", [team.sandbox])
    return create(session, team, **fields)


# --- create --------------------------------------------------------------------------------------


def test_a_post_without_a_time_is_a_draft(engine, team):
    with Session(engine) as session:
        view = create(session, team, content="  Draft text  ", account_ids=[team.x], timezone="Europe/Berlin")
        session.commit()
    assert view.status == "draft"
    assert view.content == "Draft text"
    assert view.scheduled_at is None
    assert view.version == 1
    assert view.timezone == "Europe/Berlin"
    assert [(d.account_id, d.platform, d.handle, d.status) for d in view.destinations] == [
        (team.x, "x", "@team_x", "pending")
    ]
    with Session(engine) as session:
        destination = session.exec(select(PostDestination)).one()
        assert destination.next_attempt_at is None  # a draft is never due
        assert len(destination.idempotency_key) == 32


def test_a_post_with_a_time_is_scheduled_on_every_account(engine, team):
    when = soon(48)
    with Session(engine) as session:
        view = scheduled(
            session,
            team,
            scheduled_at=when,
            account_ids=[team.sandbox, team.x],
            overrides={team.x: "Short version for X", team.sandbox: "   "},
            meta={"hashtags": ["#a"]},
        )
        session.commit()
    assert view.status == "scheduled"
    assert view.scheduled_at == when
    assert view.meta == {"hashtags": ["#a"]}
    by_account = {d.account_id: d for d in view.destinations}
    assert by_account[team.x].content_override == "Short version for X"
    assert by_account[team.sandbox].content_override is None  # blank means "use the post's text"
    assert view.text_for(team.x) == "Short version for X"
    assert view.text_for(team.sandbox) == "Hello world"
    with Session(engine) as session:
        rows = session.exec(select(PostDestination)).all()
        assert {row.next_attempt_at for row in rows} == {when}
        assert len({row.idempotency_key for row in rows}) == 2
        assert session.get(Post, view.id).first_scheduled_at is not None


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(seconds=-1), timedelta(days=-3)])
def test_scheduling_at_or_before_now_is_refused(engine, team, offset):
    with Session(engine) as session, pytest.raises(ValidationFailed, match="has already passed") as refusal:
        scheduled(session, team, scheduled_at=utcnow() + offset)
    assert refusal.value.field == "scheduled_at"


def test_scheduling_needs_an_account(engine, team):
    with Session(engine) as session, pytest.raises(ValidationFailed, match="at least one account") as refusal:
        scheduled(session, team, account_ids=[])
    assert refusal.value.field == "account_ids"


def test_accounts_must_belong_to_the_workspace(engine, team):
    with Session(engine) as session, pytest.raises(ValidationFailed, match="not connected to this workspace"):
        create(session, team, account_ids=[team.foreign])


def test_an_account_needing_reconnection_blocks_scheduling_but_not_a_draft(engine, team):
    with Session(engine) as session:
        with pytest.raises(ValidationFailed, match="needs reconnecting"):
            scheduled(session, team, account_ids=[team.broken])
        assert create(session, team, account_ids=[team.broken]).status == "draft"


def test_text_over_a_platform_limit_blocks_scheduling_but_not_a_draft(engine, team):
    long_text = "a" * 281
    with Session(engine) as session:
        with pytest.raises(ValidationFailed, match="Too long for X: 281 of 280") as refusal:
            scheduled(session, team, content=long_text, account_ids=[team.x])
        assert refusal.value.field == "content"
        with pytest.raises(ValidationFailed, match="Too long for X") as refusal:
            scheduled(session, team, content="fine", account_ids=[team.x], overrides={team.x: long_text})
        assert refusal.value.field == f"override-{team.x}"
        # A short version for X makes the long text fine for the sandbox (500) and X.
        ok = scheduled(
            session, team, content="b" * 400, account_ids=[team.x, team.sandbox], overrides={team.x: "short"}
        )
        assert ok.status == "scheduled"
        assert create(session, team, content=long_text, account_ids=[team.x]).status == "draft"


def test_a_mastodon_instance_limit_is_used(engine, team):
    with Session(engine) as session:
        assert scheduled(session, team, content="a" * 900, account_ids=[team.mastodon]).status == "scheduled"
        with pytest.raises(ValidationFailed, match="1,001 of 1,000"):
            scheduled(session, team, content="a" * 1001, account_ids=[team.mastodon])


@pytest.mark.parametrize(
    ("fields", "message", "field"),
    [
        ({"content": "   "}, "the post is empty", "content"),
        ({"content": "x" * 65_001}, "at most 65,000", "content"),
        ({"timezone": "Mars/Olympus"}, "Unknown time zone", "timezone"),
        ({"brand_id": 987654}, "brand does not exist", "brand_id"),
    ],
)
def test_bad_input_is_refused_with_the_field(engine, team, fields, message, field):
    with Session(engine) as session, pytest.raises(ValidationFailed, match=message) as refusal:
        create(session, team, **fields)
    assert refusal.value.field == field


def test_viewers_and_outsiders_cannot_write(engine, team):
    with Session(engine) as session:
        with pytest.raises(PermissionDenied, match="Viewers"):
            posts.create_post(session, actor_id=team.viewer, workspace_id=team.workspace, content="x")
        post = create(session, team)
        session.commit()
        with pytest.raises(PermissionDenied):
            posts.reschedule(
                session,
                actor_id=team.viewer,
                workspace_id=team.workspace,
                post_id=post.id,
                scheduled_at=soon(),
                expected_version=1,
            )
        # A viewer may read it.
        assert (
            posts.get_post(session, actor_id=team.viewer, workspace_id=team.workspace, post_id=post.id).id
            == post.id
        )


def test_get_post_only_finds_live_posts_of_the_workspace(engine, team):
    with Session(engine) as session:
        stranger = make_user(session, name="Stranger")
        other = make_workspace(session, owner=stranger, name="Elsewhere")
        make_membership(session, other, stranger, role=Role.ADMIN)
        post = create(session, team)
        session.commit()
        assert (
            posts.get_post(session, actor_id=team.user, workspace_id=team.workspace, post_id=post.id) == post
        )
        with pytest.raises(NotFound):
            posts.get_post(session, actor_id=team.user, workspace_id=team.workspace, post_id=post.id + 999)
        # Asking through another workspace finds nothing, even for that workspace's admin.
        with pytest.raises(NotFound):
            posts.get_post(session, actor_id=stranger.id, workspace_id=other.id, post_id=post.id)


# --- reschedule ----------------------------------------------------------------------------------


def test_reschedule_moves_the_post_and_every_destination(engine, team):
    with Session(engine) as session:
        post = scheduled(session, team, account_ids=[team.sandbox, team.x])
        session.commit()
        later = soon(72)
        moved = posts.reschedule(
            session,
            actor_id=team.user,
            workspace_id=team.workspace,
            post_id=post.id,
            scheduled_at=later,
            expected_version=post.version,
        )
        session.commit()
    assert moved.scheduled_at == later
    assert moved.version == post.version + 1
    assert moved.status == "scheduled"
    with Session(engine) as session:
        assert {d.next_attempt_at for d in session.exec(select(PostDestination)).all()} == {later}


def test_reschedule_turns_a_draft_with_accounts_into_a_scheduled_post(engine, team):
    with Session(engine) as session:
        draft = create(session, team, account_ids=[team.sandbox])
        moved = posts.reschedule(
            session,
            actor_id=team.user,
            workspace_id=team.workspace,
            post_id=draft.id,
            scheduled_at=soon(),
            expected_version=None,
        )
        assert moved.status == "scheduled"
        bare = create(session, team)
        with pytest.raises(ValidationFailed, match="at least one account"):
            posts.reschedule(
                session,
                actor_id=team.user,
                workspace_id=team.workspace,
                post_id=bare.id,
                scheduled_at=soon(),
                expected_version=None,
            )


def test_reschedule_refuses_the_past_and_stale_versions(engine, team):
    with Session(engine) as session:
        post = scheduled(session, team)
        session.commit()
        with pytest.raises(ValidationFailed, match="already passed"):
            posts.reschedule(
                session,
                actor_id=team.user,
                workspace_id=team.workspace,
                post_id=post.id,
                scheduled_at=utcnow() - timedelta(minutes=1),
                expected_version=post.version,
            )
        with pytest.raises(posts.PostChanged, match="changed elsewhere"):
            posts.reschedule(
                session,
                actor_id=team.user,
                workspace_id=team.workspace,
                post_id=post.id,
                scheduled_at=soon(5),
                expected_version=post.version - 1 or 99,
            )
        session.rollback()
        assert (
            posts.get_post(
                session, actor_id=team.user, workspace_id=team.workspace, post_id=post.id
            ).scheduled_at
            == post.scheduled_at
        )


@pytest.mark.parametrize(
    "status", [PostStatus.PUBLISHING, PostStatus.PUBLISHED, PostStatus.PARTIALLY_PUBLISHED]
)
def test_reschedule_refuses_posts_that_went_out(engine, team, status):
    with Session(engine) as session:
        post = scheduled(session, team)
        row = session.get(Post, post.id)
        row.status = status
        session.add(row)
        session.commit()
        with pytest.raises(Conflict, match="can't be moved"):
            posts.reschedule(
                session,
                actor_id=team.user,
                workspace_id=team.workspace,
                post_id=post.id,
                scheduled_at=soon(),
                expected_version=None,
            )


# --- DST -----------------------------------------------------------------------------------------


def next_change(zone: str, *, spring: bool) -> date:
    """The next day on which `zone` springs forward (or falls back), after today."""
    tz = ZoneInfo(zone)
    day = date.today() + timedelta(days=1)
    for _ in range(800):
        start = datetime.combine(day, time(0, 0), tz).utcoffset()
        end = datetime.combine(day, time(23, 0), tz).utcoffset()
        if (spring and end > start) or (not spring and end < start):
            return day
        day += timedelta(days=1)
    raise AssertionError(f"{zone} has no DST change in the next two years")


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin"])
def test_a_time_the_clocks_skip_cannot_be_scheduled(engine, team, zone):
    day = next_change(zone, spring=True)
    with pytest.raises(ValidationFailed, match="does not exist") as refusal:
        posts.local_to_utc(f"{day} 02:30", zone)
    assert refusal.value.field == "scheduled_at"
    # 03:30 the same day exists, and is kept as typed.
    when = posts.local_to_utc(f"{day} 03:30", zone)
    with Session(engine) as session:
        view = scheduled(session, team, scheduled_at=when, timezone=zone)
        session.commit()
    assert timefmt.to_local(view.scheduled_at, zone) == datetime.combine(day, time(3, 30))


@pytest.mark.parametrize(
    ("zone", "local", "offset_hours"),
    [
        ("America/New_York", "01:30", -4),  # happens twice: the first (still EDT) is meant
        ("Europe/Berlin", "01:30", +2),  # happens once, still CEST
        ("Europe/Berlin", "02:30", +2),  # happens twice: the first (still CEST) is meant
    ],
)
def test_a_time_that_happens_twice_means_the_first(engine, team, zone, local, offset_hours):
    day = next_change(zone, spring=False)
    when = posts.local_to_utc(f"{day} {local}", zone)
    expected = datetime.combine(day, time.fromisoformat(local)).replace(tzinfo=UTC) - timedelta(
        hours=offset_hours
    )
    assert when == expected
    with Session(engine) as session:
        view = scheduled(session, team, scheduled_at=when, timezone=zone)
        session.commit()
        moved = posts.reschedule(
            session,
            actor_id=team.user,
            workspace_id=team.workspace,
            post_id=view.id,
            scheduled_at=when + timedelta(hours=1),
            expected_version=view.version,
        )
    assert view.scheduled_at == expected
    # An hour later on the clock of the world is the second 01:30 (NY) / 02:30 (Berlin) or 02:30.
    assert moved.scheduled_at - view.scheduled_at == timedelta(hours=1)


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin"])
def test_moving_a_post_a_day_across_the_change_keeps_its_wall_time(engine, team, zone):
    day = next_change(zone, spring=True) - timedelta(days=1)
    when = posts.local_to_utc(f"{day} 09:00", zone)
    with Session(engine) as session:
        view = scheduled(session, team, scheduled_at=when, timezone=zone)
        target = timefmt.shift_days_keeping_wall_time(view.scheduled_at, 1, zone)
        moved = posts.reschedule(
            session,
            actor_id=team.user,
            workspace_id=team.workspace,
            post_id=view.id,
            scheduled_at=target,
            expected_version=view.version,
        )
    assert timefmt.to_local(moved.scheduled_at, zone) == datetime.combine(day + timedelta(days=1), time(9))
    assert moved.scheduled_at - view.scheduled_at == timedelta(hours=23)


# --- update and the conflict rule ----------------------------------------------------------------


def edit(session, team, post, **fields):
    fields.setdefault("content", post.content)
    fields.setdefault("account_ids", [d.account_id for d in post.destinations])
    fields.setdefault("expected_version", post.version)
    return posts.update_post(
        session, actor_id=team.user, workspace_id=team.workspace, post_id=post.id, **fields
    )


def test_update_changes_text_accounts_and_versions(engine, team):
    with Session(engine) as session:
        post = create(session, team, account_ids=[team.sandbox, team.x])
        session.commit()
        updated = edit(
            session,
            team,
            post,
            content="New text",
            account_ids=[team.x, team.mastodon],
            overrides={team.mastodon: "Longer version for the fediverse"},
        )
        session.commit()
    assert updated.version == 2
    assert updated.content == "New text"
    assert {d.account_id for d in updated.destinations} == {team.x, team.mastodon}
    assert updated.text_for(team.mastodon) == "Longer version for the fediverse"
    assert updated.updated_at >= post.updated_at
    with Session(engine) as session:
        assert len(session.exec(select(PostDestination)).all()) == 2  # the sandbox destination is gone


def test_a_stale_edit_is_a_conflict_and_overwrite_saves_it(engine, team):
    with Session(engine) as session:
        post = create(session, team, content="Original")
        session.commit()
    # Someone else saves first…
    with Session(engine) as elsewhere:
        edit(elsewhere, team, post, content="Their change")
        elsewhere.commit()
    # …so saving from the version this editor loaded is refused, and nothing is overwritten.
    with Session(engine) as session:
        with pytest.raises(posts.PostChanged) as conflict:
            edit(session, team, post, content="My change")
        assert (
            conflict.value.message
            == "This post was changed elsewhere — reload it, or save again to overwrite."
        )
        assert conflict.value.code == "stale"
        assert conflict.value.current_version == 2
        session.rollback()
        assert (
            posts.get_post(session, actor_id=team.user, workspace_id=team.workspace, post_id=post.id).content
            == "Their change"
        )
        # Choosing "overwrite" saves this editor's text over the newer version.
        saved = edit(session, team, post, content="My change", overwrite=True)
        session.commit()
    assert (saved.content, saved.version) == ("My change", 3)


def test_the_conditional_update_refuses_a_version_that_changed_after_it_was_read(engine, team):
    # Two editors both read version 1; the first write wins, the second finds no row to update.
    with Session(engine) as session:
        post = create(session, team)
        session.commit()
    with Session(engine) as first, Session(engine) as second:
        row = second.get(Post, post.id)  # the second editor has read version 1
        assert row.version == 1
        edit(first, team, post, content="First")
        first.commit()
        with pytest.raises(posts.PostChanged):
            posts._write(second, row, 1, {"content": "Second"}, utcnow())
        second.rollback()
    with Session(engine) as session:
        assert session.get(Post, post.id).content == "First"


def test_a_draft_can_be_scheduled_and_unscheduled_by_editing(engine, team):
    with Session(engine) as session:
        post = create(session, team, account_ids=[team.sandbox])
        when = soon()
        on = edit(session, team, post, scheduled_at=when)
        assert (on.status, on.scheduled_at) == ("scheduled", when)
        off = edit(session, team, on, scheduled_at=None)
        assert (off.status, off.scheduled_at) == ("draft", None)
        assert off.first_scheduled_at is not None  # it was scheduled once
        destination = session.exec(select(PostDestination)).one()
        assert destination.next_attempt_at is None


@pytest.mark.parametrize(
    "status", [PostStatus.PUBLISHING, PostStatus.PUBLISHED, PostStatus.PARTIALLY_PUBLISHED]
)
def test_posts_that_went_out_cannot_be_edited(engine, team, status):
    with Session(engine) as session:
        post = scheduled(session, team)
        row = session.get(Post, post.id)
        row.status = status
        session.add(row)
        session.commit()
        with pytest.raises(Conflict, match="can't be edited"):
            edit(session, team, post, content="Changed")


def test_a_queued_destination_blocks_edits(engine, team):
    with Session(engine) as session:
        post = scheduled(session, team)
        destination = session.exec(select(PostDestination)).one()
        destination.status = DestinationStatus.QUEUED
        session.add(destination)
        session.commit()
        with pytest.raises(Conflict, match="being published right now"):
            edit(session, team, post, content="Changed", scheduled_at=post.scheduled_at)
        with pytest.raises(Conflict, match="being published right now"):
            posts.delete_post(session, actor_id=team.user, workspace_id=team.workspace, post_id=post.id)


def test_editing_a_failed_post_starts_a_new_round(engine, team):
    with Session(engine) as session:
        post = scheduled(session, team)
        _fail(session, post.id)
        session.commit()
        fresh = posts.get_post(session, actor_id=team.user, workspace_id=team.workspace, post_id=post.id)
        again = edit(session, team, fresh, content="Fixed text", scheduled_at=soon(3))
        destination = session.exec(select(PostDestination)).one()
    assert again.status == "scheduled"
    assert (destination.status, destination.attempts, destination.last_error) == ("pending", 0, "")


def _fail(session, post_id, *, statuses=(DestinationStatus.FAILED,)):
    row = session.get(Post, post_id)
    destinations = session.exec(select(PostDestination).where(PostDestination.post_id == post_id)).all()
    for destination, status in zip(destinations, statuses, strict=False):
        destination.status = status
        destination.attempts = 3
        destination.last_error = "Platform said no"
        session.add(destination)
    derived = posts.post_status.derive_post_status([d.status for d in destinations])
    row.status = derived
    session.add(row)
    session.flush()


# --- cancel, retry, duplicate, delete ------------------------------------------------------------


def test_cancel_stops_every_open_destination(engine, team):
    with Session(engine) as session:
        post = scheduled(session, team, account_ids=[team.sandbox, team.x])
        cancelled = posts.cancel_post(
            session, actor_id=team.user, workspace_id=team.workspace, post_id=post.id
        )
        session.commit()
    assert cancelled.status == "cancelled"
    assert {d.status for d in cancelled.destinations} == {"cancelled"}
    with Session(engine) as session:
        assert {d.next_attempt_at for d in session.exec(select(PostDestination)).all()} == {None}
        with pytest.raises(Conflict, match="can't become cancelled"):
            posts.cancel_post(session, actor_id=team.user, workspace_id=team.workspace, post_id=post.id)
        draft = create(session, team)
        with pytest.raises(Conflict, match="is a draft, so it can't become cancelled"):
            posts.cancel_post(session, actor_id=team.user, workspace_id=team.workspace, post_id=draft.id)


def test_a_cancelled_post_can_be_scheduled_again(engine, team):
    with Session(engine) as session:
        post = scheduled(session, team)
        cancelled = posts.cancel_post(
            session, actor_id=team.user, workspace_id=team.workspace, post_id=post.id
        )
        back = posts.reschedule(
            session,
            actor_id=team.user,
            workspace_id=team.workspace,
            post_id=post.id,
            scheduled_at=soon(10),
            expected_version=cancelled.version,
        )
    assert back.status == "scheduled"
    assert {d.status for d in back.destinations} == {"pending"}


def test_retry_sends_only_failed_destinations_again_now(engine, team):
    with Session(engine) as session:
        post = scheduled(session, team, account_ids=[team.sandbox, team.x])
        _fail(session, post.id, statuses=(DestinationStatus.PUBLISHED, DestinationStatus.FAILED))
        session.commit()
        before = utcnow()
        retried = posts.retry_failed(
            session, actor_id=team.user, workspace_id=team.workspace, post_id=post.id
        )
        session.commit()
        rows = {d.status: d for d in session.exec(select(PostDestination)).all()}
    assert retried.status == "publishing"  # one is out, the other is on its way again
    assert set(rows) == {DestinationStatus.PUBLISHED, DestinationStatus.PENDING}
    pending = rows[DestinationStatus.PENDING]
    assert pending.next_attempt_at >= before.replace(microsecond=0) - timedelta(seconds=1)
    assert (pending.attempts, pending.last_error) == (0, "")


def test_retry_of_a_wholly_failed_post_schedules_it_and_review_is_never_retried(engine, team):
    with Session(engine) as session:
        post = scheduled(session, team, account_ids=[team.sandbox, team.x])
        _fail(session, post.id, statuses=(DestinationStatus.FAILED, DestinationStatus.NEEDS_REVIEW))
        retried = posts.retry_failed(
            session, actor_id=team.user, workspace_id=team.workspace, post_id=post.id
        )
        assert retried.status == "publishing"
        assert sorted(d.status for d in retried.destinations) == ["needs_review", "pending"]
        only_review = scheduled(session, team)
        _fail(session, only_review.id, statuses=(DestinationStatus.NEEDS_REVIEW,))
        with pytest.raises(Conflict, match="need review"):
            posts.retry_failed(
                session, actor_id=team.user, workspace_id=team.workspace, post_id=only_review.id
            )
        single = scheduled(session, team)
        _fail(session, single.id)
        assert (
            posts.retry_failed(
                session, actor_id=team.user, workspace_id=team.workspace, post_id=single.id
            ).status
            == "scheduled"
        )
        with pytest.raises(Conflict, match="only failed posts can be retried"):
            posts.retry_failed(session, actor_id=team.user, workspace_id=team.workspace, post_id=single.id)


def test_a_post_that_may_be_live_is_answered_first_not_edited_moved_or_cancelled(engine, team):
    with Session(engine) as session:
        post = scheduled(session, team, account_ids=[team.sandbox, team.x])
        _fail(session, post.id, statuses=(DestinationStatus.NEEDS_REVIEW, DestinationStatus.FAILED))
        session.commit()
        view = posts.get_post(session, actor_id=team.user, workspace_id=team.workspace, post_id=post.id)
        assert view.status == "needs_review"
        who = {"actor_id": team.user, "workspace_id": team.workspace, "post_id": post.id}
        refusals = [
            lambda: edit(session, team, view, content="A new text"),
            lambda: edit(session, team, view, scheduled_at=None),
            lambda: posts.reschedule(session, scheduled_at=soon(5), expected_version=view.version, **who),
            lambda: posts.cancel_post(session, **who),
        ]
        for refused in refusals:
            with pytest.raises(Conflict, match="Answer the review first: check the platform"):
                refused()
        with pytest.raises(Conflict, match="can't become cancelled"):
            posts.cancel_post(session, **who)
        with pytest.raises(Conflict, match="Nothing was changed"):
            posts.bulk_cancel(session, actor_id=team.user, workspace_id=team.workspace, post_ids=[post.id])
        session.commit()
        assert session.get(Post, post.id).status == PostStatus.NEEDS_REVIEW
        assert sorted(d.status for d in session.exec(select(PostDestination)).all()) == [
            DestinationStatus.FAILED,
            DestinationStatus.NEEDS_REVIEW,
        ]

        # Deleting hides it and stops the failed account; the post keeps saying it may be live.
        posts.delete_post(session, **who)
        session.commit()
        row = session.get(Post, post.id)
        assert (row.status, row.deleted_at is not None) == (PostStatus.NEEDS_REVIEW, True)
        assert sorted(d.status for d in session.exec(select(PostDestination)).all()) == [
            DestinationStatus.CANCELLED,
            DestinationStatus.NEEDS_REVIEW,
        ]


def test_duplicate_makes_a_new_draft_with_the_same_accounts_and_versions(engine, team):
    with Session(engine) as session:
        post = scheduled(
            session,
            team,
            account_ids=[team.sandbox, team.x],
            overrides={team.x: "For X"},
            meta={"hashtags": ["#a"]},
            timezone="Europe/Berlin",
        )
        copy = posts.duplicate_post(session, actor_id=team.user, workspace_id=team.workspace, post_id=post.id)
        session.commit()
    assert copy.id != post.id
    assert (copy.status, copy.scheduled_at, copy.version) == ("draft", None, 1)
    assert (copy.content, copy.meta, copy.timezone) == (post.content, post.meta, post.timezone)
    assert [(d.account_id, d.content_override) for d in copy.destinations] == [
        (d.account_id, d.content_override) for d in post.destinations
    ]
    with Session(engine) as session:
        assert len({d.idempotency_key for d in session.exec(select(PostDestination)).all()}) == 4


def test_a_never_scheduled_draft_is_deleted_for_good(engine, team):
    with Session(engine) as session:
        draft = create(session, team, account_ids=[team.sandbox])
        posts.delete_post(session, actor_id=team.user, workspace_id=team.workspace, post_id=draft.id)
        session.commit()
        assert session.exec(select(Post)).all() == []
        assert session.exec(select(PostDestination)).all() == []


def test_anything_ever_scheduled_is_kept_marked_deleted(engine, team):
    with Session(engine) as session:
        post = scheduled(session, team)
        unscheduled = edit(session, team, scheduled(session, team), scheduled_at=None)
        for view in (post, unscheduled):
            posts.delete_post(session, actor_id=team.user, workspace_id=team.workspace, post_id=view.id)
        session.commit()
        rows = {row.id: row for row in session.exec(select(Post)).all()}
        assert rows[post.id].deleted_at is not None
        assert rows[post.id].status == PostStatus.CANCELLED  # nothing goes out any more
        assert rows[unscheduled.id].deleted_at is not None
        assert {d.status for d in session.exec(select(PostDestination)).all()} <= {
            DestinationStatus.CANCELLED,
            DestinationStatus.PENDING,
        }
        assert all(d.next_attempt_at is None for d in session.exec(select(PostDestination)).all())
        with pytest.raises(NotFound):
            posts.get_post(session, actor_id=team.user, workspace_id=team.workspace, post_id=post.id)
        assert posts.search_posts(session, team.workspace).total == 0


def test_a_published_post_is_soft_deleted_and_keeps_its_status(engine, team):
    with Session(engine) as session:
        post = scheduled(session, team)
        _fail(session, post.id, statuses=(DestinationStatus.PUBLISHED,))
        posts.delete_post(session, actor_id=team.user, workspace_id=team.workspace, post_id=post.id)
        row = session.get(Post, post.id)
        assert (row.status, row.deleted_at is not None) == (PostStatus.PUBLISHED, True)
        assert session.exec(select(PostDestination)).one().status == DestinationStatus.PUBLISHED


# --- bulk actions: all or nothing ----------------------------------------------------------------


def test_bulk_cancel_is_all_or_nothing(engine, team):
    with Session(engine) as session:
        first = scheduled(session, team)
        second = scheduled(session, team)
        draft = create(session, team, content="Just a draft")
        session.commit()
        with pytest.raises(Conflict, match="“Just a draft”: This post is a draft") as refusal:
            posts.bulk_cancel(
                session,
                actor_id=team.user,
                workspace_id=team.workspace,
                post_ids=[first.id, second.id, draft.id],
            )
        assert refusal.value.message.endswith("Nothing was changed.")
        session.commit()  # even a caller that commits after the refusal changes nothing
        assert {r.status for r in session.exec(select(Post)).all()} == {
            PostStatus.SCHEDULED,
            PostStatus.DRAFT,
        }
        done = posts.bulk_cancel(
            session, actor_id=team.user, workspace_id=team.workspace, post_ids=[first.id, second.id]
        )
        session.commit()
        assert done.count == 2
        assert {session.get(Post, i).status for i in (first.id, second.id)} == {PostStatus.CANCELLED}


def test_bulk_delete_and_duplicate(engine, team):
    with Session(engine) as session:
        a = scheduled(session, team)
        b = create(session, team)
        copies = posts.bulk_duplicate(
            session, actor_id=team.user, workspace_id=team.workspace, post_ids=[a.id, b.id]
        )
        assert copies.count == 2 and len(set(copies.post_ids)) == 2
        deleted = posts.bulk_delete(
            session, actor_id=team.user, workspace_id=team.workspace, post_ids=[a.id, b.id, *copies.post_ids]
        )
        session.commit()
        assert deleted.count == 4
        assert posts.search_posts(session, team.workspace).total == 0
        assert [r.id for r in session.exec(select(Post)).all()] == [a.id]  # only the scheduled one is kept


def test_bulk_actions_refuse_unknown_posts_and_huge_selections(engine, team):
    with Session(engine) as session:
        post = create(session, team)
        with pytest.raises(NotFound, match="no longer exist"):
            posts.bulk_delete(
                session, actor_id=team.user, workspace_id=team.workspace, post_ids=[post.id, 10**9]
            )
        with pytest.raises(ValidationFailed, match="Select at least one"):
            posts.bulk_delete(session, actor_id=team.user, workspace_id=team.workspace, post_ids=[])
        with pytest.raises(ValidationFailed, match="at most 200"):
            posts.bulk_cancel(
                session, actor_id=team.user, workspace_id=team.workspace, post_ids=range(1, 300)
            )
        assert posts.get_post(session, actor_id=team.user, workspace_id=team.workspace, post_id=post.id)


# --- search ---------------------------------------------------------------------------------------


def test_search_filters_sorts_and_pages(engine, team):
    with Session(engine) as session:
        launch = scheduled(
            session, team, content="Launch day: 50% off", account_ids=[team.x], scheduled_at=soon(5)
        )
        later = scheduled(
            session, team, content="Behind the scenes", account_ids=[team.sandbox], scheduled_at=soon(50)
        )
        draft = create(session, team, content="launch checklist draft", account_ids=[team.mastodon])
        session.commit()

        def ids(**kwargs):
            return [row.id for row in posts.search_posts(session, team.workspace, **kwargs).rows]

        assert ids() == [later.id, launch.id, draft.id]  # by time, newest first, drafts last
        assert ids(direction="asc") == [launch.id, later.id, draft.id]
        assert ids(query="LAUNCH") == [launch.id, draft.id]
        assert ids(query="50%") == [launch.id]  # % is literal, not a wildcard
        assert ids(query="_") == []
        assert ids(statuses=["draft"]) == [draft.id]
        assert ids(statuses=["bogus"]) == []
        assert ids(platforms=["x"]) == [launch.id]
        assert ids(account_ids=[team.sandbox, team.mastodon]) == [later.id, draft.id]
        assert ids(date_from=soon(24), date_to=soon(100)) == [later.id]
        assert ids(sort="updated_at", direction="asc") == [launch.id, later.id, draft.id]
        first = posts.search_posts(session, team.workspace, limit=2)
        second = posts.search_posts(session, team.workspace, limit=2, offset=2)
        assert (first.total, len(first.rows), second.total, len(second.rows)) == (3, 2, 3, 1)
        by_id = {row.id: row for row in first.rows + second.rows}
        assert [d.platform for d in by_id[launch.id].destinations] == ["x"]
        assert by_id[draft.id].destinations[0].platform == "mastodon"


def test_search_answers_in_two_queries_whatever_the_page(engine, team):
    import sqlalchemy as sa

    with Session(engine) as session:
        for i in range(30):
            create(session, team, content=f"Post number {i}", account_ids=[team.sandbox, team.x])
        session.commit()
        statements = []

        def record(conn, cursor, statement, *args):
            statements.append(statement)

        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            page = posts.search_posts(session, team.workspace, query="number", platforms=["x"], limit=25)
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
    assert page.total == 30 and len(page.rows) == 25
    assert all(len(row.destinations) == 2 for row in page.rows)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2

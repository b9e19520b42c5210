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
    Platform,
    Post,
    PostDestination,
    PostStatus,
    Role,
    utcnow,
)
from postforge.services import posts, timefmt
from postforge.services.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.support.factories import make_membership, make_social_account, make_user, make_workspace


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request):
    return request.getfixturevalue(f"{request.param}_engine")


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

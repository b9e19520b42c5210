"""The calendar's reads and moves in the viewer's wall-clock time, right across DST changes.

Runs on SQLite and PostgreSQL. Posts must lie in the future to be scheduled, so the DST days
used are the next real ones after today (found from the zone's rules), whatever the date.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from postforge.models import Platform, Post, Role, utcnow
from postforge.services.content import calendar, posts
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import Conflict, PermissionDenied, ValidationFailed
from postforge.state.calendar import proposed_start
from tests.support.factories import make_membership, make_social_account, make_user, make_workspace

ZONES = ("America/New_York", "Europe/Berlin")


@dataclass
class Team:
    editor: int
    viewer: int
    workspace: int
    other: int
    sandbox: int
    mastodon: int
    second_sandbox: int
    other_account: int
    stranger: int  # admin of the other workspace


@pytest.fixture
def team(engine) -> Team:
    with Session(engine) as session:
        editor, viewer, stranger = (make_user(session, name=n) for n in ("Ed", "Vi", "St"))
        workspace, other = make_workspace(session, name="Team"), make_workspace(session, name="Other")
        make_membership(session, workspace, editor, role=Role.EDITOR)
        make_membership(session, workspace, viewer, role=Role.VIEWER)
        make_membership(session, other, stranger, role=Role.ADMIN)
        sandbox = make_social_account(session, workspace, platform=Platform.SANDBOX, handle="@one")
        mastodon = make_social_account(session, workspace, platform=Platform.MASTODON, handle="@m")
        second = make_social_account(session, workspace, platform=Platform.SANDBOX, handle="@two")
        foreign = make_social_account(session, other, handle="@other")
        session.commit()
        return Team(
            editor.id,
            viewer.id,
            workspace.id,
            other.id,
            sandbox.id,
            mastodon.id,
            second.id,
            foreign.id,
            stranger.id,
        )


def dst_change(zone: str, *, spring: bool, after: date | None = None) -> date:
    """The next day after `after` (default: in two days) on which `zone` springs forward / falls back."""
    tz = timefmt.zone(zone)
    day = after or (utcnow().date() + timedelta(days=2))
    for _ in range(800):
        before = datetime(day.year, day.month, day.day, tzinfo=tz).utcoffset()
        later = datetime(day.year, day.month, day.day, 12, tzinfo=tz).utcoffset()
        if before != later and (later > before) == spring:
            return day
        day += timedelta(days=1)
    raise AssertionError(f"{zone} has no DST change")


def _schedule(engine, team: Team, local: str, zone: str, *, content: str = "A post", accounts=None) -> int:
    with Session(engine) as session:
        view = posts.create_post(
            session,
            actor_id=team.editor,
            workspace_id=team.workspace,
            content=content,
            scheduled_at=timefmt.to_utc(timefmt.parse_local(local), zone),
            timezone=zone,
            account_ids=accounts or [team.sandbox],
        )
        session.commit()
        return view.id


def _events(engine, team: Team, start: str, end: str, zone: str, workspace: int | None = None):
    with Session(engine) as session:
        return calendar.month_events(
            session, workspace or team.workspace, start_local=start, end_local=end, timezone=zone
        )


def _move(engine, team: Team, post_id: int, local: str, zone: str, version: int | None = None):
    with Session(engine) as session:
        if version is None:
            version = session.get(Post, post_id).version
        result = calendar.move_post(
            session,
            actor_id=team.editor,
            workspace_id=team.workspace,
            post_id=post_id,
            new_local_start=local,
            timezone=zone,
            expected_version=version,
        )
        session.commit()
        return result


def _stored(engine, post_id: int) -> Post:
    with Session(engine) as session:
        return session.get(Post, post_id)


def _future_day(days: int = 10) -> date:
    return utcnow().date() + timedelta(days=days)


# --- Reading a range -----------------------------------------------------------------------------


def test_a_range_lists_its_posts_in_the_viewers_zone(engine, team):
    zone = "Europe/Berlin"
    day = _future_day()
    first = _schedule(engine, team, f"{day}T00:00", zone, content="Midnight post\nsecond line")
    late = _schedule(engine, team, f"{day + timedelta(days=6)}T23:30", zone, content="x" * 200)
    _schedule(engine, team, f"{day + timedelta(days=7)}T00:00", zone)  # the end is exclusive
    _schedule(engine, team, f"{day - timedelta(days=1)}T23:59", zone)  # before the start
    both = _schedule(
        engine,
        team,
        f"{day + timedelta(days=2)}T09:00",
        zone,
        accounts=[team.sandbox, team.mastodon, team.second_sandbox],
    )

    events = _events(engine, team, f"{day}T00:00:00", f"{day + timedelta(days=7)}T00:00:00", zone)

    assert [e["id"] for e in events] == [first, both, late]
    assert events[0]["start"] == f"{day}T00:00:00"
    assert events[0]["title"] == "Midnight post"
    assert events[2]["start"] == f"{day + timedelta(days=6)}T23:30:00"
    assert len(events[2]["title"]) == calendar.TITLE_CHARS and events[2]["title"].endswith("…")
    assert events[1]["platforms"] == ["mastodon", "sandbox"]  # distinct, sorted
    assert {e["status"] for e in events} == {"scheduled"}
    assert all(e["version"] >= 1 and e["tz"] in ("CET", "CEST") for e in events)


def test_the_same_range_in_another_zone_shows_other_wall_clock_times(engine, team):
    day = _future_day()
    _schedule(engine, team, f"{day}T09:00", "Europe/Berlin")
    berlin = _events(engine, team, f"{day}T00:00:00", f"{day + timedelta(days=1)}T00:00:00", "Europe/Berlin")
    tokyo = _events(engine, team, f"{day}T00:00:00", f"{day + timedelta(days=1)}T00:00:00", "Asia/Tokyo")
    assert berlin[0]["start"] == f"{day}T09:00:00"
    assert tokyo[0]["start"] in (f"{day}T16:00:00", f"{day}T17:00:00")  # UTC+9 vs CET/CEST


def test_deleted_unscheduled_and_foreign_posts_are_not_shown(engine, team):
    day = _future_day()
    gone = _schedule(engine, team, f"{day}T10:00", "UTC")
    with Session(engine) as session:
        posts.create_post(session, actor_id=team.editor, workspace_id=team.workspace, content="A draft")
        posts.delete_post(
            session,
            actor_id=team.editor,
            workspace_id=team.workspace,
            post_id=gone,
            expected_version=session.get(Post, gone).version,
        )
        posts.create_post(
            session,
            actor_id=team.stranger,
            workspace_id=team.other,
            content="Someone else's",
            scheduled_at=timefmt.to_utc(timefmt.parse_local(f"{day}T11:00"), "UTC"),
            account_ids=[team.other_account],
        )
        session.commit()
    assert _events(engine, team, f"{day}T00:00", f"{day + timedelta(days=1)}T00:00", "UTC") == []
    assert (
        len(_events(engine, team, f"{day}T00:00", f"{day + timedelta(days=1)}T00:00", "UTC", team.other)) == 1
    )


def test_a_range_is_read_with_one_query(engine, team):
    day = _future_day()
    for hour in range(10, 20):
        _schedule(engine, team, f"{day}T{hour}:00", "UTC", accounts=[team.sandbox, team.mastodon])
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        events = _events(engine, team, f"{day}T00:00", f"{day + timedelta(days=1)}T00:00", "UTC")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(events) == 10
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


@pytest.mark.parametrize(
    ("start", "end", "zone", "message"),
    [
        ("2026-01-10T00:00", "2026-01-10T00:00", "UTC", "must come after"),
        ("2026-01-01T00:00", "2026-04-01T00:00", "UTC", "at most 62 days"),
        ("2026-01-01T00:00", "2026-01-08T00:00", "Mars/Olympus", "Unknown time zone"),
        ("last week", "2026-01-08T00:00", "UTC", "not a date and time"),
    ],
)
def test_bad_ranges_are_refused(engine, team, start, end, zone, message):
    with pytest.raises(ValidationFailed, match=message):
        _events(engine, team, start, end, zone)


def test_the_two_0130s_of_a_fall_back_night_are_told_apart(engine, team):
    zone = "America/New_York"
    day = dst_change(zone, spring=False)
    first = _schedule(engine, team, f"{day}T01:30", zone)  # the first 01:30 (EDT)
    second = _schedule(engine, team, f"{day}T00:00", zone)
    with Session(engine) as session:  # move the second post to the second 01:30 (EST), one hour later
        instant = timefmt.to_utc(timefmt.parse_local(f"{day}T01:30"), zone) + timedelta(hours=1)
        posts.reschedule(
            session,
            actor_id=team.editor,
            workspace_id=team.workspace,
            post_id=second,
            scheduled_at=instant,
            expected_version=session.get(Post, second).version,
        )
        session.commit()
    events = {
        e["id"]: e for e in _events(engine, team, f"{day}T00:00", f"{day + timedelta(days=1)}T00:00", zone)
    }
    assert events[first]["start"] == events[second]["start"] == f"{day}T01:30:00"
    assert (events[first]["tz"], events[second]["tz"]) == ("EDT", "EST")


# --- Moving --------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("spring", [True, False], ids=["spring-forward", "fall-back"])
def test_a_move_across_days_over_a_dst_change_keeps_the_time_of_day(engine, team, zone, spring):
    change = dst_change(zone, spring=spring)
    before, after = change - timedelta(days=1), change + timedelta(days=1)
    post_id = _schedule(engine, team, f"{before}T09:00", zone)
    old = _stored(engine, post_id).scheduled_at

    result = _move(engine, team, post_id, f"{after}T09:00:00", zone)

    assert result.local_start == f"{after}T09:00:00"
    assert "09:00" in result.label
    assert result.scheduled_at == timefmt.shift_days_keeping_wall_time(old, 2, zone)
    # Two wall-clock days are 47 real hours over spring forward, 49 over fall back.
    assert result.scheduled_at - old == timedelta(hours=47 if spring else 49)
    assert _stored(engine, post_id).scheduled_at == result.scheduled_at
    assert result.event["start"] == f"{after}T09:00:00" and result.event["version"] == result.version


@pytest.mark.parametrize("zone", ZONES)
def test_a_0230_post_dropped_on_a_spring_forward_day_is_refused_and_stays(engine, team, zone):
    change = dst_change(zone, spring=True)
    post_id = _schedule(engine, team, f"{change - timedelta(days=1)}T02:30", zone)
    stored = _stored(engine, post_id)

    with pytest.raises(ValidationFailed, match="does not exist") as refusal:
        _move(engine, team, post_id, f"{change}T02:30:00", zone)

    assert "skip" in refusal.value.message
    after = _stored(engine, post_id)
    assert (after.scheduled_at, after.version) == (stored.scheduled_at, stored.version)


@pytest.mark.parametrize("zone", ZONES)
def test_a_0230_post_moved_off_a_spring_forward_day_keeps_0230(engine, team, zone):
    # A post set at 02:30 on the day *after* the change (it exists then) moves back a week fine.
    change = dst_change(zone, spring=True)
    post_id = _schedule(engine, team, f"{change + timedelta(days=1)}T02:30", zone)
    result = _move(engine, team, post_id, f"{change + timedelta(days=8)}T02:30:00", zone)
    assert result.scheduled_at.astimezone(timefmt.zone(zone)).strftime("%H:%M") == "02:30"


@pytest.mark.parametrize(
    ("zone", "at"), [("America/New_York", "01:30"), ("Europe/Berlin", "01:30"), ("Europe/Berlin", "02:30")]
)
def test_a_drop_on_a_fall_back_night_means_the_first_occurrence(engine, team, zone, at):
    change = dst_change(zone, spring=False)
    post_id = _schedule(engine, team, f"{change - timedelta(days=1)}T{at}", zone)

    result = _move(engine, team, post_id, f"{change}T{at}:00", zone)

    local = result.scheduled_at.astimezone(timefmt.zone(zone))
    assert local.strftime("%Y-%m-%d %H:%M") == f"{change} {at}"
    assert local.dst() != timedelta(0), "still summer time: the first of the two"
    assert result.scheduled_at == timefmt.to_utc(timefmt.parse_local(f"{change}T{at}"), zone)


def test_a_post_at_the_second_0130_moved_a_day_later_keeps_0130(engine, team):
    zone = "America/New_York"
    change = dst_change(zone, spring=False)
    post_id = _schedule(engine, team, f"{change}T00:15", zone)
    with Session(engine) as session:  # to the second 01:30 (EST)
        second = timefmt.to_utc(timefmt.parse_local(f"{change}T01:30"), zone) + timedelta(hours=1)
        posts.reschedule(
            session,
            actor_id=team.editor,
            workspace_id=team.workspace,
            post_id=post_id,
            scheduled_at=second,
            expected_version=session.get(Post, post_id).version,
        )
        session.commit()

    result = _move(engine, team, post_id, f"{change + timedelta(days=1)}T01:30:00", zone)

    assert result.scheduled_at - second == timedelta(days=1)
    assert result.label.endswith("01:30 EST")


def test_a_drop_on_a_past_day_is_refused_and_nothing_changes(engine, team):
    zone = "Europe/Berlin"
    post_id = _schedule(engine, team, f"{_future_day(3)}T10:00", zone)
    stored = _stored(engine, post_id)
    yesterday = timefmt.to_local(utcnow(), zone).date() - timedelta(days=1)
    with pytest.raises(ValidationFailed, match="already passed"):
        _move(engine, team, post_id, f"{yesterday}T10:00:00", zone)
    assert _stored(engine, post_id).scheduled_at == stored.scheduled_at


def test_a_move_with_a_stale_version_is_refused(engine, team):
    post_id = _schedule(engine, team, f"{_future_day(3)}T10:00", "UTC")
    version = _stored(engine, post_id).version
    _move(engine, team, post_id, f"{_future_day(4)}T10:00", "UTC", version)
    with pytest.raises(Conflict):
        _move(engine, team, post_id, f"{_future_day(5)}T10:00", "UTC", version)
    assert _stored(engine, post_id).scheduled_at.date() == _future_day(4)


def test_a_viewer_cannot_move_and_a_bad_time_is_refused(engine, team):
    post_id = _schedule(engine, team, f"{_future_day(3)}T10:00", "UTC")
    with Session(engine) as session, pytest.raises(PermissionDenied):
        calendar.move_post(
            session,
            actor_id=team.viewer,
            workspace_id=team.workspace,
            post_id=post_id,
            new_local_start=f"{_future_day(4)}T10:00",
            timezone="UTC",
            expected_version=1,
        )
    with pytest.raises(ValidationFailed, match="not a date and time"):
        _move(engine, team, post_id, "next tuesday", "UTC")
    with Session(engine) as session:
        assert session.exec(select(Post).where(Post.id == post_id)).one().scheduled_at.date() == _future_day(
            3
        )


# --- What a click proposes -----------------------------------------------------------------------


NOW = datetime(2026, 6, 10, 12, 20, tzinfo=UTC)  # 14:20 in Berlin


@pytest.mark.parametrize(
    ("clicked", "all_day", "expected"),
    [
        ("2026-06-12T00:00:00", True, "2026-06-12T09:00"),  # a later day: 09:00
        ("2026-06-10T00:00:00", True, "2026-06-10T15:00"),  # today: the next full hour
        ("2026-06-09T00:00:00", True, None),  # yesterday
        ("2026-06-10T16:30:00", False, "2026-06-10T16:30"),  # a time slot: that time
        ("2026-06-10T14:00:00", False, None),  # a slot that has begun
        ("garbage", False, None),
    ],
)
def test_a_click_proposes_a_start(clicked, all_day, expected):
    assert proposed_start(clicked, all_day, "Europe/Berlin", now=NOW) == expected


def test_a_click_late_in_the_day_proposes_nothing_for_today():
    late = datetime(2026, 6, 10, 22, 30, tzinfo=UTC)  # 00:30 next day in Berlin; today there is 06-11
    assert proposed_start("2026-06-11T00:00:00", True, "Europe/Berlin", now=late) == "2026-06-11T09:00"
    very_late = datetime(2026, 6, 11, 21, 30, tzinfo=UTC)  # 23:30 on 06-11 in Berlin
    assert proposed_start("2026-06-11T00:00:00", True, "Europe/Berlin", now=very_late) is None

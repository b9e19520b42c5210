"""Posting slots: the weekly schedule's rules and the next free slot, right across DST changes."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from postforge.models import PostingSlot, PostStatus, Role
from postforge.services.content import slots
from postforge.services.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.support.factories import make_membership, make_post, make_user, make_workspace


@dataclass
class World:
    workspace: int
    other: int
    editor: int
    viewer: int


def _world(engine, timezone: str = "Europe/Berlin") -> World:
    with Session(engine) as session:
        editor, viewer, stranger = (make_user(session, name=n) for n in ("Ed", "Vi", "St"))
        workspace = make_workspace(session, timezone=timezone)
        other = make_workspace(session, timezone=timezone)
        make_membership(session, workspace, editor, role=Role.EDITOR)
        make_membership(session, workspace, viewer, role=Role.VIEWER)
        make_membership(session, other, stranger, role=Role.ADMIN)
        session.commit()
        return World(workspace.id, other.id, editor.id, viewer.id)


@pytest.fixture
def world(engine) -> World:
    return _world(engine)


def _clock(monkeypatch, now: datetime) -> None:
    monkeypatch.setattr(slots, "utcnow", lambda: now)


def _add(engine, world: World, weekdays, at: str, *, workspace: int | None = None):
    with Session(engine) as session:
        result = slots.add_slots(
            session,
            actor_id=world.editor,
            workspace_id=workspace or world.workspace,
            weekdays=weekdays,
            local_time=at,
        )
        session.commit()
        return result


def _next(engine, world: World, after: datetime | None = None) -> datetime | None:
    with Session(engine) as session:
        return slots.next_free_slot(session, actor_id=world.editor, workspace_id=world.workspace, after=after)


def _schedule_post(engine, world: World, at: datetime, status: PostStatus = PostStatus.SCHEDULED) -> None:
    with Session(engine) as session:
        from postforge.models import Workspace

        make_post(session, session.get(Workspace, world.workspace), status=status, scheduled_at=at)
        session.commit()


# --- The schedule --------------------------------------------------------------------------------


def test_weekday_times_are_listed_monday_first_then_by_time(engine, world):
    _add(engine, world, [0, 1, 2, 3, 4], "17:00")
    listed = _add(engine, world, ["Mon", "tue", "Wednesday", 3, "4"], "09:00")
    assert [s.label for s in listed] == [
        f"{day} {at}" for day in ("Mon", "Tue", "Wed", "Thu", "Fri") for at in ("09:00", "17:00")
    ]
    with Session(engine) as session:
        assert slots.list_slots(session, actor_id=world.viewer, workspace_id=world.workspace) == listed


def test_a_duplicate_is_refused_by_name_and_nothing_is_added(engine, world):
    _add(engine, world, [0], "09:00")
    with pytest.raises(Conflict, match="Already in the schedule: Mon 09:00"):
        _add(engine, world, [0, 1, 2], "09:00")
    with Session(engine) as session:
        assert [
            s.label for s in slots.list_slots(session, actor_id=world.editor, workspace_id=world.workspace)
        ] == ["Mon 09:00"]


@pytest.mark.parametrize(
    ("weekdays", "at", "field"),
    [
        ([7], "09:00", "weekday"),
        ([-1], "09:00", "weekday"),
        (["Funday"], "09:00", "weekday"),
        ([], "09:00", "weekdays"),
        ([0], "9am", "local_time"),
        ([0], "24:00", "local_time"),
        ([0], "", "local_time"),
        ([0], "09:60", "local_time"),
    ],
)
def test_bad_input_gets_a_clear_error(engine, world, weekdays, at, field):
    with pytest.raises(ValidationFailed) as refusal:
        _add(engine, world, weekdays, at)
    assert refusal.value.field == field
    assert refusal.value.message


def test_a_schedule_holds_at_most_fifty_slots(engine, world):
    for hour in range(7):
        _add(engine, world, range(7), f"{hour:02d}:00")  # 49 slots
    _add(engine, world, [0], "07:00")
    with pytest.raises(ValidationFailed, match="at most 50"):
        _add(engine, world, [1], "07:00")


def test_a_viewer_cannot_change_the_schedule(engine, world):
    _add(engine, world, [0], "09:00")
    with Session(engine) as session:
        slot_id = slots.list_slots(session, actor_id=world.viewer, workspace_id=world.workspace)[0].id
        with pytest.raises(PermissionDenied):
            slots.add_slots(
                session, actor_id=world.viewer, workspace_id=world.workspace, weekdays=[1], local_time="09:00"
            )
        with pytest.raises(PermissionDenied):
            slots.remove_slot(session, actor_id=world.viewer, workspace_id=world.workspace, slot_id=slot_id)
        with pytest.raises(PermissionDenied):
            slots.replace_slots(session, actor_id=world.viewer, workspace_id=world.workspace, slots=[])
        assert len(session.exec(select(PostingSlot)).all()) == 1


def test_removing_a_slot_of_another_workspace_is_not_found(engine, world):
    with Session(engine) as session:
        stranger_slot = PostingSlot(workspace_id=world.other, weekday=0, local_time=slots.parse_time("09:00"))
        session.add(stranger_slot)
        session.commit()
        with pytest.raises(NotFound):
            slots.remove_slot(
                session, actor_id=world.editor, workspace_id=world.workspace, slot_id=stranger_slot.id
            )
        session.rollback()
        assert session.get(PostingSlot, stranger_slot.id) is not None


def test_remove_and_replace(engine, world):
    listed = _add(engine, world, [0, 1], "09:00")
    with Session(engine) as session:
        after = slots.remove_slot(
            session, actor_id=world.editor, workspace_id=world.workspace, slot_id=listed[0].id
        )
        assert [s.label for s in after] == ["Tue 09:00"]
        replaced = slots.replace_slots(
            session,
            actor_id=world.editor,
            workspace_id=world.workspace,
            slots=[(1, "09:00"), (4, "17:30"), ("Sat", "10:15")],
        )
        assert [s.label for s in replaced] == ["Tue 09:00", "Fri 17:30", "Sat 10:15"]
        assert replaced[0].id == listed[1].id  # unchanged slots are kept, not recreated
        with pytest.raises(ValidationFailed, match="listed twice"):
            slots.replace_slots(
                session,
                actor_id=world.editor,
                workspace_id=world.workspace,
                slots=[(1, "09:00"), ("Tue", "09:00")],
            )
        session.commit()


# --- The next free slot --------------------------------------------------------------------------


def test_no_schedule_means_no_slot(engine, world):
    assert _next(engine, world) is None


def test_the_next_slot_is_in_the_workspace_zone_and_skips_taken_ones(engine, world, monkeypatch):
    # Wednesday 2026-06-10 12:00 UTC = 14:00 in Berlin (CEST, UTC+2).
    _clock(monkeypatch, datetime(2026, 6, 10, 12, 0, tzinfo=UTC))
    _add(engine, world, [0, 1, 2, 3, 4], "09:00")
    _add(engine, world, [0, 1, 2, 3, 4], "17:00")
    wednesday_17 = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
    assert _next(engine, world) == wednesday_17

    _schedule_post(engine, world, wednesday_17)
    _schedule_post(engine, world, datetime(2026, 6, 11, 7, 0, 30, tzinfo=UTC))  # same minute as Thu 09:00
    _schedule_post(engine, world, datetime(2026, 6, 11, 15, 0, tzinfo=UTC), PostStatus.CANCELLED)
    assert _next(engine, world) == datetime(2026, 6, 11, 15, 0, tzinfo=UTC), "a cancelled post frees its slot"

    # `after` searches from a later point; the weekend has no slots.
    assert _next(engine, world, after=datetime(2026, 6, 12, 15, 0, tzinfo=UTC)) == datetime(
        2026, 6, 15, 7, 0, tzinfo=UTC
    )


def test_a_slot_too_close_to_now_is_not_offered(engine, world, monkeypatch):
    _clock(monkeypatch, datetime(2026, 6, 10, 6, 58, tzinfo=UTC))  # 08:58 in Berlin
    _add(engine, world, [2], "09:00")
    assert _next(engine, world) == datetime(2026, 6, 17, 7, 0, tzinfo=UTC)


def test_a_fully_booked_schedule_has_no_free_slot_within_eight_weeks(engine, world, monkeypatch):
    start = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
    _clock(monkeypatch, start)
    _add(engine, world, [2], "15:00")
    for week in range(slots.SEARCH_WEEKS + 1):
        _schedule_post(engine, world, datetime(2026, 6, 10, 13, 0, tzinfo=UTC) + timedelta(weeks=week))
    assert _next(engine, world) is None


def test_another_workspaces_posts_do_not_take_our_slots(engine, world, monkeypatch):
    _clock(monkeypatch, datetime(2026, 6, 10, 12, 0, tzinfo=UTC))
    _add(engine, world, [2], "17:00")
    with Session(engine) as session:
        from postforge.models import Workspace

        other = session.get(Workspace, world.other)
        make_post(
            session, other, status=PostStatus.SCHEDULED, scheduled_at=datetime(2026, 6, 10, 15, tzinfo=UTC)
        )
        session.commit()
    assert _next(engine, world) == datetime(2026, 6, 10, 15, 0, tzinfo=UTC)


# DST: the spring-forward gap is 02:00-03:00 local in both zones; New York repeats 01:00-02:00
# on its fall-back day, Berlin repeats 02:00-03:00.
SPRING = {"America/New_York": datetime(2026, 3, 8), "Europe/Berlin": datetime(2026, 3, 29)}
FALL = {"America/New_York": datetime(2026, 11, 1), "Europe/Berlin": datetime(2026, 10, 25)}


@pytest.mark.parametrize("zone", sorted(SPRING))
def test_a_slot_the_clocks_skip_is_passed_over(engine, zone, monkeypatch):
    world = _world(engine, zone)
    day = SPRING[zone]  # a Sunday
    _clock(monkeypatch, day.replace(tzinfo=UTC) - timedelta(days=1))
    _add(engine, world, [6], "02:30")
    found = _next(engine, world)
    assert found is not None
    local = found.astimezone(slots.timefmt.zone(zone))
    assert (local.date(), local.hour, local.minute) == ((day + timedelta(days=7)).date(), 2, 30)


@pytest.mark.parametrize("zone", sorted(SPRING))
def test_a_slot_after_the_gap_keeps_its_wall_time(engine, zone, monkeypatch):
    world = _world(engine, zone)
    day = SPRING[zone]
    _clock(monkeypatch, day.replace(tzinfo=UTC) - timedelta(days=1))
    _add(engine, world, [5, 6], "09:00")  # Saturday before and Sunday of the change
    saturday = _next(engine, world)
    sunday = _next(engine, world, after=saturday)
    assert sunday - saturday == timedelta(hours=23)  # one wall-clock day, 23 real hours
    for found in (saturday, sunday):
        assert found.astimezone(slots.timefmt.zone(zone)).strftime("%H:%M") == "09:00"


@pytest.mark.parametrize(("zone", "at"), [("America/New_York", "01:30"), ("Europe/Berlin", "02:30")])
def test_a_repeated_slot_time_is_offered_once_its_first_occurrence(engine, zone, at, monkeypatch):
    world = _world(engine, zone)
    day = FALL[zone]  # a Sunday
    _clock(monkeypatch, day.replace(tzinfo=UTC) - timedelta(days=1))
    _add(engine, world, [6], at)
    first = _next(engine, world)
    tz = slots.timefmt.zone(zone)
    assert first.astimezone(tz).strftime("%Y-%m-%d %H:%M") == f"{day:%Y-%m-%d} {at}"
    assert first.astimezone(tz).dst() != timedelta(0), "the first occurrence is still summer time"

    _schedule_post(engine, world, first)
    following = _next(engine, world)
    # Not the second 01:30 an hour later the same night: the next week's.
    assert following.astimezone(tz).strftime("%Y-%m-%d %H:%M") == f"{day + timedelta(days=7):%Y-%m-%d} {at}"


@pytest.mark.parametrize("zone", sorted(FALL))
def test_a_0130_slot_on_the_fall_back_day(engine, zone, monkeypatch):
    world = _world(engine, zone)
    day = FALL[zone]
    _clock(monkeypatch, day.replace(tzinfo=UTC) - timedelta(days=1))
    _add(engine, world, [6], "01:30")
    found = _next(engine, world)
    expected = slots.timefmt.to_utc(day.replace(hour=1, minute=30), zone)
    assert found == expected
    assert found.astimezone(slots.timefmt.zone(zone)).strftime("%H:%M") == "01:30"

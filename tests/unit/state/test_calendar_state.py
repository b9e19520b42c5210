"""The calendar page through its Reflex states (no browser): ranges, drops, reverts, clicks, slots.

Event arguments are client-controlled, so these also check that a drop on another workspace's post
changes nothing, and that a refused drop puts the stored event back for the calendar to redraw.
"""

from datetime import timedelta

import pytest
import reflex as rx
from sqlmodel import Session, select

from postforge.db import get_engine
from postforge.models import Post, PostingSlot, Role, utcnow
from postforge.services.content import posts
from postforge.services.identity import accounts_auth
from postforge.services.kernel import timefmt
from postforge.state.calendar import CalendarState
from postforge.state.post_editor import PostEditorState
from postforge.state.shell import ShellState
from postforge.state.slots import SlotsState
from tests.support.factories import make_membership, make_social_account, make_user, make_workspace

ZONE = "America/New_York"


def _local(days: int, at: str = "09:00") -> str:
    return f"{timefmt.to_local(utcnow(), ZONE).date() + timedelta(days=days)}T{at}"


@pytest.fixture
def world(app_database):
    with Session(get_engine()) as session:
        alice = make_user(session, name="Alice", timezone=ZONE)
        victor = make_user(session, name="Victor", timezone=ZONE)
        bob = make_user(session, name="Bob")
        space_a = make_workspace(session, name="A", timezone=ZONE)
        space_b = make_workspace(session, name="B")
        make_membership(session, space_a, alice, role=Role.ADMIN)
        make_membership(session, space_a, victor, role=Role.VIEWER)
        make_membership(session, space_b, bob, role=Role.ADMIN)
        account = make_social_account(session, space_a, handle="@a")
        b_account = make_social_account(session, space_b, handle="@b")
        mine = posts.create_post(
            session,
            actor_id=alice.id,
            workspace_id=space_a.id,
            content="Launch day",
            scheduled_at=timefmt.to_utc(timefmt.parse_local(_local(3)), ZONE),
            timezone=ZONE,
            account_ids=[account.id],
        )
        secret = posts.create_post(
            session,
            actor_id=bob.id,
            workspace_id=space_b.id,
            content="Bob's secret",
            scheduled_at=timefmt.to_utc(timefmt.parse_local(_local(3)), ZONE),
            account_ids=[b_account.id],
        )
        tokens = {
            "Alice": accounts_auth.create_session(session, alice, workspace_id=space_a.id),
            "Victor": accounts_auth.create_session(session, victor, workspace_id=space_a.id),
        }
        session.commit()
        return {"tokens": tokens, "A": space_a.id, "mine": mine.id, "secret": secret.id}


async def _calendar(token: str) -> tuple[rx.State, CalendarState]:
    root = rx.State()
    shell = await root.get_state(ShellState)
    shell.session_token = token
    await shell.load_shell()
    calendar = await root.get_state(CalendarState)
    await calendar.load()
    await calendar.load_range(_local(-7, "00:00:00"), _local(35, "00:00:00"), "dayGridMonth")
    return root, calendar


def _toast(spec) -> str:
    return str(spec.args[0][1]) if spec is not None else ""


def _stored(post_id: int) -> Post:
    with Session(get_engine()) as session:
        return session.exec(select(Post).where(Post.id == post_id)).one()


async def test_the_visible_range_is_loaded_in_the_users_zone(world) -> None:
    _root, calendar = await _calendar(world["tokens"]["Alice"])
    assert calendar.zone == ZONE
    assert [e["id"] for e in calendar.events] == [world["mine"]]
    assert calendar.events[0]["start"] == _local(3) + ":00"
    assert calendar.count == 1

    await calendar.load_range(_local(10, "00:00:00"), _local(17, "00:00:00"), "timeGridWeek")
    assert calendar.events == [] and calendar.view == "timeGridWeek"


async def test_a_drop_moves_the_post_and_patches_only_that_event(world) -> None:
    _root, calendar = await _calendar(world["tokens"]["Alice"])
    event = dict(calendar.events[0])
    calendar.dirty_vars.clear()  # what the page already has

    toast = await calendar.move(str(event["id"]), _local(5), event["start"], event["version"])

    assert "Moved to" in _toast(toast) and "09:00" in _toast(toast)
    assert "events" not in calendar.dirty_vars, "the range is not re-sent"
    assert "patches" in calendar.dirty_vars
    patched = calendar.patches[str(event["id"])]
    assert patched["start"] == _local(5) + ":00" and patched["version"] == event["version"] + 1
    assert timefmt.to_local(_stored(event["id"]).scheduled_at, ZONE).strftime("%Y-%m-%dT%H:%M") == _local(5)
    assert calendar.revision == 0


async def test_a_refused_drop_reverts_with_the_reason(world) -> None:
    _root, calendar = await _calendar(world["tokens"]["Alice"])
    event = calendar.events[0]

    toast = await calendar.move(str(event["id"]), _local(-2), event["start"], event["version"])

    assert "already passed" in _toast(toast)
    assert calendar.revision == 1, "the calendar redraws"
    assert calendar.patches[str(event["id"])]["start"] == event["start"], "back at its stored time"
    assert _stored(event["id"]).version == event["version"]


async def test_a_stale_drop_shows_where_the_post_really_is(world) -> None:
    _root, calendar = await _calendar(world["tokens"]["Alice"])
    event = calendar.events[0]
    await calendar.move(str(event["id"]), _local(6), event["start"], event["version"])

    toast = await calendar.move(str(event["id"]), _local(8), event["start"], event["version"])  # old version

    assert _toast(toast), "an error toast"
    assert calendar.patches[str(event["id"])]["start"] == _local(6) + ":00"
    assert calendar.revision == 1


async def test_a_viewer_or_a_foreign_post_cannot_be_moved(world) -> None:
    _root, calendar = await _calendar(world["tokens"]["Victor"])
    event = calendar.events[0]
    await calendar.move(str(event["id"]), _local(5), event["start"], event["version"])
    assert _stored(event["id"]).version == event["version"]

    _root, calendar = await _calendar(world["tokens"]["Alice"])
    secret_before = _stored(world["secret"])
    await calendar.move(str(world["secret"]), _local(5), _local(3), 1)
    await calendar.move("not-a-number", _local(5), _local(3), 1)
    assert _stored(world["secret"]).scheduled_at == secret_before.scheduled_at
    assert str(world["secret"]) not in {str(e["id"]) for e in calendar.events}
    assert calendar.patches.get(str(world["secret"])) is None, "nothing of the other workspace is shown"


async def test_clicks_open_the_editor(world) -> None:
    root, calendar = await _calendar(world["tokens"]["Alice"])
    editor = await root.get_state(PostEditorState)

    spec = calendar.new_post_at(_local(4, "00:00:00"), True)
    assert spec.handler.fn.__name__ == "open_new" and spec.args[0][1].equals(
        rx.Var.create(_local(4, "09:00"))
    )
    await editor.open_new(_local(4, "09:00"))
    assert editor.is_open and editor.schedule_local == _local(4, "09:00")

    assert "passed" in _toast(calendar.new_post_at(_local(-3, "00:00:00"), True))
    spec = calendar.open_post(str(world["mine"]))
    assert spec.handler.fn.__name__ == "open_edit"


async def test_next_free_slot_fills_the_editor_in_the_users_zone(world) -> None:
    root, _calendar_state = await _calendar(world["tokens"]["Alice"])
    slots_state = await root.get_state(SlotsState)
    await slots_state.load()
    assert slots_state.total == 0
    slots_state.set_new_time("17:45")
    slots_state.toggle_day(5, True)
    slots_state.toggle_day(6, True)  # every day of the week now
    await slots_state.add()
    assert slots_state.total == 7 and slots_state.error == ""

    await slots_state.add()  # the same again: refused, the form keeps its values
    assert "Already in the schedule" in slots_state.error and slots_state.new_time == "17:45"

    editor = await root.get_state(PostEditorState)
    await editor.open_new("")
    await editor.fill_next_slot()
    assert editor.schedule_local.endswith("T17:45")
    found = timefmt.to_utc(timefmt.parse_local(editor.schedule_local), ZONE)
    assert utcnow() < found <= utcnow() + timedelta(days=1, minutes=5)

    with Session(get_engine()) as session:
        slot_id = session.exec(select(PostingSlot.id)).first()
    await slots_state.remove(slot_id)
    assert slots_state.total == 6


async def test_a_viewer_cannot_change_posting_slots(world) -> None:
    root, _calendar_state = await _calendar(world["tokens"]["Victor"])
    slots_state = await root.get_state(SlotsState)
    await slots_state.load()
    await slots_state.add()
    assert slots_state.error and slots_state.total == 0
    with Session(get_engine()) as session:
        assert session.exec(select(PostingSlot)).all() == []

"""The demo user's calendar story: start a post by clicking a day, drag it two days later (the time
of day stays), reload and find it there; drag it onto a past day and watch it come back with the
reason; open it by clicking; add posting slots and let the editor pick the next free one."""

import re
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from postforge import routes
from tests.e2e.conftest import sign_in

DEMO_ZONE = "Europe/Berlin"
POST_TIME = "00:30"  # early, so "today at this time" has passed too, should no earlier day be on screen


def _today() -> date:
    return datetime.now(ZoneInfo(DEMO_ZONE)).date()


def _cell(page, day: date):
    return page.locator(f"td.fc-daygrid-day[data-date='{day.isoformat()}']")


EVENT = ".fc-daygrid-event:not(.fc-event-dragging)"  # a drawn post, not the copy following the mouse


def _event(page, marker: str):
    return page.locator(EVENT, has_text=marker)


def _post_in(page, day: date, marker: str):
    return _cell(page, day).locator(EVENT, has_text=marker)


def _day_of(event) -> str:
    return event.locator("xpath=ancestor::td[@data-date]").get_attribute("data-date") or ""


def _drag(page, source, target) -> None:
    """Press, move in small steps (FullCalendar's interaction plugin needs real moves), release.

    Released only once FullCalendar highlights the target day as the drop place,
    so a busy machine cannot turn the gesture into a drop on the wrong day; a drag that did not
    start (the page was still busy) is tried again.
    """
    for _attempt in range(3):
        box, goal = source.bounding_box(), target.bounding_box()
        assert box and goal
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        gx, gy = goal["x"] + goal["width"] / 2, goal["y"] + goal["height"] * 0.7
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 6, y + 6, steps=3)
        page.mouse.move(gx, gy, steps=20)
        try:
            # FullCalendar highlights the day the post would land on.
            target.locator(".fc-highlight").first.wait_for(state="visible", timeout=5_000)
        except PlaywrightTimeout:
            page.mouse.move(x, y, steps=5)  # back where it came from: releasing there changes nothing
            page.mouse.up()
            continue
        page.mouse.up()
        return
    raise AssertionError("FullCalendar never picked the event up")


def _toast(page, text: str):
    return page.locator("[data-sonner-toast]", has_text=text)


def test_create_drag_reload_and_revert_in_month_view(page, running_app) -> None:
    page.goto(routes.SIGN_IN)
    sign_in(page, *running_app.demo_credentials())
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))
    page.goto(routes.CALENDAR)
    expect(page.locator("#calendar-zone")).to_have_text(DEMO_ZONE)
    expect(page.locator(".fc-dayGridMonth-view")).to_be_visible()

    # Click an empty future day: the editor opens with that day at 09:00 filled in.
    start_day = _today() + timedelta(days=2)
    cell = _cell(page, start_day)
    box = cell.bounding_box()
    assert box
    cell.click(position={"x": 6, "y": box["height"] - 6})  # below any events, away from the day link
    dialog = page.locator("#post-editor")
    expect(dialog).to_be_visible()
    expect(page.locator("#post-schedule")).to_have_value(f"{start_day}T09:00")
    marker = uuid.uuid4().hex[:8]
    page.locator("#post-content").fill(f"Calendar note {marker}")
    page.locator("#post-schedule").fill(f"{start_day}T{POST_TIME}")
    page.locator("#editor-schedule").click()
    expect(dialog).to_be_hidden()
    event = _event(page, marker)
    expect(event).to_be_visible()  # the calendar fetched again after the save
    assert _day_of(event) == start_day.isoformat()
    expect(event).to_contain_text(POST_TIME)

    # Drag it two days later: moved on the server, same time of day, said in a toast.
    target_day = start_day + timedelta(days=2)
    _drag(page, event, _cell(page, target_day))
    expect(_toast(page, "Moved to")).to_contain_text(f"{target_day:%d %b %Y}, {POST_TIME}", timeout=20_000)
    expect(_post_in(page, target_day, marker)).to_be_visible()

    # Reload: the calendar reads it back from the server on the new day, same time.
    page.reload()
    moved = _post_in(page, target_day, marker)
    expect(moved).to_be_visible()
    expect(moved).to_contain_text(POST_TIME)

    # Drag it onto a day that is over: refused with the reason, and it goes back.
    past = page.locator("td.fc-daygrid-day.fc-day-past")
    past_cell = past.last if past.count() else page.locator("td.fc-daygrid-day.fc-day-today")
    _drag(page, moved, past_cell)
    expect(_toast(page, "has already passed")).to_be_visible(timeout=20_000)
    expect(_post_in(page, target_day, marker)).to_be_visible()
    expect(past_cell.locator(EVENT, has_text=marker)).to_have_count(0)
    page.reload()
    expect(_post_in(page, target_day, marker)).to_contain_text(POST_TIME)

    # A click on the post opens it in the editor.
    _post_in(page, target_day, marker).click()
    expect(dialog).to_be_visible()
    expect(page.locator("#post-content")).to_have_value(f"Calendar note {marker}")
    expect(page.locator("#post-schedule")).to_have_value(f"{target_day}T{POST_TIME}")
    page.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()

    assert page.console_watch.errors == []


def test_posting_slots_feed_next_free_slot(page, running_app) -> None:
    page.goto(routes.SIGN_IN)
    sign_in(page, *running_app.demo_credentials())
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))
    page.goto(routes.CALENDAR)
    expect(page.get_by_role("heading", name="Posting slots")).to_be_visible()

    # Every day at 23:50: add, then adding the same again is refused by name.
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"):
        checkbox = page.get_by_role("checkbox", name=day, exact=True)
        if not checkbox.is_checked():
            checkbox.click()
        expect(checkbox).to_be_checked()
    page.locator("#slot-time").fill("23:50")
    page.locator("#add-slots").click()
    expect(page.locator(".posting-slot", has_text="23:50")).to_have_count(7)
    page.locator("#add-slots").click()
    expect(page.locator("#slot-error")).to_contain_text("Already in the schedule: Mon 23:50")

    # The editor's "Next free slot" fills the time with the first of them still free.
    page.locator("#new-post").click()
    expect(page.locator("#post-editor")).to_be_visible()
    page.locator("#editor-next-slot").click()
    expect(page.locator("#post-schedule")).to_have_value(re.compile(r"T23:50$"))
    page.get_by_role("button", name="Cancel").click()

    # Remove one slot with its button.
    page.get_by_role("button", name="Remove slot Sun 23:50").click()
    expect(page.locator(".posting-slot", has_text="23:50")).to_have_count(6)
    assert page.console_watch.errors == []


def test_phone_width_shows_the_list_and_nothing_overflows(browser, running_app) -> None:
    context = browser.new_context(base_url=running_app.url, viewport={"width": 375, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(routes.SIGN_IN)
        sign_in(page, *running_app.demo_credentials())
        expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))
        page.goto(routes.CALENDAR)
        expect(page.locator(".fc-listWeek-view")).to_be_visible()
        expect(page.get_by_role("button", name="Month")).to_be_visible()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    finally:
        context.close()
    assert errors == []

"""The publishing story, live: connect a sandbox account, open the calendar, schedule a post to
that account a few seconds ahead and, without reloading, watch it turn published when the worker
has sent it — with a toast, the bell counting up, and the post on the sandbox feed page."""

import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from postforge import routes
from tests.e2e.conftest import sign_in

DEMO_ZONE = "Europe/Berlin"
LEAD_SECONDS = 8  # far enough ahead that saving in the dialog never makes it "already passed"
LIVE_TIMEOUT_MS = 30_000  # due time + beat tick + worker publish + one live poll, on a busy machine


def _soon() -> str:
    """A wall-clock time a few seconds from now in the demo zone, to the second."""
    return (datetime.now(ZoneInfo(DEMO_ZONE)) + timedelta(seconds=LEAD_SECONDS)).strftime("%Y-%m-%dT%H:%M:%S")


def test_connect_the_sandbox_then_watch_a_post_turn_published_on_the_open_calendar(page, running_app) -> None:
    page.goto(routes.SIGN_IN)
    sign_in(page, *running_app.demo_credentials())
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))

    # Connect a sandbox account of our own.
    handle = f"@feed{uuid.uuid4().hex[:6]}"
    page.goto(routes.ACCOUNTS)
    page.get_by_role("button", name="Connect account").click()
    page.get_by_role("button", name="Connect a Sandbox account").click()
    page.get_by_label("Display name").fill("Launch feed")
    page.get_by_label("Handle").fill(handle)
    page.get_by_role("button", name="Connect sandbox account").click()
    card = page.locator(".account-card", has_text=handle)
    expect(card.locator(".account-status")).to_have_text("Connected")

    # Open the calendar (a full page load: the live poller must follow the tab) in the list view,
    # where every post of the week shows, none folded away.
    page.goto(routes.CALENDAR)
    expect(page.locator(".fc-dayGridMonth-view")).to_be_visible()
    page.get_by_role("button", name="List").click()
    expect(page.locator(".fc-listWeek-view")).to_be_visible()

    # Write a post to the new account only, due in a few seconds.
    marker = uuid.uuid4().hex[:8]
    page.locator("#new-post").click()
    dialog = page.locator("#post-editor")
    expect(dialog).to_be_visible()
    page.locator("#post-content").fill(f"Live {marker}: watch me go out")
    demo_box = page.get_by_role("checkbox", name=re.compile("@demo"))
    own_box = page.get_by_role("checkbox", name=re.compile(re.escape(handle)))
    own_box.click()
    expect(own_box).to_be_checked()
    if demo_box.is_checked():
        demo_box.click()
    expect(demo_box).not_to_be_checked()
    page.locator("#post-schedule").fill(_soon())
    page.locator("#editor-schedule").click()
    expect(dialog).to_be_hidden()

    event = page.locator(".fc-list-event", has_text=marker)
    expect(event).to_have_class(re.compile(r"pf-status-scheduled"))

    # No reload from here on: the worker publishes, the live poller tells this tab.
    toast = page.locator("[data-sonner-toast]", has_text=f"Published to {handle}")
    expect(toast).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(toast).to_contain_text(marker)
    expect(event).to_have_class(re.compile(r"pf-status-published"), timeout=5_000)
    expect(page.locator("#notification-unread")).to_be_visible()

    # The bell lists it, linking to the post; the sandbox feed shows the post itself.
    page.locator("#notification-bell").click()
    expect(page.locator("#notification-list .notification-item", has_text=marker).first).to_be_visible()
    page.keyboard.press("Escape")
    page.goto(routes.SANDBOX)
    expect(page.locator(".sandbox-post", has_text=marker)).to_be_visible()
    assert page.console_watch.errors == []

"""First visits: the landing page, the sign-in wall, the demo workspace's dashboard and the nav."""

import re
import time

import httpx
from playwright.sync_api import expect

from postforge import routes
from tests.e2e.conftest import sign_in


def test_landing_page_is_public(page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Schedule everywhere")
    assert page.console_watch.errors == []


def test_signed_out_visit_comes_back_to_the_page_asked_for(page, running_app) -> None:
    page.goto(routes.POSTS)
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fposts$"))
    sign_in(page, *running_app.demo_credentials())
    expect(page).to_have_url(re.compile(routes.POSTS + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Posts")
    assert page.console_watch.errors == []


def test_demo_dashboard_has_real_figures_and_every_nav_item_works(page, running_app) -> None:
    page.goto(routes.SIGN_IN)
    sign_in(page, *running_app.demo_credentials())
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))
    # Figures come from the seeded demo workspace: its welcome credits (less what other journeys in
    # this session spent on the shared demo user) and its example posts.
    expect(page.locator("#workspace-name")).to_have_text("Demo workspace")
    balance = page.locator("#credit-balance").inner_text()
    assert balance.isdigit()
    expect(page.locator("#stat-credits")).to_have_text(balance)
    expect(page.locator("#stat-total-posts")).not_to_have_text("0")

    nav = page.get_by_role("navigation", name="Main")
    for label, route, _icon in routes.NAV_ITEMS:  # the demo user is a site admin: Admin shows too
        nav.get_by_role("link", name=label).click()
        expect(page).to_have_url(re.compile(re.escape(route) + "$"))
        expect(page.get_by_role("heading", level=1)).to_have_text(label)

    # The admin page (last in the menu) reports publishing: the health row and the backlog figures.
    expect(page.locator("#admin-publishing")).to_contain_text("Being published")
    expect(page.get_by_role("cell", name="Publishing", exact=True)).to_be_visible()
    assert page.console_watch.errors == []


def test_mobile_width_has_menu_instead_of_sidebar(browser, running_app) -> None:
    context = browser.new_context(base_url=running_app.url, viewport={"width": 375, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(routes.SIGN_IN)
    sign_in(page, *running_app.demo_credentials())
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    page.get_by_role("button", name="Open menu").click()
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Posts").click()
    expect(page).to_have_url(re.compile(routes.POSTS + "$"))
    context.close()
    assert errors == []


def test_health_reports_worker_alive(running_app) -> None:
    deadline = time.monotonic() + 120
    body: dict = {}
    while time.monotonic() < deadline:
        response = httpx.get(running_app.url + routes.API_HEALTH, timeout=5)
        body = response.json()
        if response.status_code == 200:
            break
        time.sleep(1)
    assert body.get("status") == "ok", f"health never became ok: {body}\n{running_app.log_tail()}"
    assert body["worker"]["ok"] is True
    assert body["publishing"]["ok"] is True, body["publishing"]
    assert body["database"]["ok"] is True


def test_signing_out_everywhere_ends_an_open_tab_at_once(browser, running_app) -> None:
    """A revoked session stops working in every tab: the open one is sent to sign in by itself."""
    contexts = [browser.new_context(base_url=running_app.url) for _ in range(2)]
    try:
        open_tab, other = (context.new_page() for context in contexts)
        for tab in (open_tab, other):
            tab.set_default_timeout(30_000)
            tab.goto(routes.SIGN_IN)
            sign_in(tab, *running_app.demo_credentials())
            expect(tab).to_have_url(re.compile(routes.DASHBOARD + "$"))
        open_tab.goto(routes.CALENDAR)
        expect(open_tab.get_by_role("heading", level=1)).to_have_text("Calendar")

        other.goto(routes.SETTINGS)
        other.get_by_role("button", name="Sign out everywhere").click()
        expect(other).to_have_url(re.compile(routes.SIGN_IN))

        # Nobody touches the open tab: its own live poller finds the session gone.
        expect(open_tab).to_have_url(re.compile(r"/sign-in\?next=%2Fcalendar$"), timeout=15_000)
        open_tab.goto(routes.POSTS)
        expect(open_tab).to_have_url(re.compile(r"/sign-in\?next=%2Fposts$"))
    finally:
        for context in contexts:
            context.close()

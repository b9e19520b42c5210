"""The first visit: landing page, dashboard with real figures, every nav link, no console error."""

import re
import time

import httpx
from playwright.sync_api import expect

from postforge import routes


def test_landing_then_dashboard_then_every_nav_item(page, running_app) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Schedule everywhere")

    page.get_by_role("link", name="Go to the dashboard").click()
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))
    # Figures come from the seeded demo workspace: 10 welcome credits, its example posts.
    expect(page.locator("#workspace-name")).to_have_text("Demo workspace")
    expect(page.locator("#credit-balance")).to_have_text("10")
    expect(page.locator("#stat-total-posts")).not_to_have_text("0")

    nav = page.get_by_role("navigation", name="Main")
    for label, route, _icon in routes.NAV_ITEMS:
        nav.get_by_role("link", name=label).click()
        expect(page).to_have_url(re.compile(re.escape(route) + "$"))
        expect(page.get_by_role("heading", level=1)).to_have_text(label)

    assert page.console_watch.errors == []


def test_mobile_width_has_menu_instead_of_sidebar(browser, running_app) -> None:
    context = browser.new_context(base_url=running_app.url, viewport={"width": 375, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(routes.DASHBOARD)
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    page.get_by_role("button", name="Open menu").click()
    page.get_by_role("link", name="Posts").click()
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
    assert body["database"]["ok"] is True

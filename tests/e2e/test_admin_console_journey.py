"""The admin console in a browser: the demo admin finds a new member, adjusts their workspace's credits
with a reason, sees it in the audit log (and the member sees the new balance), then suspends the
member, whose open tab is signed out and whose next sign-in is refused with a clear message. The
admin also retries a failed publish from the console and watches it reach the sandbox feed.

A member reaching the console meets the not-found page.
"""

import re
import sqlite3
import time
import uuid
from datetime import UTC, datetime

from playwright.sync_api import expect

from postforge import routes
from postforge.services.identity.onboarding import WELCOME_BONUS_CREDITS
from tests.e2e.conftest import register_and_confirm, sign_in

PASSWORD = "correct horse battery staple 42"


def test_an_admin_adjusts_credits_and_suspends_a_member(browser, running_app, page) -> None:
    # The member: a fresh account, signed in in a browser of their own, tab left open.
    member = browser.new_context(base_url=running_app.url, viewport={"width": 1440, "height": 900})
    tab = member.new_page()
    tab.set_default_timeout(30_000)
    email = f"grace-{uuid.uuid4().hex[:8]}@example.org"
    register_and_confirm(tab, running_app, name="Grace Hopper", email=email, password=PASSWORD)
    expect(tab.locator("#credit-balance")).to_have_text(str(WELCOME_BONUS_CREDITS))

    # A member reaching the console gets the not-found page and nothing of it.
    tab.goto(routes.ADMIN_USERS)
    expect(tab.get_by_text("404: Page not found")).to_be_visible()
    expect(tab.locator("#user-results")).to_have_count(0)
    tab.goto(routes.DASHBOARD)

    # The admin finds the member ...
    page.goto(routes.SIGN_IN)
    sign_in(page, *running_app.demo_credentials())
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))
    page.goto(routes.ADMIN)
    page.get_by_role("navigation", name="Admin console").get_by_role("link", name="Users").click()
    expect(page).to_have_url(re.compile(routes.ADMIN_USERS + "$"))
    page.locator("#user-search-query").fill("GRACE-" + email.split("-")[1].split("@")[0])
    page.get_by_role("button", name="Search").click()
    results = page.locator("#user-results")
    expect(results.get_by_role("link")).to_have_count(1)
    results.get_by_role("link", name=email).click()
    expect(page.locator("#user-email")).to_have_text(email)
    expect(page.locator("#user-sessions")).to_be_visible()
    user_page = page.url

    # ... adjusts the credits of their workspace, with a reason (a missing reason is refused first) ...
    page.get_by_role("link", name="Grace's workspace").click()
    expect(page.locator("#console-workspace-name")).to_have_text("Grace's workspace")
    page.locator("#open-adjust").click()
    page.locator("#adjust-amount").fill("+15")
    page.locator("#confirm-adjust").click()
    expect(page.get_by_role("dialog").locator(".console-error")).to_contain_text("Say why")
    expect(page.locator("#adjust-amount")).to_have_value("+15")  # nothing typed is lost
    page.locator("#adjust-reason").fill("Launch week goodwill")
    page.locator("#confirm-adjust").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    balance = WELCOME_BONUS_CREDITS + 15
    expect(page.locator("#workspace-ledger")).to_contain_text("Adjustment: Launch week goodwill")
    expect(page.locator("#workspace-ledger")).to_contain_text(str(balance))

    # ... and the audit log shows who did what, from before to after.
    page.get_by_role("navigation", name="Admin console").get_by_role("link", name="Audit log").click()
    entries = page.locator("#audit-entries")
    expect(entries).to_contain_text("Adjusted credits")
    expect(entries).to_contain_text(f"credits: {WELCOME_BONUS_CREDITS} → {balance}")
    expect(entries).to_contain_text("Launch week goodwill")

    # The member sees the new balance.
    tab.reload()
    expect(tab.locator("#credit-balance")).to_have_text(str(balance))

    # Suspension ends the member's sessions: their open tab is signed out by itself.
    page.goto(user_page)
    expect(page.locator("#user-email")).to_have_text(email)
    page.locator("#open-suspend").click()
    page.locator("#user-action-reason").fill("Payment dispute")
    page.locator("#confirm-suspend").click()
    expect(page.locator("#user-suspended")).to_be_visible()
    expect(page.locator("#no-sessions")).to_be_visible()
    expect(tab).to_have_url(re.compile(r"/sign-in\?next="), timeout=30_000)

    # Signing in again is refused with a message that says why.
    sign_in(tab, email, PASSWORD)
    expect(tab.locator("#form-error")).to_contain_text("suspended")

    page.get_by_role("navigation", name="Admin console").get_by_role("link", name="Audit log").click()
    expect(page.locator("#audit-entries")).to_contain_text("Suspended the account")
    assert page.console_watch.errors == []
    member.close()


def _failed_publish(running_app, content: str) -> None:
    """A publish that failed on the demo's sandbox account, as the worker would have left it."""
    with sqlite3.connect(running_app.data_dir / "postforge.db", timeout=30) as db:
        account_id, workspace_id = db.execute(
            "SELECT id, workspace_id FROM social_accounts WHERE platform = 'sandbox' AND status = 'connected' "
            "ORDER BY id LIMIT 1"
        ).fetchone()
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        post_id = db.execute(
            "INSERT INTO posts (workspace_id, content, status, timezone, meta, version, created_at, updated_at) "
            "VALUES (?, ?, 'failed', 'UTC', '{}', 1, ?, ?)",
            (workspace_id, content, now, now),
        ).lastrowid
        db.execute(
            "INSERT INTO post_destinations (post_id, social_account_id, status, attempts, last_error, "
            "idempotency_key, platform_state, created_at, updated_at) VALUES (?, ?, 'failed', 5, ?, ?, '{}', ?, ?)",
            (
                post_id,
                account_id,
                "The sandbox feed could not be written: database is locked",
                uuid.uuid4().hex,
                now,
                now,
            ),
        )


def test_an_admin_retries_a_failed_publish_and_sees_it_go_out(page, running_app) -> None:
    content = f"Retried from the console {uuid.uuid4().hex[:8]}"
    _failed_publish(running_app, content)

    page.goto(routes.SIGN_IN)
    sign_in(page, *running_app.demo_credentials())
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))
    page.goto(routes.ADMIN_PUBLISHING)
    row = page.locator(".destination-row", has_text=content)
    expect(row).to_contain_text("database is locked")  # the platform's message, across workspaces
    row.get_by_role("button", name="Retry").click()
    expect(page.locator(".destination-row", has_text=content)).to_have_count(0)

    # The worker sends it: the sandbox feed shows the post.
    page.goto(routes.SANDBOX)
    deadline = time.monotonic() + 45
    while not page.locator(".sandbox-post", has_text=content).count() and time.monotonic() < deadline:
        time.sleep(2)
        page.reload()
    expect(page.locator(".sandbox-post", has_text=content)).to_be_visible()

    page.goto(routes.ADMIN_AUDIT)
    expect(page.locator("#audit-entries")).to_contain_text("Retried a failed publish")
    assert page.console_watch.errors == []

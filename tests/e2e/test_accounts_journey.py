"""People's stories: register, confirm the address, sign out, sign in and invite a teammate; connect an
account on a phone.

Mail is read where the app delivered it; the dev outbox page is the system admin's (the demo user).
"""

import re
import uuid

from playwright.sync_api import expect

from postforge import routes
from tests.e2e.conftest import follow_confirmation_link, register_and_confirm, sign_in


def test_register_confirm_sign_out_sign_in_and_invite(page, running_app) -> None:
    email = f"ada-{uuid.uuid4().hex[:8]}@example.org"
    password = "correct horse battery staple 42"

    page.goto(routes.REGISTER)
    page.get_by_label("Name").fill("Ada Lovelace")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("password")  # too weak: refused, the typed values stay
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#form-error")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value(email)

    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#form-notice")).to_have_text(
        f"We sent a link to {email}. Open it to finish signing up."
    )

    # Before confirming, the password already works; the shell asks for the confirmation.
    page.goto(routes.SIGN_IN)
    sign_in(page, email, password)
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))
    expect(page.locator("#confirm-email-banner")).to_contain_text(email)
    page.get_by_role("button", name="Resend the link").click()
    expect(page.get_by_text(f"We sent a new link to {email}")).to_be_visible()

    follow_confirmation_link(page, running_app, email)
    expect(page.locator("#credit-balance")).to_have_text("10")
    expect(page.locator("#stat-credits")).to_have_text("10")
    expect(page.locator("#confirm-email-banner")).to_have_count(0)

    page.get_by_role("button", name="Account menu").click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page).to_have_url(re.compile(routes.SIGN_IN))
    page.goto(routes.DASHBOARD)
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))

    sign_in(page, email, "wrong password 123")
    expect(page.locator("#form-error")).to_contain_text("incorrect")
    sign_in(page, email, password)
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))

    page.goto(routes.SETTINGS)
    teammate = f"grace-{uuid.uuid4().hex[:8]}@example.org"
    page.get_by_label("Email to invite").fill(teammate)
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator("#pending-invites")).to_contain_text(teammate)

    # The dev outbox holds everyone's invitation and reset links: a member gets the not-found page.
    page.goto(routes.OUTBOX)
    expect(page.get_by_text("404: Page not found")).to_be_visible()
    expect(page.get_by_text(teammate)).to_have_count(0)

    page.goto(routes.DASHBOARD)
    page.get_by_role("button", name="Account menu").click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page).to_have_url(re.compile(routes.SIGN_IN))
    sign_in(page, *running_app.demo_credentials())  # the demo user is the system admin
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))
    page.goto(routes.OUTBOX)
    expect(page.get_by_text(teammate).first).to_be_visible()
    expect(page.locator(".outbox-body").first).to_contain_text("/invite?token=")

    assert page.console_watch.errors == []


def test_connect_a_sandbox_account_then_disconnect_it_on_a_phone(page, running_app) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    email = f"lin-{uuid.uuid4().hex[:8]}@example.org"
    register_and_confirm(
        page, running_app, name="Lin Sandbox", email=email, password="correct horse battery staple 42"
    )

    page.goto(routes.ACCOUNTS)
    expect(page.get_by_text("No social accounts connected")).to_be_visible()
    page.get_by_role("button", name="Connect account").click()
    page.get_by_role("button", name="Connect a Sandbox account").click()
    page.get_by_label("Display name").fill("Lin's feed")
    page.get_by_label("Handle").fill("@not valid")
    page.get_by_role("button", name="Connect sandbox account").click()
    expect(page.locator("#handle-error")).to_be_visible()  # beside its field, nothing typed lost
    expect(page.get_by_label("Display name")).to_have_value("Lin's feed")

    page.get_by_label("Handle").fill("@linfeed")
    page.get_by_role("button", name="Connect sandbox account").click()
    card = page.locator(".account-card", has_text="@linfeed")
    expect(card.locator(".account-status")).to_have_text("Connected")
    expect(card.locator(".account-platform")).to_have_text("Sandbox")

    card.get_by_role("button", name="Disconnect @linfeed").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Disconnect").click()
    expect(card.locator(".account-status")).to_have_text("Disconnected")
    expect(card.get_by_role("button", name="Reconnect @linfeed")).to_be_visible()

    assert page.console_watch.errors == []

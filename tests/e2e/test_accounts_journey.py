"""A new person's story: register, see the welcome credits, sign out, sign in, invite a teammate."""

import re
import uuid

from playwright.sync_api import expect

from postforge import routes
from tests.e2e.conftest import sign_in


def test_register_sign_out_sign_in_and_invite(page) -> None:
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
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))
    expect(page.locator("#credit-balance")).to_have_text("10")
    expect(page.locator("#stat-credits")).to_have_text("10")

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

    page.goto(routes.OUTBOX)
    expect(page.get_by_text(teammate).first).to_be_visible()
    expect(page.locator(".outbox-body").first).to_contain_text("/invite?token=")

    assert page.console_watch.errors == []

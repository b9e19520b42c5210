"""Buying credits without Stripe keys: a new member buys the Popular pack through the sandbox checkout.

(A freshly registered account rather than the demo user, so the other browser journeys still find
the demo workspace as seeded.)

The sandbox page sends a signed `checkout.session.completed` to the app's own webhook route; the
worker processes it; the success page waits for that and shows the new balance; the credit and
billing histories show the purchase with the balance after it.
"""

import re
import uuid

from playwright.sync_api import expect

from postforge import routes
from postforge.services.identity.onboarding import WELCOME_BONUS_CREDITS
from tests.e2e.conftest import register_and_confirm, sign_in

CONFIRMATION_TIMEOUT_MS = 60_000  # the embedded broker polls; the success page waits up to a minute


def register(page, running_app) -> None:
    email = f"bea-{uuid.uuid4().hex[:8]}@example.org"
    register_and_confirm(
        page, running_app, name="Bea Buyer", email=email, password="correct horse battery staple 42"
    )


def test_buy_the_popular_pack_through_the_sandbox_checkout(page, running_app) -> None:
    register(page, running_app)
    # A new account holds exactly the welcome bonus; waiting for it also waits for the header to load
    # (it shows 0 until then).
    before = WELCOME_BONUS_CREDITS
    expect(page.locator("#credit-balance")).to_have_text(str(before))

    page.get_by_role("link", name="Billing").first.click()
    expect(page).to_have_url(re.compile(routes.BILLING + "$"))
    expect(page.locator("#current-plan")).to_contain_text("Free")
    page.get_by_role("link", name="Buy credits").first.click()

    expect(page).to_have_url(re.compile(routes.BUY_CREDITS + "$"))
    expect(page.locator("#sandbox-notice")).to_be_visible()
    popular = page.locator("#plan-pack-popular")
    expect(popular).to_contain_text("Most popular")
    expect(popular).to_contain_text("50 credits")
    expect(popular).to_contain_text("$29.00")
    popular.get_by_role("button", name="Buy Popular").click()

    expect(page).to_have_url(re.compile(re.escape(routes.SANDBOX_CHECKOUT) + r"\?session_id=cs_sandbox_"))
    expect(page.locator("#sandbox-amount")).to_have_text("$29.00")
    page.get_by_role("button", name="Pay $29.00").click()

    expect(page).to_have_url(re.compile(re.escape(routes.CHECKOUT_SUCCESS) + r"\?session_id=cs_sandbox_"))
    expect(page.locator("#new-balance")).to_have_text(str(before + 50), timeout=CONFIRMATION_TIMEOUT_MS)
    expect(page.locator("#credits-added")).to_have_text("+50 credits")
    expect(page.locator("#credit-balance")).to_have_text(str(before + 50))

    page.get_by_role("button", name="Credit history").click()
    expect(page).to_have_url(re.compile(routes.CREDITS + "$"))
    purchase = page.get_by_role("row").filter(has_text="Purchase: Popular pack (50 credits)")
    expect(purchase).to_have_count(1)
    expect(purchase).to_contain_text("+50")
    expect(purchase).to_contain_text(str(before + 50))

    page.goto(routes.BILLING)
    paid = page.locator("#payment-history").get_by_role("row").filter(has_text="Popular")
    expect(paid).to_have_count(1)
    for text in ("$29.00", "+50", "paid", str(before + 50)):
        expect(paid).to_contain_text(text)

    assert page.console_watch.errors == []


def test_the_plans_fit_a_phone_and_cancel_charges_nothing(page, running_app) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    email, password = running_app.demo_credentials()
    page.goto(routes.SIGN_IN)
    sign_in(page, email, password)
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))
    page.goto(routes.BUY_CREDITS)
    expect(page.locator("#plan-pack-popular")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    page.locator("#plan-pack-starter").get_by_role("button", name="Buy Starter").click()
    expect(page).to_have_url(re.compile(re.escape(routes.SANDBOX_CHECKOUT)))
    page.get_by_role("link", name="Cancel and go back").click()
    expect(page).to_have_url(re.compile(re.escape(routes.CHECKOUT_CANCEL)))
    expect(page.get_by_text("Nothing was charged")).to_be_visible()

    assert page.console_watch.errors == []

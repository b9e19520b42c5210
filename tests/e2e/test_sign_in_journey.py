"""Single sign-on on the one-port setup `postforge run` ships with: the visitor clicks "Continue with
Single sign-on", the fake OpenID Connect provider approves, and the visitor lands signed in.

The same journey shows the pre-registration takeover closed: someone had registered the address
with a password of their own and never confirmed it; once the provider vouches for the address,
that password no longer signs anyone in.
"""

import re
import uuid
from urllib.parse import quote

from playwright.sync_api import expect

from postforge import routes
from tests.e2e.conftest import register, sign_in
from tests.fakes.oidc_provider import FakeUser


def test_continue_with_single_sign_on_signs_in_and_reclaims_a_squatted_address(
    page, oidc_provider, running_app
) -> None:
    suffix = uuid.uuid4().hex[:8]
    email = f"sam-{suffix}@example.org"
    squatters_password = "squatter horse battery 42"
    register(page, name="Not Sam", email=email, password=squatters_password)  # never confirmed
    oidc_provider.provider.user = FakeUser(sub=f"sam-{suffix}", email=email, name="Sam Single")

    page.goto(f"{routes.SIGN_IN}?next={quote(routes.CALENDAR, safe='')}")
    page.get_by_role("button", name="Continue with Single sign-on").click()

    expect(page).to_have_url(re.compile("^" + re.escape(running_app.url + routes.CALENDAR) + "$"))
    expect(page.locator("#credit-balance")).to_have_text("10")
    expect(page.locator("#confirm-email-banner")).to_have_count(0)  # the provider vouched for it
    page.get_by_role("button", name="Account menu").click()
    expect(page.get_by_role("menu")).to_contain_text(email)
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page).to_have_url(re.compile(routes.SIGN_IN))

    sign_in(page, email, squatters_password)
    expect(page.locator("#form-error")).to_contain_text("incorrect")

    assert page.console_watch.errors == []

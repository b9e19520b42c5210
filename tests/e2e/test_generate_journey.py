"""The demo user writes a post with the offline generator, watches it stream, and saves it as a draft."""

import itertools
import re
import uuid

from playwright.sync_api import expect

from postforge import routes
from tests.e2e.conftest import sign_in

# Runs in the page: records each distinct value of the preview until the post is finished.
WATCH_PREVIEW = """
async () => {
  const seen = [];
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    const preview = document.querySelector('#generate-preview');
    if (preview && preview.value !== (seen.length ? seen[seen.length - 1] : '')) seen.push(preview.value);
    const save = document.querySelector('#save-draft');
    if (save && !save.disabled && preview && preview.value) return seen;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return seen;
}
"""


def test_generate_stream_and_save_a_draft(page, running_app) -> None:
    email, password = running_app.demo_credentials()
    page.goto(routes.SIGN_IN)
    sign_in(page, email, password)
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))

    page.goto(routes.GENERATE)
    balance = page.locator("#credit-balance")
    expect(page.locator("#workspace-name")).to_have_text(re.compile(r"\S"))  # the shell has loaded
    before = int(balance.inner_text())
    assert before >= 1, "the demo workspace needs a credit to generate"

    topic = "our new community garden opening this spring"
    page.get_by_label("Topic").fill(topic)
    page.locator("#generate-tone").click()
    page.get_by_role("option", name="Inspirational").click()
    expect(page.locator("#generate-tone")).to_have_text("Inspirational")
    page.locator("#generate-button").click()

    seen = page.evaluate(WATCH_PREVIEW)
    growing = [value for value in seen if value]
    assert len(growing) >= 3, f"the preview did not stream: {seen!r}"
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(growing))
    assert len(growing[-1]) > len(growing[0])
    final = page.locator("#generate-preview").input_value()
    assert final == growing[-1] and "garden" in final.lower()

    expect(page.locator("#sample-label")).to_contain_text("Sample — offline generator, no AI used")
    expect(page.locator("#hashtags")).to_contain_text("#")
    expect(page.locator("#best-time")).to_contain_text("Best time to post")
    expect(page.locator("#char-counter")).to_contain_text("/ 500")
    expect(balance).to_have_text(str(before - 1))

    page.locator("#save-draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    expect(balance).to_have_text(str(before - 1))

    page.goto(routes.POSTS)
    expect(page.get_by_text(final[:40]).first).to_be_visible()
    expect(page.locator("#credit-balance")).to_have_text(str(before - 1))

    page.goto(routes.CREDITS)
    newest = page.locator("#credits-history tbody tr").first
    expect(newest).to_contain_text("generation")
    expect(newest).to_contain_text("-1")
    expect(newest).to_contain_text(str(before - 1))  # the balance after it
    expect(newest).to_contain_text(topic)

    assert page.console_watch.errors == []


def test_brands_are_created_validated_and_offered_on_the_generate_page(page, running_app) -> None:
    email, password = running_app.demo_credentials()
    page.goto(routes.SIGN_IN)
    sign_in(page, email, password)
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))

    page.goto(routes.BRANDS)
    name = f"Garden Club {uuid.uuid4().hex[:6]}"
    page.get_by_role("button", name="New brand").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Tone of voice").fill("Warm, hands-on, a little muddy.")
    page.get_by_label("Example post 1", exact=True).fill("Seeds in, coffee out. See you Saturday!")
    page.locator("#brand-save").click()
    expect(page.locator("#brand-list")).to_contain_text(name)

    page.get_by_role("button", name="New brand").click()
    page.get_by_label("Name").fill(name.upper())  # the same name in other letters
    page.get_by_label("Tone of voice").fill("Typed text must survive the refusal")
    page.locator("#brand-save").click()
    expect(page.locator("#form-error")).to_contain_text("already exists")
    expect(page.get_by_label("Tone of voice")).to_have_value("Typed text must survive the refusal")
    page.keyboard.press("Escape")

    page.goto(routes.GENERATE)
    page.locator("#generate-brand").click()
    expect(page.get_by_role("option", name=name)).to_be_visible()
    page.keyboard.press("Escape")

    assert page.console_watch.errors == []

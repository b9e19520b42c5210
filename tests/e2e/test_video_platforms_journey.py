"""Connecting a YouTube channel and a TikTok account from the Accounts page (each platform's consent
screen is a local fake), then writing a post for them: the composer warns that a text-only post
can't go to either before anything is scheduled, and offers each platform's visibility choices with
the private default."""

import re
import uuid

from playwright.sync_api import expect

from postforge import routes
from tests.e2e.conftest import register_and_confirm


def _connect(page, label: str) -> None:
    page.goto(routes.ACCOUNTS)
    page.get_by_role("button", name="Connect account").click()
    page.get_by_role("button", name=f"Connect a {label} account").click()
    page.get_by_role("button", name=f"Continue to {label}").click()
    expect(page).to_have_url(re.compile(routes.ACCOUNTS + r"/?\?connect="))


def test_connect_youtube_and_tiktok_then_the_composer_asks_for_a_video(page, running_app) -> None:
    # A new member: a workspace of their own, whatever other journeys connected to the demo's.
    email = f"vid-{uuid.uuid4().hex[:8]}@example.org"
    register_and_confirm(
        page, running_app, name="Vi Deo", email=email, password="correct horse battery staple 42"
    )

    _connect(page, "YouTube")
    channel = page.locator(".account-card", has_text="@adamakes")
    expect(channel.locator(".account-status")).to_have_text("Connected")
    expect(channel.locator(".account-platform")).to_have_text("YouTube")
    _connect(page, "TikTok")
    creator = page.locator(".account-card", has_text="@ada.makes")
    expect(creator.locator(".account-status")).to_have_text("Connected")

    page.goto(routes.CALENDAR)
    page.locator("#new-post").click()
    expect(page.locator("#post-editor")).to_be_visible()
    page.locator("#post-content").fill("Launch day")
    for handle in ("@adamakes", "@ada.makes"):
        page.get_by_role("checkbox", name=re.compile(re.escape(handle))).click()

    editor = page.locator("#post-editor")
    expect(editor.get_by_text("YouTube posts are videos")).to_be_visible()
    expect(editor.get_by_text("TikTok posts are videos")).to_be_visible()
    expect(editor.get_by_label("Visibility")).to_contain_text("Private")
    expect(editor.get_by_label("Who can watch")).to_contain_text("Only me")
    expect(editor.get_by_role("checkbox", name=re.compile("Paid partnership"))).not_to_be_checked()

    assert page.console_watch.errors == []

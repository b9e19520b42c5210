"""The demo user's posts story: write and schedule a post, find it, meet a conflicting edit made in
another browser, delete it after confirming, then import a week from a CSV with one bad row. And a
post the platform never confirmed: it reads "needs review" (never "failed") everywhere until its
author checks the platform and answers that it was not published."""

import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect
from sqlmodel import Session, col, select

from postforge import routes
from postforge.db import make_engine
from postforge.models import DestinationStatus, Post, PostDestination, PublishAttempt, utcnow
from postforge.settings import load_settings
from tests.e2e.conftest import ConsoleWatch, RunningApp, sign_in

DEMO_ZONE = "Europe/Berlin"


def _local(days: int, at: str) -> str:
    return f"{(datetime.now(ZoneInfo(DEMO_ZONE)) + timedelta(days=days)).date()}T{at}"


def _row(page, text: str):
    return page.locator(".post-row", has_text=text)


def test_create_find_conflict_delete_and_import(page, browser, running_app) -> None:
    email, password = running_app.demo_credentials()
    page.goto(routes.SIGN_IN)
    sign_in(page, email, password)
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))

    # Write and schedule a post in the dialog.
    page.goto(routes.POSTS)
    expect(page.locator("#posts-table")).to_be_visible()  # the demo posts
    marker = uuid.uuid4().hex[:8]
    text = f"Launch note {marker}: doors open at nine"
    page.locator("#new-post").click()
    dialog = page.locator("#post-editor")
    expect(dialog).to_be_visible()
    page.locator("#post-content").fill(text)
    expect(page.get_by_role("checkbox", name=re.compile("@demo"))).to_be_checked()  # the only feed, chosen
    expect(page.locator(".post-counter[data-platform='sandbox']")).to_have_text(f"{len(text)} / 500")
    page.locator("#post-schedule").fill(_local(-1, "10:15"))  # yesterday: refused next to the field
    page.locator("#editor-schedule").click()
    expect(dialog.get_by_role("alert").filter(has_text="has already passed")).to_be_visible()
    expect(page.locator("#post-content")).to_have_value(text)  # nothing typed is lost
    page.locator("#post-schedule").fill(_local(3, "10:15"))
    page.locator("#editor-schedule").click()
    expect(dialog).to_be_hidden()
    expect(_row(page, marker)).to_contain_text("scheduled")
    expect(_row(page, marker)).to_contain_text("10:15")

    # Search and filters find it.
    page.locator("#posts-search").fill(marker)
    expect(page.locator(".post-row")).to_have_count(1)
    page.locator("#filter-status").click()
    page.get_by_role("option", name="Scheduled").click()
    expect(_row(page, marker)).to_be_visible()
    page.locator("#filter-status").click()
    page.get_by_role("option", name="Draft").click()
    expect(page.get_by_text("No posts match these filters")).to_be_visible()
    page.locator("#empty-clear-filters").click()
    expect(page.locator("#posts-search")).to_have_value("")
    page.locator("#posts-search").fill(marker)
    expect(page.locator(".post-row")).to_have_count(1)

    # Open it for editing here, then change it first in a second browser.
    _row(page, marker).locator(".row-edit").click()
    expect(page.locator("#post-content")).to_have_value(text)

    other_context = browser.new_context(base_url=running_app.url, viewport={"width": 1440, "height": 900})
    other = other_context.new_page()
    other.set_default_timeout(30_000)
    other_watch = ConsoleWatch(other)
    try:
        other.goto(routes.SIGN_IN)
        sign_in(other, email, password)
        expect(other).to_have_url(re.compile(routes.DASHBOARD + "$"))
        other.goto(routes.POSTS)
        other.locator("#posts-search").fill(marker)
        expect(other.locator(".post-row")).to_have_count(1)
        _row(other, marker).locator(".row-edit").click()
        other.locator("#post-content").fill(f"{text} (edited elsewhere)")
        other.locator("#editor-schedule").click()
        expect(other.locator("#post-editor")).to_be_hidden()
        expect(_row(other, marker)).to_contain_text("edited elsewhere")
    finally:
        other_context.close()
    assert other_watch.errors == []

    page.locator("#post-content").fill(f"{text} (my version)")
    page.locator("#editor-schedule").click()
    prompt = page.get_by_role("alertdialog")
    expect(prompt).to_contain_text("changed elsewhere")
    expect(page.locator("#post-content")).to_have_value(f"{text} (my version)")
    page.locator("#conflict-overwrite").click()
    expect(page.locator("#post-editor")).to_be_hidden()
    expect(_row(page, marker)).to_contain_text("(my version)")

    # Delete, after confirming.
    _row(page, marker).locator(".row-delete").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Delete this post?")
    page.locator("#confirm-delete").click()
    expect(page.get_by_text("No posts match these filters")).to_be_visible()

    # CSV import: one good row, one bad; only the good one is imported, after confirmation.
    csv_marker = uuid.uuid4().hex[:8]
    csv_text = (
        "content,local_datetime,accounts\n"
        f"From the spreadsheet {csv_marker},{_local(4, '08:45').replace('T', ' ')},@demo\n"
        f"Nobody reads this {csv_marker},{_local(4, '09:00').replace('T', ' ')},@nobody\n"
    )
    page.goto(routes.IMPORT)
    page.locator("input[type=file]").set_input_files(
        {"name": "week.csv", "mimeType": "text/csv", "buffer": csv_text.encode()}
    )
    expect(page.locator("#import-report")).to_be_visible()
    expect(page.locator("#import-valid-count")).to_have_text("1 valid")
    expect(page.locator("#import-error-count")).to_have_text("1 with errors")
    expect(page.locator(".import-error")).to_contain_text("Unknown account @nobody")
    page.locator("#import-valid").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Create 1 post from week.csv")
    page.locator("#confirm-import").click()
    expect(page).to_have_url(re.compile(routes.POSTS + "$"))
    page.locator("#posts-search").fill(csv_marker)
    expect(page.locator(".post-row")).to_have_count(1)
    expect(_row(page, "From the spreadsheet")).to_contain_text("08:45")

    assert page.console_watch.errors == []


REAPER_TIMEOUT_MS = 60_000  # the reaper's 15 s tick + one live poll, on a busy machine


def _last_try_died_mid_call(running_app: RunningApp, marker: str) -> None:
    """What a worker leaves behind when it dies while the platform holds its request, on the last
    try allowed: the row still publishing with its lease run out, and an attempt never closed.
    The app's own reaper takes it from there."""
    engine = make_engine(f"sqlite:///{running_app.data_dir / 'postforge.db'}")
    try:
        with Session(engine) as session:
            destination = session.exec(
                select(PostDestination)
                .join(Post, col(Post.id) == PostDestination.post_id)
                .where(col(Post.content).contains(marker))
            ).one()
            now = utcnow()
            destination.status = DestinationStatus.PUBLISHING
            destination.lease_until = now - timedelta(seconds=1)
            destination.attempts = load_settings().publish_max_attempts
            session.add(destination)
            session.add(
                PublishAttempt(
                    destination_id=destination.id, attempt_number=destination.attempts, started_at=now
                )
            )
            session.commit()
    finally:
        engine.dispose()


def test_a_post_the_platform_never_confirmed_needs_review_until_it_was_not_published(
    page, running_app
) -> None:
    page.goto(routes.SIGN_IN)
    sign_in(page, *running_app.demo_credentials())
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))

    # A post scheduled for tomorrow on the demo feed.
    page.goto(routes.POSTS)
    marker = uuid.uuid4().hex[:8]
    page.locator("#new-post").click()
    dialog = page.locator("#post-editor")
    expect(dialog).to_be_visible()
    page.locator("#post-content").fill(f"Unconfirmed {marker}: did it go out?")
    page.locator("#post-schedule").fill(_local(1, "07:40"))
    page.locator("#editor-schedule").click()
    expect(dialog).to_be_hidden()
    page.locator("#posts-search").fill(marker)
    row = _row(page, marker)
    expect(row.locator(".post-status")).to_have_text("scheduled")

    # Its publish dies with the request out: the platform may have it. Never "failed".
    _last_try_died_mid_call(running_app, marker)
    expect(row.locator(".post-status")).to_have_text("needs review", timeout=REAPER_TIMEOUT_MS)
    expect(row.locator(".row-edit")).to_have_count(0)  # answered first: not edited, not cancelled
    expect(row.get_by_role("button", name=re.compile("^Cancel post "))).to_have_count(0)
    page.locator("#filter-status").click()
    page.get_by_role("option", name="Needs review").click()
    expect(row).to_be_visible()
    page.locator("#filter-status").click()
    page.get_by_role("option", name="Failed").click()
    expect(page.get_by_text("No posts match these filters")).to_be_visible()
    page.locator("#empty-clear-filters").click()
    expect(page.locator("#posts-search")).to_have_value("")

    # The calendar says so too, in its own colour, and its legend names it.
    page.goto(routes.CALENDAR)
    event = page.locator(".fc-daygrid-event", has_text=marker)
    expect(event).to_have_class(re.compile(r"pf-status-needs_review"))
    expect(page.locator(".pf-legend")).to_contain_text("Needs review")

    # The author checked the feed: it is not there. It becomes an ordinary failure, sent again
    # only when someone retries it.
    page.goto(routes.POSTS)
    page.locator("#posts-search").fill(marker)
    _row(page, marker).locator(".row-details").click()
    details = page.locator(".destination-detail")
    expect(details.locator(".destination-status")).to_have_text("needs review")
    for answer in ("It was published", "Post it again", "It was not published"):
        expect(details.get_by_role("button", name=answer)).to_be_visible()
    details.get_by_role("button", name="It was not published").click()
    expect(page.locator("[data-sonner-toast]", has_text="Marked as not published")).to_be_visible()
    expect(details.locator(".destination-status")).to_have_text("failed")
    expect(details.locator(".destination-error")).to_contain_text("the post was not there")
    expect(details.get_by_role("button", name="It was not published")).to_have_count(0)
    expect(page.locator("#retry-failed")).to_be_visible()
    page.get_by_role("button", name="Close", exact=True).click()
    expect(_row(page, marker).locator(".post-status")).to_have_text("failed")

    assert page.console_watch.errors == []

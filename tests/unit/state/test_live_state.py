"""Live status through the Reflex states (no browser): the poller's start and its decisions —
which page refreshes, which toasts show, how the bell counts — and the pages' refreshes.

The background loop itself only moves values between these steps (it cannot run outside a
server); every decision it takes is made by `LiveState.start` and `LiveState.take`, tested here
against a real database with notices written by the notifications service.
"""

import time
from datetime import timedelta

import pytest
import reflex as rx
import sqlalchemy as sa
from sqlmodel import Session, select

from postforge import routes
from postforge.db import get_engine, session_scope
from postforge.models import (
    DestinationStatus,
    NotificationKind,
    Platform,
    Post,
    PostDestination,
    Role,
    SandboxPost,
    utcnow,
)
from postforge.services.alerts import notifications
from postforge.services.channels import live_status
from postforge.services.content import post_status, posts
from postforge.services.identity import accounts_auth
from postforge.services.kernel import timefmt
from postforge.state.calendar import CalendarState
from postforge.state.dashboard import DashboardState
from postforge.state.live import LiveState, refresher_for
from postforge.state.notifications import NotificationsState
from postforge.state.posts import PostsState
from postforge.state.sandbox_feed import SandboxFeedState
from postforge.state.shell import ShellState
from tests.support.factories import make_membership, make_social_account, make_user, make_workspace

ZONE = "Europe/Berlin"


def _local(days: int, at: str = "09:00") -> str:
    return f"{timefmt.to_local(utcnow(), ZONE).date() + timedelta(days=days)}T{at}"


@pytest.fixture
def world(app_database):
    with Session(get_engine()) as session:
        alice = make_user(session, name="Alice", timezone=ZONE)
        bob = make_user(session, name="Bob")
        space_a, space_b = make_workspace(session, name="A", timezone=ZONE), make_workspace(session, name="B")
        make_membership(session, space_a, alice, role=Role.ADMIN)
        make_membership(session, space_b, bob, role=Role.ADMIN)
        sandbox = make_social_account(session, space_a, platform=Platform.SANDBOX, handle="@demo")
        x = make_social_account(session, space_a, platform=Platform.X, handle="@brand")
        b_account = make_social_account(session, space_b, handle="@bob")
        post = posts.create_post(
            session,
            actor_id=alice.id,
            workspace_id=space_a.id,
            content="Launch day is here",
            scheduled_at=timefmt.to_utc(timefmt.parse_local(_local(2)), ZONE),
            timezone=ZONE,
            account_ids=[sandbox.id, x.id],
        )
        secret = posts.create_post(
            session,
            actor_id=bob.id,
            workspace_id=space_b.id,
            content="Bob's secret",
            account_ids=[b_account.id],
        )
        tokens = {
            "Alice": accounts_auth.create_session(session, alice, workspace_id=space_a.id),
            "Bob": accounts_auth.create_session(session, bob, workspace_id=space_b.id),
        }
        session.commit()
        return {
            "tokens": tokens,
            "alice": alice.id,
            "A": space_a.id,
            "B": space_b.id,
            "post": post.id,
            "secret": secret.id,
            "sandbox": sandbox.id,
            "x": x.id,
        }


async def _root(token: str) -> rx.State:
    root = rx.State()
    shell = await root.get_state(ShellState)
    shell.session_token = token
    await shell.load_shell()
    return root


def _finish(post_id: int, account_id: int, status: DestinationStatus, error: str = "") -> None:
    """What the publishing engine writes for one outcome: the destination, the post, the notice."""
    later = utcnow() + timedelta(seconds=1)
    with session_scope() as session:
        destination = session.exec(
            select(PostDestination).where(
                PostDestination.post_id == post_id, PostDestination.social_account_id == account_id
            )
        ).one()
        destination.status, destination.last_error, destination.updated_at = status, error, later
        destination.attempts = 1
        if status == DestinationStatus.PUBLISHED:
            destination.platform_post_url = "https://sandbox.example/post/1"
            destination.published_at = later
        session.add(destination)
        session.flush()
        statuses = [
            d.status for d in session.exec(select(PostDestination).where(PostDestination.post_id == post_id))
        ]
        derived = post_status.derive_post_status(statuses)
        session.execute(sa.update(Post).where(Post.id == post_id).values(status=derived, updated_at=later))
        kind = {
            DestinationStatus.PUBLISHED: NotificationKind.PUBLISHED,
            DestinationStatus.FAILED: NotificationKind.FAILED,
            DestinationStatus.NEEDS_REVIEW: NotificationKind.NEEDS_REVIEW,
        }[status]
        notifications.notify_destination(session, destination, kind)


def _look(world, live: LiveState) -> live_status.LiveChanges:
    with session_scope() as session:
        return live_status.changes_since(
            session,
            user_id=world["alice"],
            workspace_id=world["A"],
            since_update=live._since,
            after_notification_id=live._after_id,
        )


def _script(spec) -> str:
    """The JavaScript a toast event runs (title, level, description, action)."""
    return str(spec.args[0][1])


# --- Starting the poller ------------------------------------------------------------------------


async def test_every_page_load_starts_a_poller_that_carries_on_from_the_last_look(world) -> None:
    # Reflex cancels a page load's unfinished chain (the poller it started) when the tab navigates,
    # reloads or reconnects: each page's start must start a new poller, and lose no news.
    root = await _root(world["tokens"]["Alice"])
    live = await root.get_state(LiveState)
    first = await live.start()
    assert LiveState.poll in first and NotificationsState.load_unread in first
    poller = live._runs["poll"]
    assert poller
    assert await live.take(_look(world, live), routes.DASHBOARD, ZONE) == []  # the baseline look
    live._beat = time.time()

    _finish(world["post"], world["sandbox"], DestinationStatus.PUBLISHED)  # while the tab changes page
    again = await live.start()  # the next page of the same tab
    assert LiveState.poll in again
    assert live._runs["poll"] not in ("", poller), "the old poller sees it was replaced and stops"
    events = await live.take(_look(world, live), routes.CALENDAR, ZONE)
    assert any("Published to" in _script(event) for event in events if hasattr(event, "args")), events


async def test_a_workspace_switch_or_a_stale_look_starts_from_a_fresh_baseline(world) -> None:
    root = await _root(world["tokens"]["Alice"])
    live = await root.get_state(LiveState)
    await live.start()
    await live.take(_look(world, live), routes.POSTS, ZONE)
    live._beat = time.time()

    shell = await root.get_state(ShellState)
    shell.workspace_id = world["B"]  # the tab switched workspace
    assert LiveState.poll in await live.start()
    assert live._since is None and live._after_id == 0, "a new workspace starts from a fresh baseline"

    shell.workspace_id = world["A"]
    await live.start()
    await live.take(_look(world, live), routes.POSTS, ZONE)
    live._beat -= 3600  # it has not looked for an hour: the laptop slept or the server restarted
    old = live._runs["poll"]
    assert LiveState.poll in await live.start()
    assert live._runs["poll"] != old and live._since is None


async def test_a_signed_out_tab_stops_its_poller(world) -> None:
    root = await _root(world["tokens"]["Alice"])
    live = await root.get_state(LiveState)
    await live.start()
    shell = await root.get_state(ShellState)
    shell.user_id = 0
    assert await live.start() is None
    assert live._runs["poll"] == "", "the running poller sees the empty id and stops"


# --- What a look leads to -------------------------------------------------------------------------


async def test_the_baseline_look_shows_no_old_news(world) -> None:
    _finish(world["post"], world["sandbox"], DestinationStatus.PUBLISHED)  # before the tab opened
    root = await _root(world["tokens"]["Alice"])
    live = await root.get_state(LiveState)
    await live.start()
    events = await live.take(_look(world, live), routes.POSTS, ZONE)
    assert events == []
    assert live._since is not None and live._after_id > 0
    assert (await root.get_state(NotificationsState)).items == []


async def test_a_publish_refreshes_the_page_in_view_and_toasts_with_a_view_link(world) -> None:
    root = await _root(world["tokens"]["Alice"])
    live = await root.get_state(LiveState)
    bell = await root.get_state(NotificationsState)
    await live.start()
    await bell.load_unread()
    await live.take(_look(world, live), routes.CALENDAR, ZONE)
    assert await live.take(_look(world, live), routes.CALENDAR, ZONE) == [], "nothing happened yet"

    _finish(world["post"], world["sandbox"], DestinationStatus.PUBLISHED)
    events = await live.take(_look(world, live), routes.CALENDAR, ZONE)
    assert events[0] == CalendarState.reload, "the calendar in view refreshes first"
    toast = _script(events[1])
    assert "success" in toast and "Published to @demo on Sandbox" in toast
    assert "View" in toast and f"/posts?post={world['post']}" in toast
    assert bell.unread == 1 and bell.items[0].title == "Published to @demo on Sandbox"
    assert await live.take(_look(world, live), routes.CALENDAR, ZONE) == [], "each change is told once"


async def test_a_failure_is_an_error_toast_with_the_platforms_message(world) -> None:
    root = await _root(world["tokens"]["Alice"])
    live = await root.get_state(LiveState)
    await live.start()
    await live.take(_look(world, live), "/settings", ZONE)

    _finish(world["post"], world["x"], DestinationStatus.FAILED, "403 Forbidden: You are not permitted")
    events = await live.take(_look(world, live), "/settings", ZONE)
    assert len(events) == 1, "a page without live data refreshes nothing; the toast still shows"
    toast = _script(events[0])
    assert "error" in toast and "Couldn't publish to @brand on X" in toast
    assert "You are not permitted" in toast


async def test_many_notices_at_once_toast_a_few_and_count_them_all(world) -> None:
    root = await _root(world["tokens"]["Alice"])
    live = await root.get_state(LiveState)
    bell = await root.get_state(NotificationsState)
    await live.start()
    await live.take(_look(world, live), routes.DASHBOARD, ZONE)
    with session_scope() as session:
        destination = session.exec(
            select(PostDestination).where(PostDestination.post_id == world["post"])
        ).first()
        for _ in range(5):
            notifications.notify_destination(session, destination, NotificationKind.PUBLISHED)
    events = await live.take(_look(world, live), routes.DASHBOARD, ZONE)
    toasts = [_script(e) for e in events]
    assert len(toasts) == 4 and "2 more notifications" in toasts[-1]
    assert bell.unread == 5 and len(bell.items) == 5


def test_each_live_page_registers_its_refresh() -> None:
    assert refresher_for(routes.POSTS) == PostsState.refresh_live
    assert refresher_for(routes.CALENDAR + "/") == CalendarState.reload
    assert refresher_for(routes.DASHBOARD) == DashboardState.refresh_live
    assert refresher_for(routes.SANDBOX) == SandboxFeedState.refresh_live
    assert refresher_for(routes.SETTINGS) is None


# --- The bell ------------------------------------------------------------------------------------


async def test_the_bell_lists_in_the_users_zone_and_marks_all_read(world) -> None:
    _finish(world["post"], world["x"], DestinationStatus.FAILED, "Rate limit exceeded")
    root = await _root(world["tokens"]["Alice"])
    bell = await root.get_state(NotificationsState)
    await bell.load_unread()
    assert bell.unread == 1 and bell.unread_label == "Notifications, 1 unread"
    await bell.bell_opened(True)
    row = bell.items[0]
    assert row.kind == "failed" and row.color == "red" and not row.read
    assert row.when.endswith(("CET", "CEST")), "times in the user's zone"
    assert row.link == f"/posts?post={world['post']}"

    await bell.mark_all_read()
    assert bell.unread == 0 and bell.items[0].read
    fresh = await root.get_state(NotificationsState)
    await fresh.load_unread()
    assert fresh.unread == 0, "stored, not just shown"


async def test_anothers_notices_never_reach_the_bell(world) -> None:
    with session_scope() as session:
        destination = session.exec(
            select(PostDestination).where(PostDestination.post_id == world["secret"])
        ).one()
        notifications.notify_destination(session, destination, NotificationKind.FAILED)
    root = await _root(world["tokens"]["Alice"])
    bell = await root.get_state(NotificationsState)
    await bell.load_unread()
    await bell.bell_opened(True)
    assert bell.unread == 0 and bell.items == []


# --- Pages refreshing ----------------------------------------------------------------------------


async def test_the_posts_table_and_open_details_follow_a_publish_and_a_failure(world) -> None:
    root = await _root(world["tokens"]["Alice"])
    table = await root.get_state(PostsState)
    await table.load()
    await table.open_details(world["post"])
    assert table.detail_open and {d.status for d in table.detail_destinations} == {"pending"}

    _finish(world["post"], world["sandbox"], DestinationStatus.PUBLISHED)
    _finish(world["post"], world["x"], DestinationStatus.FAILED, "403: duplicate content")
    await table.refresh_live()
    row = table.rows[0]
    assert row.status == "partially_published" and row.has_problem
    assert {(b.handle, b.status, b.problem) for b in row.destinations} == {
        ("@demo", "published", False),
        ("@brand", "failed", True),
    }
    details = {d.account: d for d in table.detail_destinations}
    assert details["@brand on X"].last_error == "403: duplicate content" and details["@brand on X"].failed
    assert details["@demo on Sandbox"].url == "https://sandbox.example/post/1"
    assert details["@demo on Sandbox"].published
    assert table.detail_can_retry

    toast = await table.retry_details()
    assert "tried again" in _script(toast)
    details = {d.account: d for d in table.detail_destinations}
    assert details["@brand on X"].status == "pending" and details["@brand on X"].last_error == ""
    assert details["@demo on Sandbox"].status == "published", "published accounts are never sent again"
    assert not table.detail_can_retry


async def test_details_of_another_workspaces_post_are_refused(world) -> None:
    root = await _root(world["tokens"]["Alice"])
    table = await root.get_state(PostsState)
    await table.load()
    toast = await table.open_details(world["secret"])
    assert not table.detail_open and table.detail_destinations == []
    assert "does not exist" in _script(toast)


async def test_the_calendar_event_turns_published_on_a_live_refresh(world) -> None:
    root = await _root(world["tokens"]["Alice"])
    calendar = await root.get_state(CalendarState)
    await calendar.load()
    await calendar.load_range(_local(-7, "00:00:00"), _local(30, "00:00:00"), "dayGridMonth")
    assert [e["status"] for e in calendar.events] == ["scheduled"]
    _finish(world["post"], world["sandbox"], DestinationStatus.PUBLISHED)
    _finish(world["post"], world["x"], DestinationStatus.PUBLISHED)
    await calendar.reload()
    assert [e["status"] for e in calendar.events] == ["published"]


async def test_the_dashboard_counts_a_failure_live(world) -> None:
    root = await _root(world["tokens"]["Alice"])
    dashboard = await root.get_state(DashboardState)
    await dashboard.refresh_live()
    assert dashboard.failed_destinations == 0
    _finish(world["post"], world["x"], DestinationStatus.FAILED, "boom")
    await dashboard.refresh_live()
    assert dashboard.failed_destinations == 1


async def test_the_dashboard_counts_what_needs_review_apart_from_failures(world) -> None:
    root = await _root(world["tokens"]["Alice"])
    dashboard = await root.get_state(DashboardState)
    _finish(world["post"], world["sandbox"], DestinationStatus.NEEDS_REVIEW, "Timed out after sending")
    _finish(world["post"], world["x"], DestinationStatus.FAILED, "boom")
    await dashboard.refresh_live()
    assert (dashboard.failed_destinations, dashboard.review_destinations) == (1, 1)
    assert [(c.status, c.count) for c in dashboard.status_counts] == [("needs review", 1)]


async def test_the_sandbox_feed_shows_new_posts_of_the_workspace_only(world) -> None:
    root = await _root(world["tokens"]["Alice"])
    feed = await root.get_state(SandboxFeedState)
    await feed.load()
    assert feed.loaded and feed.total == 0
    with session_scope() as session:
        session.add(
            SandboxPost(social_account_id=world["sandbox"], idempotency_key="k1", text="Hello sandbox")
        )
    await feed.refresh_live()
    assert [(r.handle, r.text, r.anchor) for r in feed.rows] == [
        ("@demo", "Hello sandbox", f"post-{feed.rows[0].id}")
    ]
    assert feed.rows[0].when.endswith(("CET", "CEST"))


async def test_a_destination_needing_review_is_answered_from_the_details(world) -> None:
    _finish(
        world["post"], world["sandbox"], DestinationStatus.NEEDS_REVIEW, "The connection dropped mid-request"
    )
    _finish(world["post"], world["x"], DestinationStatus.NEEDS_REVIEW, "Timed out waiting for X")
    root = await _root(world["tokens"]["Alice"])
    table = await root.get_state(PostsState)
    await table.load()
    await table.open_details(world["post"])
    details = {d.account: d for d in table.detail_destinations}
    assert details["@demo on Sandbox"].needs_review
    assert details["@demo on Sandbox"].last_error == "The connection dropped mid-request"
    assert not table.detail_can_retry, "retry is for failures; an unconfirmed post is answered instead"

    assert table.detail_status == "needs review" and table.detail_color == "orange"

    toast = await table.resolve_review(details["@demo on Sandbox"].id, "published")
    assert "Marked as published" in _script(toast)
    toast = await table.resolve_review(details["@brand on X"].id, "post_again")
    assert "posted again" in _script(toast)
    details = {d.account: d for d in table.detail_destinations}
    assert details["@demo on Sandbox"].status == "published"
    assert details["@brand on X"].status == "pending" and details["@brand on X"].last_error == ""

    toast = await table.resolve_review(
        details["@brand on X"].id, "published"
    )  # a second answer, e.g. another tab
    assert "no longer needs checking" in _script(toast)


async def test_a_post_that_may_be_live_reads_needs_review_until_it_was_not_published(world) -> None:
    _finish(world["post"], world["sandbox"], DestinationStatus.NEEDS_REVIEW, "Timed out after sending")
    _finish(world["post"], world["x"], DestinationStatus.FAILED, "Text too long")
    root = await _root(world["tokens"]["Alice"])
    table = await root.get_state(PostsState)
    await table.load()
    [row] = table.rows
    assert (row.status_label, row.status_color) == ("needs review", "orange")
    assert not row.can_edit and not row.can_cancel, "a post that may be live is answered first"
    assert row.can_retry, "its failed account is not live: that one may be retried"
    await table.set_status_filter("needs_review")
    assert [r.id for r in table.rows] == [world["post"]]
    await table.set_status_filter("failed")
    assert table.rows == []

    await table.open_details(world["post"])
    review = next(d for d in table.detail_destinations if d.needs_review)
    toast = await table.resolve_review(review.id, "maybe")  # not one of the three answers
    assert "choose one of" in _script(toast)
    toast = await table.resolve_review(review.id, "not_published")
    assert "Marked as not published" in _script(toast)
    details = {d.account: d for d in table.detail_destinations}
    assert details["@demo on Sandbox"].failed and "was not there" in details["@demo on Sandbox"].last_error
    assert table.detail_status == "failed" and table.detail_can_retry
    assert [r.id for r in table.rows] == [world["post"]], "the failed filter now finds it"

    bob = await (await _root(world["tokens"]["Bob"])).get_state(PostsState)
    await bob.load()
    toast = await bob.resolve_review(details["@brand on X"].id, "published")  # another workspace's
    assert "does not exist" in _script(toast)

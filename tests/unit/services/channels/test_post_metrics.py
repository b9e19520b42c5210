"""Reading back the numbers of published posts: which posts are read and when, one row per
destination per day, what a platform that can't answer does, token renewal, and how the
details dialog shows them. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select

from postforge.db import get_engine
from postforge.models import (
    AccountStatus,
    DestinationStatus,
    Platform,
    PostDestination,
    PostMetrics,
    PostStatus,
    Role,
    SocialAccount,
    Workspace,
    utcnow,
)
from postforge.platforms.base import (
    AccountCredentials,
    PlatformAdapter,
    PostMetricsSnapshot,
    RefreshRevoked,
    TokenSet,
)
from postforge.services.channels import account_tokens, post_metrics, publishing
from postforge.services.channels.post_metrics import MetricsView
from postforge.settings import get_settings, load_settings
from postforge.state.posts import engagement_line
from tests.support.factories import (
    make_destination,
    make_membership,
    make_post,
    make_social_account,
    make_user,
    make_workspace,
)
from tests.support.scripted_refresh import ScriptedRefresh

SETTINGS = load_settings(metrics_interval_minutes=60, metrics_window_days=7, metrics_batch_size=50)
NOON = datetime(2026, 11, 20, 12, 0, tzinfo=utcnow().tzinfo)


class CountingAdapter(ScriptedRefresh, PlatformAdapter):
    """Answers each read from `numbers` (post id → snapshot, None, or an exception to raise)."""

    platform = Platform.MASTODON
    label = "Mastodon"

    def __init__(self, numbers: dict | None = None):
        super().__init__(SETTINGS)
        self.numbers = numbers or {}
        self.reads: list[tuple[str, str]] = []  # (access token, platform post id)

    def publish(self, request):  # never called here
        raise AssertionError("reading numbers must not publish")

    def fetch_metrics(self, account: AccountCredentials, platform_post_id: str) -> PostMetricsSnapshot | None:
        self.reads.append((account.access_token, platform_post_id))
        answer = self.numbers.get(platform_post_id, PostMetricsSnapshot(likes=1))
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass
class World:
    user: int
    workspace: int
    account: int


@pytest.fixture
def world(engine) -> World:
    with Session(engine) as session:
        user = make_user(session, name="Ana")
        workspace = make_workspace(session, owner=user)
        make_membership(session, workspace, user, role=Role.EDITOR)
        account = make_social_account(
            session, workspace, platform=Platform.MASTODON, handle="@ana@example.social"
        )
        account_tokens.store_tokens(account, TokenSet("access-1", refresh_token="refresh-1"))
        session.add(account)
        session.commit()
        return World(user.id, workspace.id, account.id)


def published(
    engine,
    world: World,
    platform_id: str | None,
    *,
    at: datetime = NOON - timedelta(hours=3),
    status: DestinationStatus = DestinationStatus.PUBLISHED,
    deleted: bool = False,
    account_id: int | None = None,
) -> int:
    with Session(engine) as session:
        workspace = session.get(Workspace, world.workspace)
        post = make_post(
            session,
            workspace,
            status=PostStatus.PUBLISHED,
            published_at=at,
            deleted_at=NOON if deleted else None,
        )
        account = session.get(SocialAccount, account_id or world.account)
        destination = make_destination(
            session,
            post,
            account,
            status=status,
            platform_post_id=platform_id,
            published_at=at if status == DestinationStatus.PUBLISHED else None,
        )
        session.commit()
        return destination.id


def rows(engine, destination_id: int) -> list[PostMetrics]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(PostMetrics)
                .where(PostMetrics.destination_id == destination_id)
                .order_by(PostMetrics.day)
            ).all()
        )


def collect(engine, adapter: CountingAdapter, now: datetime = NOON, settings=SETTINGS):
    return post_metrics.collect_due(engine, now=now, settings=settings, adapter_factory=lambda *_: adapter)


def test_a_fresh_post_is_read_once_per_interval_into_one_row_a_day(engine, world) -> None:
    dest = published(engine, world, "101")
    adapter = CountingAdapter({"101": PostMetricsSnapshot(likes=12, comments=3, shares=2, impressions=340)})

    assert collect(engine, adapter).collected == 1
    [row] = rows(engine, dest)
    assert (row.likes, row.comments, row.shares, row.impressions, row.reach) == (12, 3, 2, 340, 0)
    assert row.day == NOON.date()

    assert collect(engine, adapter, NOON + timedelta(minutes=30)).collected == 0, "read within the hour"
    assert len(adapter.reads) == 1

    adapter.numbers["101"] = PostMetricsSnapshot(likes=20, comments=4, shares=2, impressions=500)
    assert collect(engine, adapter, NOON + timedelta(minutes=61)).collected == 1
    [row] = rows(engine, dest)
    assert (row.likes, row.impressions) == (20, 500), "the day's row holds the day's latest totals"

    assert collect(engine, adapter, NOON + timedelta(days=1)).collected == 1
    assert [r.day for r in rows(engine, dest)] == [NOON.date(), (NOON + timedelta(days=1)).date()]


def test_a_number_the_platform_did_not_give_keeps_the_earlier_one(engine, world) -> None:
    dest = published(engine, world, "102")
    adapter = CountingAdapter({"102": PostMetricsSnapshot(likes=5, impressions=90)})
    collect(engine, adapter)
    adapter.numbers["102"] = PostMetricsSnapshot(likes=7)  # no views in this answer
    collect(engine, adapter, NOON + timedelta(hours=2))
    [row] = rows(engine, dest)
    assert (row.likes, row.impressions) == (7, 90)


def test_only_fresh_published_posts_of_usable_accounts_are_read(engine, world) -> None:
    fresh = published(engine, world, "1")
    too_old = published(engine, world, "2", at=NOON - timedelta(days=8))
    failed = published(engine, world, "3", status=DestinationStatus.FAILED)
    deleted = published(engine, world, "4", deleted=True)
    confirmed_by_a_person = published(engine, world, None)  # "It was published": no platform id
    with Session(engine) as session:
        workspace = session.get(Workspace, world.workspace)
        gone = make_social_account(session, workspace, status=AccountStatus.NEEDS_RECONNECT)
        session.commit()
        gone_id = gone.id
    of_gone_account = published(engine, world, "5", account_id=gone_id)

    adapter = CountingAdapter()
    assert collect(engine, adapter).collected == 1
    assert [post_id for _, post_id in adapter.reads] == ["1"]
    assert rows(engine, fresh)
    for other in (too_old, failed, deleted, confirmed_by_a_person, of_gone_account):
        assert rows(engine, other) == []


def test_a_window_of_zero_days_reads_nothing(engine, world) -> None:
    published(engine, world, "1")
    adapter = CountingAdapter()
    off = load_settings(metrics_window_days=0)
    assert collect(engine, adapter, settings=off) == post_metrics.CollectResult()
    assert adapter.reads == []


def test_a_platform_that_cannot_answer_is_asked_again_and_stops_no_other_post(engine, world) -> None:
    quiet = published(engine, world, "201")
    broken = published(engine, world, "202", at=NOON - timedelta(hours=2))
    fine = published(engine, world, "203", at=NOON - timedelta(hours=1))
    adapter = CountingAdapter(
        {"201": None, "202": RuntimeError("adapter bug"), "203": PostMetricsSnapshot(likes=4)}
    )

    result = collect(engine, adapter)
    assert (result.collected, result.unavailable) == (1, 2)
    assert rows(engine, quiet) == [] and rows(engine, broken) == []
    assert rows(engine, fine)[0].likes == 4

    adapter.numbers.update({"201": PostMetricsSnapshot(likes=1), "202": PostMetricsSnapshot(likes=2)})
    assert collect(engine, adapter, NOON + timedelta(minutes=5)).collected == 2, "no reading: asked again"


def test_the_freshest_posts_go_first_and_a_run_reads_at_most_a_batch(engine, world) -> None:
    older = published(engine, world, "old", at=NOON - timedelta(days=2))
    newer = published(engine, world, "new", at=NOON - timedelta(hours=1))
    adapter = CountingAdapter()
    collect(engine, adapter, settings=load_settings(metrics_batch_size=1))
    assert [post_id for _, post_id in adapter.reads] == ["new"]
    assert rows(engine, newer) and not rows(engine, older)


def test_an_expiring_token_is_renewed_once_for_all_the_accounts_posts(engine, world) -> None:
    published(engine, world, "301")
    published(engine, world, "302")
    with Session(engine) as session:
        account = session.get(SocialAccount, world.account)
        account.token_expires_at = NOON + timedelta(seconds=30)
        session.add(account)
        session.commit()
    adapter = CountingAdapter()
    adapter.refresh_answer = TokenSet("access-2", expires_at=NOON + timedelta(hours=2))

    assert collect(engine, adapter).collected == 2
    assert len(adapter.refreshed_with) == 1
    assert {token for token, _ in adapter.reads} == {"access-2"}
    with Session(engine) as session:
        stored = account_tokens.credentials_for(session.get(SocialAccount, world.account))
    assert (stored.access_token, stored.refresh_token) == ("access-2", "refresh-1"), "refresh token kept"


def test_a_revoked_refresh_skips_the_account_and_asks_for_a_reconnect(engine, world) -> None:
    dest = published(engine, world, "401")
    with Session(engine) as session:
        account = session.get(SocialAccount, world.account)
        account.token_expires_at = NOON - timedelta(minutes=1)
        session.add(account)
        session.commit()
    adapter = CountingAdapter()
    adapter.refresh_answer = RefreshRevoked("invalid_grant")

    assert collect(engine, adapter).skipped == 1
    assert adapter.reads == [] and rows(engine, dest) == []
    with Session(engine) as session:
        assert session.get(SocialAccount, world.account).status == AccountStatus.NEEDS_RECONNECT


def test_the_details_show_the_newest_reading(engine, world) -> None:
    dest = published(engine, world, "501")
    adapter = CountingAdapter({"501": PostMetricsSnapshot(likes=1)})
    collect(engine, adapter, NOON - timedelta(days=1))
    adapter.numbers["501"] = PostMetricsSnapshot(likes=9, comments=1, shares=0)
    collect(engine, adapter)

    with Session(engine) as session:
        post_id = session.get(PostDestination, dest).post_id
        view, metrics = post_metrics.post_with_metrics(
            session, actor_id=world.user, workspace_id=world.workspace, post_id=post_id
        )
    [destination] = view.destinations
    reading = metrics[destination.id]
    assert (reading.likes, reading.comments) == (9, 1)
    assert engagement_line(reading) == "9 likes · 1 comment · 0 shares"


def test_the_engagement_line_names_views_and_reach_only_when_reported() -> None:
    at = NOON
    assert engagement_line(None) == ""
    assert engagement_line(MetricsView(0, 0, 1, 0, 1, at)) == "1 like · 0 comments · 1 share"
    assert (
        engagement_line(MetricsView(12_500, 8_000, 310, 42, 7, at))
        == "310 likes · 42 comments · 7 shares · 12,500 views · reached 8,000"
    )


def test_a_post_published_to_the_sandbox_gets_its_numbers_read_end_to_end(
    sqlite_url, sqlite_engine, monkeypatch
) -> None:
    # The real registry and sandbox adapter (which writes to the app's database): publish, then read.
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        with Session(sqlite_engine) as session:
            user = make_user(session, name="Demo")
            workspace = make_workspace(session, owner=user)
            account = make_social_account(session, workspace, platform=Platform.SANDBOX, handle="@demo")
            account_tokens.store_tokens(account, TokenSet("sandbox"))
            post = make_post(session, workspace, status=PostStatus.SCHEDULED, content="Hello sandbox")
            dest = make_destination(
                session, post, account, next_attempt_at=utcnow() - timedelta(seconds=1)
            ).id
            session.commit()
        publishing.dispatch_due(sqlite_engine)
        assert publishing.publish_destination(sqlite_engine, dest).status == "published"

        result = post_metrics.collect_due(sqlite_engine, settings=SETTINGS)
        assert result == post_metrics.CollectResult(collected=1)
        [row] = rows(sqlite_engine, dest)
        assert 0 <= row.reach <= row.impressions and row.likes <= row.impressions
    finally:
        get_settings.cache_clear()
        get_engine.cache_clear()


class TimeUp(Exception):
    """Stands for the worker's soft time limit (the service does not know Celery)."""


def test_a_run_told_its_time_is_up_stops_and_keeps_what_it_read(engine, world) -> None:
    first = published(engine, world, "401", at=NOON - timedelta(hours=1))
    published(engine, world, "402", at=NOON - timedelta(hours=2))
    published(engine, world, "403", at=NOON - timedelta(hours=3))
    adapter = CountingAdapter({"402": TimeUp()})

    result = post_metrics.collect_due(
        engine, now=NOON, settings=SETTINGS, adapter_factory=lambda *_: adapter, interrupted=(TimeUp,)
    )
    assert [post_id for _, post_id in adapter.reads] == ["401", "402"]  # 403 is left for the next run
    assert result.collected == 1 and rows(engine, first)

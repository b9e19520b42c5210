"""Likes, comments, shares and views of published posts, read back from each platform.

While a post is fresh (`METRICS_WINDOW_DAYS` after it went out) the worker reads its numbers
again every `METRICS_INTERVAL_MINUTES`, and keeps one `PostMetrics` row per destination per
(UTC) day holding the day's latest reading — the platforms report running totals, so the last
row of a day is that day's total. Reading numbers never touches publishing: it uses no publish
budget, a platform that cannot answer now (rate limit, outage, a deleted post) is simply asked
again next time, and an expired token is renewed under the same per-account lock publishing
uses, so the two never refresh one account at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from postforge.models import (
    AccountStatus,
    DestinationStatus,
    Post,
    PostDestination,
    PostMetrics,
    SocialAccount,
    utcnow,
)
from postforge.platforms import registry
from postforge.platforms.base import AccountCredentials, PlatformAdapter, PostMetricsSnapshot
from postforge.services.channels import account_tokens
from postforge.services.content import posts
from postforge.services.infra import token_crypto
from postforge.services.kernel.upsert import dialect_insert
from postforge.settings import get_settings

logger = logging.getLogger(__name__)

RUN_BUDGET_SECONDS = 240.0  # one run stops starting new reads after this; the next tick goes on
FIELDS = ("impressions", "reach", "likes", "comments", "shares")

AdapterFactory = Callable[..., PlatformAdapter]


@dataclass(frozen=True)
class CollectResult:
    collected: int = 0  # readings stored
    unavailable: int = 0  # the platform gave no numbers this time (asked again next run)
    skipped: int = 0  # no usable sign-in (the account needs reconnecting) or no adapter


@dataclass(frozen=True)
class MetricsView:
    """A destination's latest numbers, for the pages."""

    impressions: int
    reach: int
    likes: int
    comments: int
    shares: int
    collected_at: datetime


@dataclass(frozen=True)
class _Due:
    destination_id: int
    platform_post_id: str
    account_id: int
    platform: str


def collect_due(
    engine: Engine,
    *,
    now: datetime | None = None,
    settings: Any = None,
    adapter_factory: AdapterFactory | None = None,
    interrupted: tuple[type[BaseException], ...] = (),
) -> CollectResult:
    """Read the numbers of the fresh published posts not read within the interval.

    `interrupted`: the exceptions by which the caller says time is up (the worker's soft time
    limit); the run then stops, keeping what it stored, and the next run goes on."""
    settings = settings or get_settings()
    now = now or utcnow()
    if settings.metrics_window_days <= 0:
        return CollectResult()
    factory = adapter_factory or registry.adapter_for
    started = time.monotonic()
    collected = unavailable = skipped = 0
    adapters: dict[str, PlatformAdapter | None] = {}
    credentials: dict[int, AccountCredentials | None] = {}
    for due in _due(engine, now, settings):
        if time.monotonic() - started > RUN_BUDGET_SECONDS:
            break
        if due.platform not in adapters:
            adapters[due.platform] = _adapter(factory, due.platform, settings)
        adapter = adapters[due.platform]
        if due.account_id not in credentials and adapter is not None:
            credentials[due.account_id] = _usable_credentials(engine, due.account_id, adapter, now)
        account = credentials.get(due.account_id)
        if adapter is None or account is None:
            skipped += 1
            continue
        try:
            snapshot = _read(adapter, account, due, interrupted)
        except interrupted:
            logger.warning("reading numbers ran out of time; the next run goes on")
            break
        if snapshot is None:
            unavailable += 1
            continue
        store(engine, due.destination_id, snapshot, now=now)
        collected += 1
    return CollectResult(collected=collected, unavailable=unavailable, skipped=skipped)


def _due(engine: Engine, now: datetime, settings: Any) -> list[_Due]:
    """Published destinations still in the window with no reading within the interval."""
    recent = now - timedelta(minutes=settings.metrics_interval_minutes)
    read_lately = (
        select(PostMetrics.id)
        .where(
            col(PostMetrics.destination_id) == PostDestination.id,
            col(PostMetrics.day) == now.date(),
            col(PostMetrics.collected_at) > recent,
        )
        .exists()
    )
    query = (
        select(
            PostDestination.id,
            PostDestination.platform_post_id,
            SocialAccount.id,
            SocialAccount.platform,
        )
        .join(SocialAccount, col(SocialAccount.id) == PostDestination.social_account_id)
        .join(Post, col(Post.id) == PostDestination.post_id)
        .where(
            PostDestination.status == DestinationStatus.PUBLISHED,
            col(PostDestination.published_at) >= now - timedelta(days=settings.metrics_window_days),
            col(PostDestination.platform_post_id).is_not(None),
            SocialAccount.status == AccountStatus.CONNECTED,
            col(Post.deleted_at).is_(None),
            ~read_lately,
        )
        .order_by(col(PostDestination.published_at).desc())
        .limit(settings.metrics_batch_size)
    )
    with Session(engine) as session:
        rows = session.exec(query).all()
    return [_Due(int(d), str(p), int(a), str(platform)) for d, p, a, platform in rows]


def _adapter(factory: AdapterFactory, platform: str, settings: Any) -> PlatformAdapter | None:
    try:
        return factory(platform, settings)
    except (ImportError, AttributeError, KeyError, ValueError):
        logger.exception("no adapter for %s: its posts' numbers are not read", platform)
        return None


def _usable_credentials(
    engine: Engine, account_id: int, adapter: PlatformAdapter, now: datetime
) -> AccountCredentials | None:
    """The account's tokens, renewed first when about to expire; None when they can't be used."""
    with Session(engine) as session:
        account = session.get(SocialAccount, account_id)
        if account is None or account.status != AccountStatus.CONNECTED:
            return None
        try:
            current = account_tokens.credentials_for(account)
        except token_crypto.TokenUnreadable:
            return None  # publishing marks the account and tells the user; nothing to read with
    if not (account_tokens.expiring(current, adapter, now) and adapter.can_refresh(current)):
        return current
    renewed = account_tokens.refresh_locked(engine, account_id, adapter, used_token=None, now=now)
    return renewed if isinstance(renewed, AccountCredentials) else None


def _read(
    adapter: PlatformAdapter,
    account: AccountCredentials,
    due: _Due,
    interrupted: tuple[type[BaseException], ...] = (),
) -> PostMetricsSnapshot | None:
    try:
        return adapter.fetch_metrics(account, due.platform_post_id)
    except interrupted:
        raise
    except Exception:  # an adapter bug must not stop the other posts' readings
        logger.exception("reading the numbers of destination %s failed", due.destination_id)
        return None


def store(engine: Engine, destination_id: int, snapshot: PostMetricsSnapshot, *, now: datetime) -> None:
    """Keep the reading as the day's row; a number the platform did not give keeps the earlier one."""
    table = PostMetrics.__table__
    given = {name: getattr(snapshot, name) for name in FIELDS}
    insert = dialect_insert(engine)(table).values(
        destination_id=destination_id,
        day=now.date(),
        collected_at=now,
        **{name: max(0, int(value or 0)) for name, value in given.items()},
    )
    update: dict[str, Any] = {"collected_at": insert.excluded.collected_at}
    for name, value in given.items():
        if value is not None:
            update[name] = insert.excluded[name]
    with engine.begin() as connection:
        connection.execute(
            insert.on_conflict_do_update(index_elements=[table.c.destination_id, table.c.day], set_=update)
        )


def post_with_metrics(
    session: Session, *, actor_id: int, workspace_id: int, post_id: int
) -> tuple[posts.PostView, dict[int, MetricsView]]:
    """A post as its details show it: the post, and each published destination's newest reading."""
    view = posts.get_post(session, actor_id=actor_id, workspace_id=workspace_id, post_id=post_id)
    published = [d.id for d in view.destinations if d.status == DestinationStatus.PUBLISHED]
    return view, latest_for(session, published)


def latest_for(session: Session, destination_ids: Iterable[int]) -> dict[int, MetricsView]:
    """Each destination's newest reading (by day, then time)."""
    ids = sorted({int(i) for i in destination_ids})
    if not ids:
        return {}
    newest_day = (
        select(PostMetrics.destination_id, sa.func.max(PostMetrics.day).label("day"))
        .where(col(PostMetrics.destination_id).in_(ids))
        .group_by(col(PostMetrics.destination_id))
        .subquery()
    )
    rows = session.exec(
        select(PostMetrics).join(
            newest_day,
            (col(PostMetrics.destination_id) == newest_day.c.destination_id)
            & (col(PostMetrics.day) == newest_day.c.day),
        )
    ).all()
    return {
        row.destination_id: MetricsView(
            impressions=row.impressions,
            reach=row.reach,
            likes=row.likes,
            comments=row.comments,
            shares=row.shares,
            collected_at=row.collected_at,
        )
        for row in rows
    }

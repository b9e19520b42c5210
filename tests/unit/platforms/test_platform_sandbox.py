"""The sandbox adapter's simulated engagement: numbers that follow from a post's id and age alone,
read for posts published into the sandbox feed, and None for anything else."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from postforge.db import get_engine
from postforge.models import SandboxPost
from postforge.platforms.base import AccountCredentials, PostMetricsSnapshot, Published, PublishRequest
from postforge.platforms.sandbox import GROWTH_HOURS, SANDBOX_TOKEN, SandboxAdapter, simulated_metrics
from postforge.settings import get_settings
from tests.support.factories import make_social_account, make_workspace

POSTED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def accounts(sqlite_url: str, sqlite_engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, int]]:
    """Two sandbox accounts in the app's own (migrated SQLite) database."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    with Session(sqlite_engine) as session:
        workspace = make_workspace(session)
        first, second = make_social_account(session, workspace), make_social_account(session, workspace)
        session.commit()
        yield first.id, second.id
    get_settings.cache_clear()
    get_engine.cache_clear()


def credentials(account_id: int | None) -> AccountCredentials:
    return AccountCredentials(platform_account_id="tester", access_token=SANDBOX_TOKEN, account_id=account_id)


def publish(account_id: int, text: str = "Hello, sandbox", key: str = "e" * 32) -> str:
    outcome = SandboxAdapter(get_settings()).publish(
        PublishRequest(text=text, idempotency_key=key, account=credentials(account_id))
    )
    assert isinstance(outcome, Published)
    return outcome.platform_post_id


def backdate(engine: sa.Engine, post_id: str, hours: float) -> datetime:
    created_at = datetime.now(UTC) - timedelta(hours=hours)
    with engine.begin() as connection:
        table = SandboxPost.__table__
        connection.execute(sa.update(table).where(table.c.id == int(post_id)).values(created_at=created_at))
    return created_at


# -- reading a published post -----------------------------------------------------------------


def test_a_published_post_reads_its_simulated_numbers(accounts, sqlite_engine) -> None:
    first, _ = accounts
    post_id = publish(first)
    adapter = SandboxAdapter(get_settings())

    fresh = adapter.fetch_metrics(credentials(first), post_id)
    created_at = backdate(sqlite_engine, post_id, hours=GROWTH_HOURS + 30)
    grown = adapter.fetch_metrics(credentials(first), post_id)

    full = simulated_metrics(int(post_id), created_at, created_at + timedelta(hours=GROWTH_HOURS))
    assert grown == full  # past the growth period, the numbers no longer move
    assert full.impressions and full.impressions >= 200
    assert fresh is not None
    assert all(a <= b for a, b in zip(astuple(fresh), astuple(full), strict=True))
    assert fresh.impressions < full.impressions  # seconds old: far from grown


def test_the_same_post_at_the_same_moment_always_reads_the_same(accounts, sqlite_engine) -> None:
    first, _ = accounts
    post_id = publish(first)
    backdate(sqlite_engine, post_id, hours=GROWTH_HOURS * 3)
    adapter = SandboxAdapter(get_settings())

    assert adapter.fetch_metrics(credentials(first), post_id) == adapter.fetch_metrics(
        credentials(first), post_id
    )


def test_unknown_ids_and_other_accounts_posts_have_no_metrics(accounts) -> None:
    first, second = accounts
    post_id = publish(first)
    adapter = SandboxAdapter(get_settings())

    assert adapter.fetch_metrics(credentials(first), str(int(post_id) + 1000)) is None
    for odd in ("post-1", "", "²", "9" * 30, f"{post_id} "):
        assert adapter.fetch_metrics(credentials(first), odd) is None
    assert adapter.fetch_metrics(credentials(second), post_id) is None
    assert adapter.fetch_metrics(credentials(None), post_id) is None
    assert adapter.fetch_metrics(credentials(first), post_id) is not None


def test_a_database_it_cannot_read_means_no_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")  # no tables in it
    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        assert SandboxAdapter(get_settings()).fetch_metrics(credentials(1), "1") is None
    finally:
        get_settings.cache_clear()
        get_engine.cache_clear()


# -- the simulation -----------------------------------------------------------------------------


def test_a_post_starts_at_zero_and_every_number_only_grows_until_it_settles() -> None:
    readings = [simulated_metrics(7, POSTED, POSTED + timedelta(hours=hours)) for hours in range(0, 73)]

    assert readings[0] == PostMetricsSnapshot(impressions=0, reach=0, likes=0, comments=0, shares=0)
    for earlier, later in pairwise(readings):
        assert all(a <= b for a, b in zip(astuple(earlier), astuple(later), strict=True))
    assert readings[6].impressions < readings[24].impressions < readings[GROWTH_HOURS].impressions
    assert readings[GROWTH_HOURS:] == [readings[GROWTH_HOURS]] * (73 - GROWTH_HOURS)
    settled = readings[GROWTH_HOURS]
    assert settled.impressions >= settled.reach >= settled.likes >= max(settled.comments, settled.shares)
    assert settled.likes > 0


def test_posts_differ_from_each_other_but_not_from_themselves() -> None:
    later = POSTED + timedelta(days=5)

    settled = {post_id: simulated_metrics(post_id, POSTED, later) for post_id in range(1, 21)}

    assert len({metrics.impressions for metrics in settled.values()}) > 10
    assert all(simulated_metrics(post_id, POSTED, later) == settled[post_id] for post_id in settled)
    assert all(200 <= metrics.impressions < 2000 for metrics in settled.values())


def test_a_naive_time_from_the_database_is_read_as_utc() -> None:
    naive = POSTED.replace(tzinfo=None)
    moment = POSTED + timedelta(hours=10)

    assert simulated_metrics(3, naive, moment) == simulated_metrics(3, POSTED, moment)
    assert simulated_metrics(3, POSTED, POSTED - timedelta(hours=2)).impressions == 0  # clock skew

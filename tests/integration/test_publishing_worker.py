"""Scheduled posts go out through a real beat and worker, over the embedded broker and over Redis.

The sandbox platform publishes into the database, so no outside service is involved: beat
dispatches the due destination, the worker publishes it, and the sandbox feed holds exactly one
post. How late it landed is printed (a figure to read, never a timed assertion).
"""

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from postforge.models import DestinationStatus, Platform, PostDestination, PostStatus, SandboxPost, utcnow
from tests.support.factories import (
    make_destination,
    make_post,
    make_social_account,
    make_user,
    make_workspace,
)
from tests.support.worker import celery_env, running_beat, running_worker, wait_for

PUBLISH_TIMEOUT_SECONDS = 60


def schedule_sandbox_post(engine: Engine, *, in_seconds: float) -> tuple[int, object]:
    due = utcnow() + timedelta(seconds=in_seconds)
    with Session(engine) as session:
        user = make_user(session)
        workspace = make_workspace(session, owner=user)
        account = make_social_account(session, workspace, platform=Platform.SANDBOX, handle="@sandbox")
        post = make_post(session, workspace, author=user, status=PostStatus.SCHEDULED, scheduled_at=due)
        destination = make_destination(session, post, account, next_attempt_at=due)
        session.commit()
        return destination.id, due


def published(engine: Engine, destination_id: int) -> PostDestination | None:
    with Session(engine) as session:
        row = session.get(PostDestination, destination_id)
        return row if row.status == DestinationStatus.PUBLISHED else None


def assert_published_once(engine: Engine, env: dict[str, str], tmp_path: Path) -> None:
    destination_id, due = schedule_sandbox_post(engine, in_seconds=3)
    with running_worker(env, tmp_path), running_beat(env, tmp_path):
        row = wait_for(
            lambda: published(engine, destination_id),
            timeout=PUBLISH_TIMEOUT_SECONDS,
            what="the published post",
        )
    print(f"published {(row.published_at - due).total_seconds():.2f} s after it was due")
    with Session(engine) as session:
        feed = session.exec(select(SandboxPost)).all()
    assert [post.idempotency_key for post in feed] == [row.idempotency_key]
    assert row.platform_post_id == str(feed[0].id)


def test_a_scheduled_post_goes_out_once_over_the_embedded_broker(sqlite_url, sqlite_engine, tmp_path):
    env = celery_env(database_url=sqlite_url, redis_url="", data_dir=tmp_path)
    assert_published_once(sqlite_engine, env, tmp_path)


def test_a_scheduled_post_goes_out_once_over_redis(
    redis_url, migrated_postgres_url, postgres_engine, tmp_path
):
    env = celery_env(database_url=migrated_postgres_url, redis_url=redis_url, data_dir=tmp_path)
    assert_published_once(postgres_engine, env, tmp_path)

"""Clerk webhook events on PostgreSQL: in through the HTTP door, applied by the worker's function.

`apply_identity_event` is what the worker task runs. The test with a real Celery worker runs once
worker/tasks.py offers `apply_identity_event_task` (and `APPLY_IDENTITY_EVENT_TASK`); until then it
skips, and the other tests here call `apply_identity_event` directly, as the task would.
"""

import json
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from starlette.applications import Starlette
from svix.webhooks import Webhook

from postforge.api.webhooks import ClerkWebhookConfig, clerk_webhook_route
from postforge.models import AuthIdentity, CreditTransaction, IdentityEvent, Post, User, Workspace
from postforge.services.identity.identity_webhooks import apply_identity_event
from postforge.settings import load_settings
from tests.support.factories import make_post
from tests.support.worker import celery_env, running_worker, wait_for

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TASK_TIMEOUT_SECONDS = 30
CLERK_ID = "user_pg_1"


def clerk_user(*, email: str = "ada@example.com", first_name: str = "Ada") -> dict:
    return {
        "id": CLERK_ID,
        "first_name": first_name,
        "last_name": "Lovelace",
        "primary_email_address_id": "idn_1",
        "email_addresses": [{"id": "idn_1", "email_address": email, "verification": {"status": "verified"}}],
    }


def signed(payload: dict, msg_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload)
    now = datetime.now(UTC)
    return body.encode(), {
        "svix-id": msg_id,
        "svix-timestamp": str(int(now.timestamp())),
        "svix-signature": Webhook(SECRET).sign(msg_id, now, body),
    }


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            model.__tablename__: session.exec(select(func.count()).select_from(model)).one()
            for model in (IdentityEvent, User, Workspace, CreditTransaction, AuthIdentity, Post)
        }


@pytest.fixture
def queued() -> list[str]:
    return []


@pytest.fixture
async def webhook(postgres_engine: Engine, queued: list[str]) -> AsyncIterator[httpx.AsyncClient]:
    config = ClerkWebhookConfig(secret=SECRET, source=postgres_engine, enqueue=queued.append)
    app = Starlette(routes=[clerk_webhook_route(lambda: config)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


async def deliver(client: httpx.AsyncClient, payload: dict, msg_id: str) -> None:
    body, headers = signed(payload, msg_id)
    response = await client.post("/api/webhooks/clerk", content=body, headers=headers)
    assert response.status_code == 200, response.text


def work_off(engine: Engine, queued: list[str]) -> list[str]:
    """Do what the worker does with everything queued so far."""
    outcomes = [apply_identity_event(engine, event_id) for event_id in queued]
    queued.clear()
    return outcomes


async def test_a_user_lifecycle_from_the_route_to_the_database(webhook, postgres_engine, queued):
    await deliver(webhook, {"type": "user.created", "data": clerk_user()}, "msg_1")
    await deliver(webhook, {"type": "user.created", "data": clerk_user()}, "msg_1")  # svix retried
    assert work_off(postgres_engine, queued) == ["applied", "already processed"]
    assert counts(postgres_engine) == {
        "identity_events": 1,
        "users": 1,
        "workspaces": 1,
        "credit_transactions": 1,
        "auth_identities": 1,
        "posts": 0,
    }

    await deliver(
        webhook,
        {"type": "user.updated", "data": clerk_user(email="ada.k@example.com", first_name="Augusta")},
        "msg_2",
    )
    assert work_off(postgres_engine, queued) == ["applied"]
    with Session(postgres_engine, expire_on_commit=False) as session:
        user = session.exec(select(User)).one()
        workspace = session.exec(select(Workspace)).one()
        make_post(session, workspace, author=user)
        session.commit()
    assert (user.email, user.name, workspace.credits) == ("ada.k@example.com", "Augusta Lovelace", 10)

    await deliver(webhook, {"type": "user.deleted", "data": {"id": CLERK_ID, "deleted": True}}, "msg_3")
    # A stale update redelivered after the deletion must not bring the user back (JSON lookup on JSONB).
    await deliver(webhook, {"type": "user.updated", "data": clerk_user()}, "msg_0")
    assert work_off(postgres_engine, queued) == ["applied", "ignored: the user was deleted in the directory"]
    assert counts(postgres_engine) == {
        "identity_events": 4,
        "users": 0,
        "workspaces": 0,
        "credit_transactions": 0,
        "auth_identities": 0,
        "posts": 0,
    }


def test_workers_racing_on_one_event_apply_it_once(postgres_engine):
    """A redelivered message can run on two workers at once; the outcome is still one user."""
    with Session(postgres_engine) as session:
        session.add(
            IdentityEvent(
                id="msg_twice", type="user.created", payload={"type": "user.created", "data": clerk_user()}
            )
        )
        session.commit()
    racers = 8
    barrier = threading.Barrier(racers, timeout=TASK_TIMEOUT_SECONDS)

    def work() -> str:
        barrier.wait()
        return apply_identity_event(postgres_engine, "msg_twice")

    with ThreadPoolExecutor(max_workers=racers) as pool:
        outcomes = [
            f.result(timeout=TASK_TIMEOUT_SECONDS) for f in [pool.submit(work) for _ in range(racers)]
        ]

    assert set(outcomes) <= {"applied", "already processed"} and "applied" in outcomes
    found = counts(postgres_engine)
    assert (found["users"], found["workspaces"], found["credit_transactions"], found["auth_identities"]) == (
        1,
        1,
        1,
        1,
    )
    with Session(postgres_engine) as session:
        assert session.get(IdentityEvent, "msg_twice").processed_at is not None


async def test_a_real_worker_applies_queued_events(
    migrated_postgres_url: str, postgres_engine: Engine, redis_url: str, tmp_path: Path
):
    tasks = pytest.importorskip("worker.tasks")
    if not hasattr(tasks, "APPLY_IDENTITY_EVENT_TASK"):
        pytest.skip("worker/tasks.py has no apply_identity_event_task yet")
    from worker.celery_app import create_celery_app

    producer = create_celery_app(
        load_settings(database_url=migrated_postgres_url, redis_url=redis_url, data_dir=tmp_path)
    )
    config = ClerkWebhookConfig(
        secret=SECRET,
        source=postgres_engine,
        enqueue=lambda event_id: producer.send_task(tasks.APPLY_IDENTITY_EVENT_TASK, args=[event_id]),
    )
    app = Starlette(routes=[clerk_webhook_route(lambda: config)])
    env = celery_env(database_url=migrated_postgres_url, redis_url=redis_url, data_dir=tmp_path)
    try:
        with running_worker(env, tmp_path):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as client:
                await deliver(client, {"type": "user.created", "data": clerk_user()}, "msg_worker")

            def applied() -> IdentityEvent | None:
                with Session(postgres_engine) as session:
                    row = session.get(IdentityEvent, "msg_worker")
                    return row if row and row.processed_at else None

            event = wait_for(applied, timeout=TASK_TIMEOUT_SECONDS, what="the worker to apply msg_worker")
    finally:
        producer.close()

    assert event.error == ""
    with Session(postgres_engine) as session:
        user = session.exec(select(User)).one()
        workspace = session.exec(select(Workspace)).one()
    assert user.email == "ada@example.com" and workspace.credits == 10

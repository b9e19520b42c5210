"""Stripe webhooks on PostgreSQL with real Celery workers: deliveries in through the HTTP route, processed
by worker processes, and the ledger checked afterwards.

* the same event delivered 20 times at once → stored once, one grant;
* `checkout.session.completed` and `…async_payment_succeeded` for one session → one grant;
* a refund that arrives before its checkout's completion → the same end state as in order;
* a tampered body, an old timestamp, the wrong secret → 400 and nothing stored.
"""

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from starlette.applications import Starlette

from postforge.api.stripe_webhook import StripeWebhookConfig, stripe_webhook_route
from postforge.models import CreditTransaction, Payment, PaymentStatus, Role, StripeEvent, TransactionType
from postforge.services.ledger import credits
from postforge.services.payments import billing, billing_events
from postforge.services.payments.stripe_webhooks import process_stripe_event
from postforge.settings import load_settings
from tests.support import stripe_events as se
from tests.support.factories import make_membership, make_user, make_workspace
from tests.support.worker import CeleryProcess, celery_env, running_worker, wait_for

WORKERS = 3
TIMEOUT = 60
SANDBOX = load_settings(environment="test", stripe_secret_key="")


@dataclass
class Setup:
    engine: Engine
    workspace_id: int
    user_id: int


@pytest.fixture
def shop(postgres_engine: Engine) -> Setup:
    with Session(postgres_engine) as session:
        billing.seed_plans(session)
        user = make_user(session)
        workspace = make_workspace(session, owner=user)
        make_membership(session, workspace, user, role=Role.ADMIN)
        credits.grant(
            session,
            workspace.id,
            amount=10,
            type=TransactionType.BONUS,
            description="Welcome",
            idempotency_key="w",
        )
        session.commit()
        return Setup(postgres_engine, workspace.id, user.id)


@dataclass
class Line:
    """The webhook route wired to real workers through Redis."""

    client: httpx.AsyncClient
    workers: list[CeleryProcess]
    sent: list[str]

    def processed_runs(self) -> int:
        return sum(
            len(re.findall(r"Task postforge\.stripe\.process_event\[[^\]]+\] succeeded", w.output()))
            for w in self.workers
        )

    def drain(self) -> None:
        """Wait until every queued task has run (each worker logs one line per task)."""
        wait_for(
            lambda: True if self.processed_runs() >= len(self.sent) else None,
            timeout=TIMEOUT,
            what=f"{len(self.sent)} Stripe tasks to run",
        )

    async def deliver(self, event: dict | bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        if isinstance(event, dict):
            body, headers = se.signed(event)
        else:
            body = event
        return await self.client.post("/api/stripe/webhook", content=body, headers=headers or {})


@pytest.fixture
def line(
    migrated_postgres_url: str, postgres_engine: Engine, redis_url: str, tmp_path: Path
) -> Iterator[Line]:
    from worker.celery_app import PROCESS_STRIPE_EVENT_TASK, create_celery_app

    producer = create_celery_app(
        load_settings(database_url=migrated_postgres_url, redis_url=redis_url, data_dir=tmp_path)
    )
    sent: list[str] = []

    def enqueue(event_id: str) -> None:
        producer.send_task(PROCESS_STRIPE_EVENT_TASK, args=[event_id])
        sent.append(event_id)

    config = StripeWebhookConfig(
        secret=se.SECRET, tolerance_seconds=300, source=postgres_engine, enqueue=enqueue
    )
    app = Starlette(routes=[stripe_webhook_route(lambda: config)])
    env = celery_env(database_url=migrated_postgres_url, redis_url=redis_url, data_dir=tmp_path)
    try:
        with ExitStack() as stack:
            workers = [stack.enter_context(running_worker(env, tmp_path)) for _ in range(WORKERS)]
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
            yield Line(client, workers, sent)  # ASGI transport: nothing to close between tests
    finally:
        producer.close()


def pending_checkout(shop: Setup) -> str:
    with Session(shop.engine) as session:
        started = billing.start_checkout(
            session,
            actor_id=shop.user_id,
            workspace_id=shop.workspace_id,
            plan_code="pack-popular",
            settings=SANDBOX,
        )
        session.commit()
        return started.checkout_session_id


def completed(shop: Setup, cs: str, event_type: str = billing_events.CHECKOUT_COMPLETED, **fields) -> dict:
    fields.setdefault("payment_intent", f"pi_{cs}")
    return se.stripe_event(event_type, se.checkout_session(cs, workspace_id=shop.workspace_id, **fields))


def refund(cs: str, amount_refunded: int = 2900) -> dict:
    return se.stripe_event(
        billing_events.CHARGE_REFUNDED, se.charge(f"pi_{cs}", amount_refunded=amount_refunded)
    )


def grants(shop: Setup, cs: str) -> int:
    with Session(shop.engine) as session:
        return session.exec(
            select(func.count())
            .select_from(CreditTransaction)
            .where(CreditTransaction.idempotency_key == billing.checkout_key(cs))
        ).one()


def balance(shop: Setup) -> int:
    with Session(shop.engine) as session:
        report = credits.check_invariant(session, shop.workspace_id)
        assert report.ok, report
        return report.balance


def payment(shop: Setup, cs: str) -> Payment:
    with Session(shop.engine) as session:
        return session.exec(select(Payment).where(Payment.checkout_session_id == cs)).one()


def stored_events(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(StripeEvent)).one()


def unprocessed(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).select_from(StripeEvent).where(col(StripeEvent.processed_at).is_(None))
        ).one()


async def test_the_same_event_delivered_twenty_times_at_once_grants_once(shop, line):
    cs = pending_checkout(shop)
    event = completed(shop, cs)
    responses = await asyncio.gather(*(line.deliver(event) for _ in range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    line.drain()

    assert stored_events(shop.engine) == 1 and unprocessed(shop.engine) == 0
    assert grants(shop, cs) == 1
    assert balance(shop) == 60
    assert payment(shop, cs).status == PaymentStatus.PAID


async def test_completed_and_async_succeeded_for_one_session_grant_once(shop, line):
    sessions = [pending_checkout(shop) for _ in range(5)]
    deliveries = []
    for cs in sessions:
        deliveries += [
            completed(shop, cs),
            completed(shop, cs, billing_events.CHECKOUT_ASYNC_SUCCEEDED),
            completed(shop, cs),  # a third event id for the same session (Stripe redelivered)
        ]
    responses = await asyncio.gather(*(line.deliver(event) for event in deliveries))
    assert {r.status_code for r in responses} == {200}
    line.drain()

    assert unprocessed(shop.engine) == 0
    assert [grants(shop, cs) for cs in sessions] == [1] * 5
    assert balance(shop) == 10 + 5 * 50


async def test_a_refund_before_its_completion_ends_as_if_they_came_in_order(shop, line):
    early = pending_checkout(shop)
    assert (await line.deliver(refund(early))).status_code == 200
    line.drain()  # processed first: no payment for its PaymentIntent yet
    assert (await line.deliver(completed(shop, early))).status_code == 200
    line.drain()

    # And races: refund and completion of further sessions delivered at the same moment.
    raced = [pending_checkout(shop) for _ in range(4)]
    events = [e for cs in raced for e in (refund(cs, 1450), completed(shop, cs))]
    await asyncio.gather(*(line.deliver(event) for event in events))
    line.drain()

    assert unprocessed(shop.engine) == 0
    full = payment(shop, early)
    assert (full.status, full.credits_taken_back, full.credits_owed) == (PaymentStatus.REFUNDED, 50, 0)
    for cs in raced:
        half = payment(shop, cs)
        assert (half.status, half.refunded_cents, half.credits_taken_back) == (
            PaymentStatus.PARTIALLY_REFUNDED,
            1450,
            25,
        ), cs
        assert grants(shop, cs) == 1
    assert balance(shop) == 10 + 4 * 25


def test_twenty_workers_racing_on_one_stored_event_apply_it_once(shop):
    """Processing itself under contention: the claim on the event row admits one."""
    cs = pending_checkout(shop)
    event = completed(shop, cs)
    with Session(shop.engine) as session:
        session.add(StripeEvent(id=event["id"], type=event["type"], payload=event))
        session.commit()
    racers = 20
    barrier = threading.Barrier(racers, timeout=TIMEOUT)

    def work() -> str:
        barrier.wait()
        return process_stripe_event(shop.engine, event["id"])

    with ThreadPoolExecutor(max_workers=racers) as pool:
        outcomes = [f.result(timeout=TIMEOUT) for f in [pool.submit(work) for _ in range(racers)]]
    assert sorted(set(outcomes)) == ["already processed", "granted 50 credits"]
    assert outcomes.count("granted 50 credits") == 1
    assert grants(shop, cs) == 1 and balance(shop) == 60


@asynccontextmanager
async def refused_route(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    queued: list[str] = []
    config = StripeWebhookConfig(
        secret=se.SECRET, tolerance_seconds=300, source=engine, enqueue=queued.append
    )
    app = Starlette(routes=[stripe_webhook_route(lambda: config)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client
    assert queued == []


async def test_unverifiable_deliveries_are_refused_and_nothing_is_stored(shop):
    cs = pending_checkout(shop)
    event = completed(shop, cs)
    body, headers = se.signed(event)
    tampered = body.replace(b'"amount_total": 2900', b'"amount_total": 9')
    old = se.signed(event, timestamp=int(time.time()) - 3600)
    wrong = se.signed(event, secret=se.OTHER_SECRET)
    async with refused_route(shop.engine) as client:
        for content, sent_headers in ((tampered, headers), old, wrong):
            response = await client.post("/api/stripe/webhook", content=content, headers=sent_headers)
            assert response.status_code == 400
    assert stored_events(shop.engine) == 0
    assert grants(shop, cs) == 0 and balance(shop) == 10

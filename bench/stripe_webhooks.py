"""Stripe webhook throughput on PostgreSQL: how fast the route acknowledges and the worker applies events.

Creates a throw-away database (TEST_POSTGRES_URL, as the tests do), N workspaces each with a
pending checkout, then:

1. acknowledges N signed `checkout.session.completed` deliveries through the real route (ASGI, 20
   in flight): latency p50/p95 and deliveries per second (verify + store + enqueue);
2. processes them with 1 and with 4 threads (`process_stripe_event`, what the worker runs):
   events per second, each granting credits;
3. processes 20 stored duplicates of one event at once (the exactly-once path under contention).

    .venv/bin/python bench/stripe_webhooks.py [N]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlmodel import Session
from starlette.applications import Starlette

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from postforge.api.stripe_webhook import StripeWebhookConfig, stripe_webhook_route
from postforge.models import Role
from postforge.services.ledger import credits
from postforge.services.payments import billing
from postforge.services.payments.stripe_webhooks import process_stripe_event, record_stripe_event
from postforge.settings import load_settings
from tests.support import stripe_events as se
from tests.support.db import make_test_engine, migrate
from tests.support.factories import make_membership, make_user, make_workspace
from tests.support.services import create_postgres_database, drop_postgres_database, postgres_admin_url

SANDBOX = load_settings(environment="test", stripe_secret_key="")


def setup(engine, count: int) -> list[tuple[int, str]]:
    checkouts = []
    with Session(engine) as session:
        billing.seed_plans(session)
        for index in range(count):
            user = make_user(session)
            workspace = make_workspace(session, owner=user)
            make_membership(session, workspace, user, role=Role.ADMIN)
            started = billing.start_checkout(
                session,
                actor_id=user.id,
                workspace_id=workspace.id,
                plan_code="pack-popular",
                settings=SANDBOX,
            )
            checkouts.append((workspace.id, started.checkout_session_id))
            if index % 100 == 99:
                session.commit()
        session.commit()
    return checkouts


def completed(workspace_id: int, cs: str) -> dict:
    return se.stripe_event(
        "checkout.session.completed",
        se.checkout_session(cs, workspace_id=workspace_id, payment_intent=f"pi_{cs}"),
    )


async def acknowledge(engine, events: list[dict]) -> tuple[list[float], float]:
    config = StripeWebhookConfig(
        secret=se.SECRET, tolerance_seconds=300, source=engine, enqueue=lambda _id: None
    )
    app = Starlette(routes=[stripe_webhook_route(lambda: config)])
    limit = asyncio.Semaphore(20)
    latencies: list[float] = []

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:

        async def one(event: dict) -> None:
            body, headers = se.signed(event)
            async with limit:
                started = time.perf_counter()
                response = await client.post("/api/stripe/webhook", content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text

        started = time.perf_counter()
        await asyncio.gather(*(one(event) for event in events))
        return latencies, time.perf_counter() - started


def process_all(engine, ids: list[str], threads: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = list(pool.map(lambda event_id: process_stripe_event(engine, event_id), ids))
    elapsed = time.perf_counter() - started
    assert all(outcome == "granted 50 credits" for outcome in outcomes), set(outcomes)
    return elapsed


def main(count: int) -> None:
    admin = postgres_admin_url()
    name = f"postforge_bench_{uuid.uuid4().hex[:8]}"
    url = create_postgres_database(admin, name)
    try:
        migrate(url)
        engine = make_test_engine(url)
        checkouts = setup(engine, 2 * count + 1)
        events = [completed(ws, cs) for ws, cs in checkouts]
        first, second, last = events[:count], events[count : 2 * count], events[-1]

        latencies, elapsed = asyncio.run(acknowledge(engine, first))
        p50, p95 = statistics.median(latencies), statistics.quantiles(latencies, n=20)[18]
        print(
            f"route: {count} deliveries in {elapsed:.2f} s = {count / elapsed:.0f}/s; "
            f"latency p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms (20 in flight)"
        )

        single = process_all(engine, [e["id"] for e in first], threads=1)
        print(f"worker, 1 thread: {count} events in {single:.2f} s = {count / single:.0f} events/s")
        with Session(engine) as session:
            for event in second:
                record_stripe_event(session, event)
            session.commit()
        four = process_all(engine, [e["id"] for e in second], threads=4)
        print(f"worker, 4 threads: {count} events in {four:.2f} s = {count / four:.0f} events/s")

        with Session(engine) as session:
            record_stripe_event(session, last)
            session.commit()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=20) as pool:
            outcomes = list(pool.map(lambda _: process_stripe_event(engine, last["id"]), range(20)))
        storm = time.perf_counter() - started
        with Session(engine) as session:
            balance = credits.check_invariant(
                session, int(last["data"]["object"]["metadata"]["workspace_id"])
            )
        print(
            f"20 concurrent runs of one event: {storm * 1000:.0f} ms, "
            f"{outcomes.count('granted 50 credits')} grant, balance {balance.balance}, invariant ok={balance.ok}"
        )
        engine.dispose()
    finally:
        drop_postgres_database(admin, name)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)

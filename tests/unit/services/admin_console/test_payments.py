"""Payments in the console: payments and refunds, subscriptions, links to Stripe, stuck events and
"process again" — audited."""

import pytest
from sqlmodel import Session, select

from postforge.models import AuditLog, IdentityEvent, PaymentStatus, StripeEvent, Workspace, utcnow
from postforge.services.admin_console import payments
from postforge.services.identity import identity_webhooks
from postforge.services.kernel.errors import Conflict, NotFound, ValidationFailed
from postforge.services.payments import stripe_webhooks
from tests.support.factories import make_payment, make_stripe_event, make_subscription
from tests.unit.services.admin_console.conftest import fingerprint


@pytest.fixture
def money(sqlite_engine, world, monkeypatch) -> dict:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_123")
    from postforge.settings import get_settings

    get_settings.cache_clear()
    with Session(sqlite_engine) as session:
        personal, team = session.get(Workspace, world.personal), session.get(Workspace, world.team)
        make_payment(
            session, personal, status=PaymentStatus.PAID, payment_intent_id="pi_123", amount_cents=2900
        )
        make_payment(
            session,
            team,
            status=PaymentStatus.REFUNDED,
            checkout_session_id="cs_sandbox_abc",
            refunded_cents=1500,
            amount_cents=1500,
            credits_taken_back=12,
            credits_owed=8,
        )
        make_subscription(session, team, stripe_subscription_id="sub_live_1")
        make_stripe_event(session, event_id="evt_stuck", attempts=20, error="RuntimeError: boom")
        make_stripe_event(session, event_id="evt_done", processed_at=utcnow())
        session.add(IdentityEvent(id="msg_1", type="user.updated", payload={}))
        session.commit()
    yield {}
    get_settings.cache_clear()


def test_payments_refunds_and_owed_credits_with_stripe_links(sqlite_engine, world, money) -> None:
    with Session(sqlite_engine) as session:
        every = payments.payments(session, actor_id=world.admin)
        owed = payments.payments(session, actor_id=world.admin, owed_only=True)
        refunded = payments.payments(session, actor_id=world.admin, status="refunded")
    assert every.total == 2
    paid = next(r for r in every.rows if r.status == "paid")
    assert (paid.amount, paid.stripe_url) == ("$29.00", "https://dashboard.stripe.com/test/payments/pi_123")
    assert [(r.refunded, r.credits_taken_back, r.credits_owed, r.stripe_url) for r in owed.rows] == [
        ("$15.00", 12, 8, "")  # a sandbox checkout: Stripe never saw it
    ]
    assert [r.workspace_name for r in refunded.rows] == ["Analytical Engines"]


def test_an_unknown_payment_status_is_refused(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session, pytest.raises(ValidationFailed, match="Filter by one of"):
        payments.payments(session, actor_id=world.admin, status="stolen")


def test_subscriptions_name_their_plan_and_source(sqlite_engine, world, money) -> None:
    with Session(sqlite_engine) as session:
        (row,) = payments.subscriptions(session, actor_id=world.admin)
    assert (row.workspace_name, row.plan_name, row.source) == ("Analytical Engines", "Pro", "stripe")
    assert row.stripe_url == "https://dashboard.stripe.com/test/subscriptions/sub_live_1"


def test_stuck_events_of_both_kinds_oldest_first(sqlite_engine, world, money) -> None:
    with Session(sqlite_engine) as session:
        stuck = payments.stuck_events(session, actor_id=world.admin)
    assert [(e.kind, e.id) for e in stuck] == [("stripe", "evt_stuck"), ("identity", "msg_1")]
    assert stuck[0].attempts == 20 and stuck[0].error == "RuntimeError: boom"


def test_processing_again_restarts_the_count_queues_the_event_and_is_audited(
    sqlite_engine, world, money, monkeypatch
) -> None:
    queued = []
    monkeypatch.setattr(stripe_webhooks, "_enqueuer", queued.append)
    monkeypatch.setattr(identity_webhooks, "_enqueuer", queued.append)
    with Session(sqlite_engine) as session:
        assert payments.process_again(session, actor_id=world.admin, kind="stripe", event_id="evt_stuck")
        assert payments.process_again(session, actor_id=world.admin, kind="identity", event_id="msg_1")
        session.commit()
        assert session.get(StripeEvent, "evt_stuck").attempts == 0
        rows = session.exec(select(AuditLog).where(AuditLog.action == "event.process_again")).all()
    assert queued == ["evt_stuck", "msg_1"]
    assert [(r.target_type, r.target_id) for r in rows] == [("event", "evt_stuck"), ("event", "msg_1")]


@pytest.mark.parametrize(
    ("kind", "event_id", "error", "message"),
    [
        ("paypal", "evt_stuck", ValidationFailed, "Stripe or an identity event"),
        ("stripe", "", NotFound, "not stored"),
        ("stripe", "evt_missing", NotFound, "not stored"),
        ("stripe", "evt_done", Conflict, "processed meanwhile"),
    ],
)
def test_processing_again_refuses_what_cannot_be_queued(
    sqlite_engine, world, money, kind, event_id, error, message
):
    before = fingerprint(sqlite_engine)
    with Session(sqlite_engine) as session, pytest.raises(error, match=message):
        payments.process_again(session, actor_id=world.admin, kind=kind, event_id=event_id)
    assert fingerprint(sqlite_engine) == before

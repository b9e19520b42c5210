"""Every Stripe event PostForge handles, processed as the worker does, with the ledger checked after each.

Runs on SQLite and PostgreSQL. Each event is stored the way the webhook route stores it and then
processed with `process_stripe_event` (what the worker task calls).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from postforge.models import (
    CreditTransaction,
    Payment,
    PaymentStatus,
    PricingPlan,
    Role,
    StripeEvent,
    Subscription,
    SubscriptionStatus,
    TransactionType,
    Workspace,
    utcnow,
)
from postforge.services.kernel.errors import Conflict
from postforge.services.ledger import credits
from postforge.services.operations import admin, housekeeping
from postforge.services.payments import billing, billing_events, stripe_webhooks
from postforge.services.payments.stripe_webhooks import process_stripe_event, record_stripe_event
from tests.support import stripe_events as se
from tests.support.factories import make_membership, make_user, make_workspace


@dataclass
class Shop:
    engine: Engine
    workspace_id: int
    user_id: int


@pytest.fixture
def shop(engine: Engine) -> Shop:
    with Session(engine) as session:
        billing.seed_plans(session)
        user = make_user(session, name="Buyer")
        workspace = make_workspace(session, owner=user, name="Shop")
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
        return Shop(engine, workspace.id, user.id)


def start(shop: Shop, plan_code: str = "pack-popular") -> str:
    """A pending sandbox payment, as the buy page would leave it; returns its checkout session id."""
    with Session(shop.engine) as session:
        started = billing.start_checkout(
            session, actor_id=shop.user_id, workspace_id=shop.workspace_id, plan_code=plan_code
        )
        session.commit()
    return started.checkout_session_id


def deliver(shop: Shop, event: dict) -> str:
    """Store the event like the route does and process it like the worker does."""
    with Session(shop.engine) as session:
        record_stripe_event(session, event)
        session.commit()
    return process_stripe_event(shop.engine, event["id"])


def balance(shop: Shop) -> int:
    with Session(shop.engine) as session:
        report = credits.check_invariant(session, shop.workspace_id)
        assert report.ok, report
        return report.balance


def payment(shop: Shop, session_id: str) -> Payment:
    with Session(shop.engine) as session:
        return session.exec(select(Payment).where(Payment.checkout_session_id == session_id)).one()


def ledger(shop: Shop) -> list[tuple[str, int, int]]:
    with Session(shop.engine) as session:
        rows = session.exec(
            select(CreditTransaction)
            .where(CreditTransaction.workspace_id == shop.workspace_id)
            .order_by(col(CreditTransaction.id))
        ).all()
        return [(str(row.type), row.amount, row.balance_after) for row in rows]


def completed(shop: Shop, session_id: str, **fields) -> dict:
    fields.setdefault("payment_intent", f"pi_{session_id}")
    return se.stripe_event(
        billing_events.CHECKOUT_COMPLETED,
        se.checkout_session(session_id, workspace_id=shop.workspace_id, **fields),
    )


@pytest.fixture(autouse=True)
def sandbox_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No Stripe key, not production: checkouts are sandbox ones (no network in these tests)."""
    from postforge.settings import get_settings

    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.setenv("ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# --- checkout ------------------------------------------------------------------------------------


def test_a_paid_checkout_grants_the_plans_credits_once(shop):
    cs = start(shop)
    assert payment(shop, cs).status == PaymentStatus.PENDING

    assert deliver(shop, completed(shop, cs)) == "granted 50 credits"
    assert balance(shop) == 60
    paid = payment(shop, cs)
    assert (paid.status, paid.payment_intent_id, paid.stripe_customer_id) == (
        PaymentStatus.PAID,
        f"pi_{cs}",
        "cus_test_1",
    )
    assert paid.paid_at is not None and paid.checkout_completed_at is not None

    replay = completed(shop, cs)
    assert deliver(shop, replay) == "credits already granted"  # same session, another event id
    assert process_stripe_event(shop.engine, replay["id"]) == "already processed"  # same event again
    assert balance(shop) == 60
    assert ledger(shop) == [("bonus", 10, 10), ("purchase", 50, 60)]


def test_a_delayed_payment_method_grants_when_it_clears_and_once(shop):
    cs = start(shop)
    assert deliver(shop, completed(shop, cs, payment_status="unpaid")) == (
        "checkout completed; waiting for the payment to clear"
    )
    pending = payment(shop, cs)
    assert pending.status == PaymentStatus.PENDING and pending.checkout_completed_at is not None
    assert balance(shop) == 10

    succeeded = se.stripe_event(
        billing_events.CHECKOUT_ASYNC_SUCCEEDED,
        se.checkout_session(cs, workspace_id=shop.workspace_id, payment_intent=f"pi_{cs}"),
    )
    assert deliver(shop, succeeded) == "granted 50 credits"
    # completed (paid) arriving after async_payment_succeeded: same checkout, no second grant
    assert deliver(shop, completed(shop, cs)) == "credits already granted"
    assert balance(shop) == 60


def test_a_failed_delayed_payment_marks_the_payment_failed_but_never_a_paid_one(shop):
    cs = start(shop)
    deliver(shop, completed(shop, cs, payment_status="unpaid"))
    failed = se.stripe_event(
        billing_events.CHECKOUT_ASYNC_FAILED,
        se.checkout_session(
            cs, workspace_id=shop.workspace_id, payment_status="unpaid", payment_intent=f"pi_{cs}"
        ),
    )
    assert deliver(shop, failed) == "payment failed; no credits granted"
    assert payment(shop, cs).status == PaymentStatus.FAILED
    assert balance(shop) == 10

    paid_cs = start(shop)
    deliver(shop, completed(shop, paid_cs))
    late_failure = se.stripe_event(
        billing_events.CHECKOUT_ASYNC_FAILED, se.checkout_session(paid_cs, workspace_id=shop.workspace_id)
    )
    assert deliver(shop, late_failure) == "ignored: this payment was already confirmed"
    assert payment(shop, paid_cs).status == PaymentStatus.PAID
    assert balance(shop) == 60


def test_an_expired_checkout_is_closed_unpaid(shop):
    cs = start(shop)
    expired = se.stripe_event(
        billing_events.CHECKOUT_EXPIRED,
        se.checkout_session(cs, workspace_id=shop.workspace_id, payment_status="unpaid"),
    )
    assert deliver(shop, expired) == "checkout expired unpaid"
    assert payment(shop, cs).status == PaymentStatus.EXPIRED
    assert balance(shop) == 10


def test_a_checkout_whose_payment_row_is_missing_is_recorded_from_its_metadata(shop):
    """The web request that opened the checkout died after Stripe created the session."""
    event = completed(shop, "cs_test_orphan", amount_total=2500, user_id=shop.user_id)
    assert deliver(shop, event) == "granted 50 credits"  # credits from our plan, not from the event
    recorded = payment(shop, "cs_test_orphan")
    assert (recorded.workspace_id, recorded.amount_cents, recorded.credits, recorded.plan_name) == (
        shop.workspace_id,
        2500,
        50,
        "Popular",
    )
    assert balance(shop) == 60


def test_a_checkout_that_is_not_ours_is_ignored(shop):
    foreign = se.stripe_event(
        billing_events.CHECKOUT_COMPLETED,
        se.checkout_session("cs_test_other", workspace_id=None, plan_code=None),
    )
    assert deliver(shop, foreign) == "ignored: not a PostForge checkout"
    unknown_workspace = se.stripe_event(
        billing_events.CHECKOUT_COMPLETED, se.checkout_session("cs_test_gone", workspace_id=999_999)
    )
    assert deliver(shop, unknown_workspace) == "ignored: not a PostForge checkout"
    assert balance(shop) == 10


def test_a_sandbox_checkout_the_server_never_opened_grants_nothing(shop):
    """Sandbox sessions are all opened here (a pending payment row): metadata cannot stand in for one."""
    forged = completed(
        shop, f"{billing.SANDBOX_SESSION_PREFIX}forged", plan_code="pack-pro", user_id=shop.user_id
    )
    assert deliver(shop, forged) == "ignored: not a PostForge checkout"
    with Session(shop.engine) as session:
        assert session.exec(select(Payment)).all() == []
    assert balance(shop) == 10


def test_sandbox_subscription_events_without_a_recorded_subscription_grant_nothing(shop):
    subscription = se.stripe_event(
        billing_events.SUBSCRIPTION_CREATED,
        se.subscription("sub_sandbox_forged", workspace_id=shop.workspace_id, plan_code="tier-business"),
    )
    assert deliver(shop, subscription) == "ignored: not a PostForge subscription"
    first_invoice = se.stripe_event(
        billing_events.INVOICE_PAID,
        se.invoice(
            "in_sandbox_forged",
            subscription_id="sub_sandbox_forged",
            workspace_id=shop.workspace_id,
            plan_code="tier-business",
            billing_reason="subscription_create",
        ),
    )
    assert deliver(shop, first_invoice) == "ignored: not a PostForge subscription"
    with Session(shop.engine) as session:
        assert session.exec(select(Subscription)).all() == []
    assert balance(shop) == 10


# --- refunds -------------------------------------------------------------------------------------


def refunded(cs: str, amount_refunded: int, *, amount: int = 2900, created: int | None = None) -> dict:
    return se.stripe_event(
        billing_events.CHARGE_REFUNDED,
        se.charge(f"pi_{cs}", amount=amount, amount_refunded=amount_refunded),
        created=created,
    )


def test_partial_then_full_refunds_take_back_proportional_credits_once(shop):
    cs = start(shop)
    deliver(shop, completed(shop, cs))
    half = refunded(cs, 1450)
    assert deliver(shop, half) == "$14.50 refunded; took back 25 credits"
    assert balance(shop) == 35
    assert payment(shop, cs).status == PaymentStatus.PARTIALLY_REFUNDED

    assert deliver(shop, refunded(cs, 1450)) == "$14.50 refunded; no further credits to take back"  # replay
    assert deliver(shop, refunded(cs, 2900)) == "$29.00 refunded; took back 25 credits"
    assert (
        deliver(shop, refunded(cs, 1450)) == "$29.00 refunded; no further credits to take back"
    )  # late, older
    assert balance(shop) == 10
    final = payment(shop, cs)
    assert (final.status, final.refunded_cents, final.credits_taken_back, final.credits_owed) == (
        PaymentStatus.REFUNDED,
        2900,
        50,
        0,
    )
    assert ledger(shop)[-2:] == [("chargeback", -25, 35), ("chargeback", -25, 10)]


def test_a_refund_the_balance_cannot_cover_is_recorded_as_owed_never_negative(shop):
    cs = start(shop)
    deliver(shop, completed(shop, cs))
    with Session(shop.engine) as session:  # 55 of the 60 credits are spent
        credits.reserve(session, user_id=shop.user_id, workspace_id=shop.workspace_id, amount=55)
        session.commit()
    assert deliver(shop, refunded(cs, 2900)) == (
        "$29.00 refunded; took back 5 credits, 45 owed (the balance could not cover them)"
    )
    assert balance(shop) == 0
    owing = payment(shop, cs)
    assert (owing.credits_taken_back, owing.credits_owed, owing.status) == (5, 45, PaymentStatus.REFUNDED)
    with Session(shop.engine) as session:
        owed = admin.owed_credits(session)
    assert [(row.workspace_id, row.credits_owed) for row in owed] == [(shop.workspace_id, 45)]


def test_a_refund_that_arrives_before_the_completion_is_applied_when_the_payment_is_confirmed(shop):
    cs = start(shop)
    assert deliver(shop, refunded(cs, 2900)).startswith("kept: no confirmed PostForge payment")
    assert balance(shop) == 10

    assert deliver(shop, completed(shop, cs)) == "granted 50 credits; $29.00 refunded; took back 50 credits"
    assert balance(shop) == 10
    final = payment(shop, cs)
    assert (final.status, final.refunded_cents, final.credits_taken_back) == (
        PaymentStatus.REFUNDED,
        2900,
        50,
    )
    assert ledger(shop) == [("bonus", 10, 10), ("purchase", 50, 60), ("chargeback", -50, 10)]
    # Later redeliveries of either event change nothing.
    deliver(shop, refunded(cs, 2900))
    deliver(shop, completed(shop, cs))
    assert balance(shop) == 10 and len(ledger(shop)) == 3


def test_a_refund_of_an_unknown_charge_changes_nothing(shop):
    assert deliver(shop, refunded("cs_nobody", 500)).startswith("kept:")
    no_intent = se.stripe_event(billing_events.CHARGE_REFUNDED, {"id": "ch_x", "amount_refunded": 5})
    assert deliver(shop, no_intent) == "ignored: the charge names no PaymentIntent"
    assert balance(shop) == 10


# --- subscriptions -------------------------------------------------------------------------------


def tier(shop: Shop) -> billing.TierView:
    with Session(shop.engine) as session:
        return billing.workspace_tier(session, shop.workspace_id)


def sub_event(shop: Shop, event_type: str, *, created: int, **fields) -> dict:
    return se.stripe_event(
        event_type, se.subscription("sub_test_1", workspace_id=shop.workspace_id, **fields), created=created
    )


def test_subscription_events_change_the_tier_and_older_ones_are_ignored(shop, engine):
    assert (tier(shop).plan.code, tier(shop).status, tier(shop).limit("max_accounts")) == (
        "tier-free",
        "free",
        3,
    )
    with Session(engine) as session:  # an admin gave the Business tier a Stripe price
        business = session.exec(select(PricingPlan).where(PricingPlan.code == "tier-business")).one()
        business.stripe_price_id = "price_business"
        session.add(business)
        session.commit()

    t = 1_900_000_000
    created = sub_event(shop, billing_events.SUBSCRIPTION_CREATED, created=t, status="incomplete")
    activated = sub_event(shop, billing_events.SUBSCRIPTION_UPDATED, created=t + 5, status="active")
    upgraded = sub_event(
        shop, billing_events.SUBSCRIPTION_UPDATED, created=t + 60, status="active", price_id="price_business"
    )
    deleted = sub_event(
        shop,
        billing_events.SUBSCRIPTION_DELETED,
        created=t + 120,
        status="canceled",
        price_id="price_business",
    )

    assert deliver(shop, activated) == "subscription active (Pro)"
    assert deliver(shop, created) == "ignored: older than the subscription state already recorded"
    assert (tier(shop).plan.code, tier(shop).status, tier(shop).limit("max_accounts")) == (
        "tier-pro",
        "active",
        10,
    )
    assert deliver(shop, upgraded) == "subscription active (Business)"  # the price decides the tier
    assert tier(shop).plan.code == "tier-business"
    assert deliver(shop, deleted) == "subscription canceled (Business)"
    assert (tier(shop).plan.code, tier(shop).status) == ("tier-free", "free")
    late = sub_event(shop, billing_events.SUBSCRIPTION_UPDATED, created=t + 200, status="active")
    assert deliver(shop, late) == "ignored: the subscription was already canceled"
    assert tier(shop).plan.code == "tier-free"
    assert balance(shop) == 10  # subscription events alone never grant credits


def test_invoice_paid_grants_the_monthly_allotment_once_per_invoice(shop):
    first = se.stripe_event(
        billing_events.INVOICE_PAID,
        se.invoice(
            "in_1",
            subscription_id="sub_test_2",
            workspace_id=shop.workspace_id,
            billing_reason="subscription_create",
        ),
    )
    assert deliver(shop, first) == "granted 100 monthly credits"  # before any subscription event
    with Session(shop.engine) as session:
        row = session.exec(select(Subscription)).one()
    assert (row.workspace_id, row.status) == (shop.workspace_id, SubscriptionStatus.ACTIVE)
    again = se.stripe_event(billing_events.INVOICE_PAID, first["data"]["object"])
    assert deliver(shop, again) == "monthly credits already granted"
    renewal = se.stripe_event(billing_events.INVOICE_PAID, se.invoice("in_2", subscription_id="sub_test_2"))
    assert deliver(shop, renewal) == "granted 100 monthly credits"  # found through the stored subscription
    proration = se.stripe_event(
        billing_events.INVOICE_PAID,
        se.invoice("in_3", subscription_id="sub_test_2", billing_reason="subscription_update"),
    )
    assert deliver(shop, proration) == "ignored: subscription_update invoices carry no monthly credits"
    one_off = se.stripe_event(billing_events.INVOICE_PAID, {"id": "in_4", "billing_reason": "manual"})
    assert deliver(shop, one_off) == "ignored: manual invoices carry no monthly credits"
    assert balance(shop) == 210
    assert [row[0] for row in ledger(shop)] == ["bonus", "subscription", "subscription"]


def test_a_subscription_checkout_and_its_first_invoice_grant_one_allotment(shop):
    cs = start(shop, "tier-pro")
    checkout = completed(
        shop,
        cs,
        mode="subscription",
        plan_code="tier-pro",
        amount_total=1900,
        payment_intent=None,
        subscription="sub_test_3",
        invoice="in_first",
    )
    assert deliver(shop, checkout) == "subscribed; granted 100 credits"
    assert (tier(shop).plan.code, tier(shop).status) == ("tier-pro", "active")
    invoice = se.stripe_event(
        billing_events.INVOICE_PAID,
        se.invoice("in_first", subscription_id="sub_test_3", billing_reason="subscription_create"),
    )
    assert deliver(shop, invoice) == "monthly credits already granted"
    assert balance(shop) == 110
    with Session(shop.engine) as session:
        history = billing.payment_history(session, actor_id=shop.user_id, workspace_id=shop.workspace_id)
    assert [(r.plan_name, r.kind, r.credits, r.balance_after) for r in history.rows] == [
        ("Pro", "subscription", 100, 110)
    ]
    with Session(shop.engine) as session, pytest.raises(Conflict):
        billing.start_checkout(
            session, actor_id=shop.user_id, workspace_id=shop.workspace_id, plan_code="tier-business"
        )


# --- the processing loop -------------------------------------------------------------------------


def test_unknown_event_types_are_stored_and_marked_processed(shop):
    event = se.stripe_event("customer.created", {"id": "cus_x", "object": "customer"})
    assert deliver(shop, event) == "ignored: PostForge does not use customer.created events"
    with Session(shop.engine) as session:
        stored = session.get(StripeEvent, event["id"])
    assert stored.processed_at is not None and stored.outcome.startswith("ignored")


def test_a_malformed_event_is_refused_for_good(shop):
    event = {
        "id": se.event_id(),
        "type": billing_events.CHECKOUT_COMPLETED,
        "data": {"object": {"object": "x"}},
    }
    assert deliver(shop, event) == "refused: The checkout session has no id."
    with Session(shop.engine) as session:
        stored = session.get(StripeEvent, event["id"])
    assert stored.processed_at is not None and stored.error == "The checkout session has no id."
    assert balance(shop) == 10


def test_a_crash_counts_an_attempt_rolls_back_and_the_sweep_retries_until_the_limit(shop, monkeypatch):
    cs = start(shop)
    event = completed(shop, cs)
    with Session(shop.engine) as session:
        record_stripe_event(session, event)
        session.commit()

    def boom(session, *args, **kwargs):
        raise RuntimeError("database hiccup")

    with monkeypatch.context() as patched, pytest.raises(RuntimeError):
        patched.setattr(billing_events.credits, "grant", boom)
        process_stripe_event(shop.engine, event["id"])
    with Session(shop.engine) as session:
        stored = session.get(StripeEvent, event["id"])
        assert (stored.processed_at, stored.attempts) == (None, 1)
        assert "database hiccup" in stored.error
        assert payment(shop, cs).status == PaymentStatus.PENDING  # the paid mark was rolled back too
        session.execute(sa.update(StripeEvent).values(received_at=utcnow() - timedelta(minutes=5)))
        session.commit()
    assert housekeeping.sweep(shop.engine).stripe_events_to_process == [event["id"]]

    assert process_stripe_event(shop.engine, event["id"]) == "granted 50 credits"
    assert housekeeping.sweep(shop.engine).stripe_events_to_process == []
    with Session(shop.engine) as session:
        session.execute(
            sa.update(StripeEvent).values(processed_at=None, attempts=stripe_webhooks.MAX_ATTEMPTS)
        )
        session.commit()
        assert stripe_webhooks.unprocessed_event_ids(session, older_than=timedelta(0)) == []
    assert balance(shop) == 60


def test_a_deleted_workspace_keeps_its_payment_record(shop):
    cs = start(shop)
    with Session(shop.engine) as session:
        session.execute(sa.delete(Workspace).where(col(Workspace.id) == shop.workspace_id))
        session.commit()
    # The payment row survives (money records stay); with its workspace gone it is no longer ours.
    assert payment(shop, cs).workspace_id is None
    assert (
        deliver(shop, completed(shop, cs))
        == "paid; its workspace no longer exists, so no credits were granted"
    )

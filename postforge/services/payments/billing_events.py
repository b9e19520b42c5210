"""What each Stripe event does to payments, credits and subscriptions.

`apply_event` is called by `stripe_webhooks.process_stripe_event` inside the transaction that
also marks the event processed, so an event's effects and its "done" mark commit together.
Every handler is safe to run again, in any order and concurrently with the others:

* **Checkout** (`checkout.session.completed` when paid, `…async_payment_succeeded`): the credits
  are granted under the ledger key `checkout:<session id>` — one grant per checkout session,
  whatever the number or order of events. A subscription checkout grants its first month under
  `invoice:<invoice id>`, the key `invoice.paid` uses too. `…async_payment_failed` marks a pending
  payment failed (never one already paid); `checkout.session.expired` closes a pending one.
* **Sandbox** objects (`cs_sandbox_…`, `sub_sandbox_…`, `in_sandbox_…`) are applied only to the
  payment and subscription rows PostForge recorded when the sandbox checkout opened: their
  metadata never creates a row, so an event naming a workspace and a plan grants nothing by itself.
* **Refunds** (`charge.refunded`, whose `amount_refunded` is cumulative): the credits proportional
  to the refunded share are taken back, minus what earlier refunds already took, so a replay or
  an older event takes nothing. What the balance cannot cover is recorded as owed on the payment
  (the balance never goes negative). A refund that arrives before its checkout is confirmed finds
  no payment for its PaymentIntent yet: it is kept (as the stored event) and the confirmation
  applies it right after granting — the ledger then shows the grant and the take-back.
* **Subscriptions** (`customer.subscription.created/updated/deleted`): the row follows Stripe's
  state; an event older than the last one applied is ignored, and a canceled subscription stays
  canceled (Stripe never revives one). `invoice.paid` grants the tier's monthly credits once per
  invoice (creation and renewal invoices only, not prorations).

On PostgreSQL, events about one PaymentIntent are serialized by a transaction-scoped advisory
lock (a refund and the confirmation of its checkout cannot interleave); on SQLite the event claim
already holds the database's single write lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from postforge.models import (
    Payment,
    PaymentStatus,
    PlanKind,
    PricingPlan,
    StripeEvent,
    Subscription,
    SubscriptionStatus,
    TransactionType,
    User,
    Workspace,
    utcnow,
)
from postforge.services.kernel.errors import ValidationFailed
from postforge.services.kernel.upsert import dialect_insert
from postforge.services.ledger import credits
from postforge.services.payments.billing import (
    SANDBOX_INVOICE_PREFIX,
    SANDBOX_SESSION_PREFIX,
    SANDBOX_SUBSCRIPTION_PREFIX,
    checkout_key,
    invoice_key,
    money,
)

CHECKOUT_COMPLETED = "checkout.session.completed"
CHECKOUT_ASYNC_SUCCEEDED = "checkout.session.async_payment_succeeded"
CHECKOUT_ASYNC_FAILED = "checkout.session.async_payment_failed"
CHECKOUT_EXPIRED = "checkout.session.expired"
CHARGE_REFUNDED = "charge.refunded"
SUBSCRIPTION_CREATED = "customer.subscription.created"
SUBSCRIPTION_UPDATED = "customer.subscription.updated"
SUBSCRIPTION_DELETED = "customer.subscription.deleted"
INVOICE_PAID = "invoice.paid"

PAID_STATES = {"paid", "no_payment_required"}
ALLOTMENT_REASONS = {"subscription_create", "subscription_cycle"}
STRIPE_SUBSCRIPTION_STATUS = {
    "incomplete": SubscriptionStatus.INCOMPLETE,
    "incomplete_expired": SubscriptionStatus.CANCELED,
    "trialing": SubscriptionStatus.TRIALING,
    "active": SubscriptionStatus.ACTIVE,
    "past_due": SubscriptionStatus.PAST_DUE,
    "unpaid": SubscriptionStatus.UNPAID,
    "canceled": SubscriptionStatus.CANCELED,
    "paused": SubscriptionStatus.UNPAID,  # no service until a payment method is added
}

Handler = Callable[[Session, Mapping[str, Any], datetime | None], str]


def apply_event(session: Session, event: Mapping[str, Any]) -> str:
    """Apply one verified Stripe event; returns what happened, in words for the admin pages."""
    event_type = str(event.get("type") or "")
    handler = HANDLERS.get(event_type)
    if handler is None:
        return f"ignored: PostForge does not use {event_type or 'untyped'} events"
    obj = (event.get("data") or {}).get("object") if isinstance(event.get("data"), Mapping) else None
    if not isinstance(obj, Mapping):
        raise ValidationFailed("The event carries no object.", field="data.object")
    return handler(session, obj, _timestamp(event.get("created")))


# --- small readers of Stripe objects ---------------------------------------------------------------


def _timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC) if value not in (None, "") else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _id(value: Any) -> str:
    """An id field, which Stripe sends as a string or (expanded) an object with an id."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return str(value).strip()[:255] if value else ""


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _first_item(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    container = obj.get(key)
    data = container.get("data") if isinstance(container, Mapping) else None
    return data[0] if isinstance(data, list) and data and isinstance(data[0], Mapping) else {}


# --- locking and rows ------------------------------------------------------------------------------


def _lock(session: Session, key: str) -> None:
    """Serialize the events about one Stripe object (PostgreSQL; SQLite is serialized already)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    number = int.from_bytes(hashlib.sha256(f"stripe:{key}".encode()).digest()[:8], "big", signed=True)
    session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": number})


def _insert(session: Session) -> Any:
    return dialect_insert(session)


def _sandbox(object_id: str) -> bool:
    """Made by the in-app sandbox checkout, which records its payment before any event is signed:
    a sandbox object without a row of ours is not ours, whatever its metadata says."""
    return object_id.startswith((SANDBOX_SESSION_PREFIX, SANDBOX_SUBSCRIPTION_PREFIX, SANDBOX_INVOICE_PREFIX))


def _workspace_from(session: Session, meta: Mapping[str, Any]) -> int | None:
    workspace_id = _int(meta.get("workspace_id"))
    if workspace_id is None:
        return None
    exists = session.execute(sa.select(Workspace.id).where(col(Workspace.id) == workspace_id)).scalar()
    return workspace_id if exists else None


def _plan_by_code(session: Session, code: Any) -> PricingPlan | None:
    if not code:
        return None
    return session.exec(select(PricingPlan).where(PricingPlan.code == str(code))).first()


def _plan_by_price(session: Session, price_id: str) -> PricingPlan | None:
    if not price_id:
        return None
    return session.exec(select(PricingPlan).where(PricingPlan.stripe_price_id == price_id)).first()


def _payment_by_session(session: Session, checkout_session_id: str) -> Payment | None:
    return session.exec(
        select(Payment).where(Payment.checkout_session_id == checkout_session_id).with_for_update()
    ).first()


def _checkout_payment(session: Session, obj: Mapping[str, Any]) -> Payment | None:
    """The payment of this checkout session, locked; recorded from the metadata if it is missing.

    It can be missing when the web request that opened the checkout failed after Stripe created
    the session. The workspace and plan come from the metadata PostForge set; the credits from
    our plan, the amount from Stripe. A session without our metadata is not ours: None.
    """
    session_id = _id(obj.get("id"))
    if not session_id:
        raise ValidationFailed("The checkout session has no id.", field="data.object.id")
    payment = _payment_by_session(session, session_id)
    if payment is not None or _sandbox(session_id):
        return payment
    meta = _metadata(obj)
    workspace_id = _workspace_from(session, meta)
    plan = _plan_by_code(session, meta.get("plan_code"))
    if workspace_id is None or plan is None:
        return None
    user_id = _int(meta.get("user_id"))
    if user_id is not None and session.get(User, user_id) is None:
        user_id = None
    amount = _int(obj.get("amount_total"))
    session.execute(
        _insert(session)(Payment)
        .values(
            workspace_id=workspace_id,
            user_id=user_id,
            plan_id=plan.id,
            plan_name=plan.name,
            checkout_session_id=session_id,
            amount_cents=amount if amount is not None and amount >= 0 else plan.price_cents,
            currency=str(obj.get("currency") or plan.currency)[:3],
            credits=plan.credits,
            status=PaymentStatus.PENDING,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["checkout_session_id"])
    )
    return _payment_by_session(session, session_id)


def _is_subscription(session: Session, payment: Payment, obj: Mapping[str, Any]) -> bool:
    if payment.plan_id is not None:
        kind = session.execute(
            sa.select(PricingPlan.kind).where(col(PricingPlan.id) == payment.plan_id)
        ).scalar()
        if kind is not None:
            return kind == PlanKind.SUBSCRIPTION
    return obj.get("mode") == "subscription"


# --- checkout --------------------------------------------------------------------------------------


def _completed_checkout(session: Session, obj: Mapping[str, Any]) -> Payment | None:
    """The checkout's payment, locked against its other events and marked complete; None if not ours."""
    payment_intent = _id(obj.get("payment_intent"))
    if payment_intent:
        _lock(session, f"payment_intent:{payment_intent}")
    payment = _checkout_payment(session, obj)
    if payment is not None:
        _note_completion(payment, obj)
    return payment


def _checkout_completed(session: Session, obj: Mapping[str, Any], created: datetime | None) -> str:
    payment = _completed_checkout(session, obj)
    if payment is None:
        return "ignored: not a PostForge checkout"
    if obj.get("payment_status") in PAID_STATES:
        return _fulfil(session, payment, obj)
    if payment.status == PaymentStatus.PENDING:
        return "checkout completed; waiting for the payment to clear"
    return f"checkout completed; the payment is already {payment.status}"


def _async_succeeded(session: Session, obj: Mapping[str, Any], created: datetime | None) -> str:
    payment = _completed_checkout(session, obj)
    if payment is None:
        return "ignored: not a PostForge checkout"
    return _fulfil(session, payment, obj)


def _async_failed(session: Session, obj: Mapping[str, Any], created: datetime | None) -> str:
    payment = _checkout_payment(session, obj)
    if payment is None:
        return "ignored: not a PostForge checkout"
    _note_completion(payment, obj)
    if payment.paid_at is not None:
        return "ignored: this payment was already confirmed"
    if payment.status != PaymentStatus.PENDING:
        return f"ignored: the payment is already {payment.status}"
    payment.status = PaymentStatus.FAILED
    session.add(payment)
    return "payment failed; no credits granted"


def _checkout_expired(session: Session, obj: Mapping[str, Any], created: datetime | None) -> str:
    payment = _payment_by_session(session, _id(obj.get("id")))
    if payment is None:
        return "ignored: no such checkout"
    if payment.status != PaymentStatus.PENDING or payment.paid_at is not None:
        return f"ignored: the payment is {payment.status}"
    payment.status = PaymentStatus.EXPIRED
    session.add(payment)
    return "checkout expired unpaid"


def _note_completion(payment: Payment, obj: Mapping[str, Any]) -> None:
    payment.checkout_completed_at = payment.checkout_completed_at or utcnow()
    payment.payment_intent_id = payment.payment_intent_id or _id(obj.get("payment_intent")) or None
    payment.stripe_customer_id = payment.stripe_customer_id or _id(obj.get("customer"))
    payment.stripe_subscription_id = payment.stripe_subscription_id or _id(obj.get("subscription"))
    amount = _int(obj.get("amount_total"))
    if amount is not None and amount >= 0 and payment.paid_at is None:
        payment.amount_cents = amount  # what Stripe charged (after any promotion code)
        payment.currency = str(obj.get("currency") or payment.currency)[:3]


def _fulfil(session: Session, payment: Payment, obj: Mapping[str, Any]) -> str:
    """The money is in: mark the payment paid and grant its credits, once."""
    if payment.paid_at is None:
        payment.paid_at = utcnow()
    if payment.status in (PaymentStatus.PENDING, PaymentStatus.FAILED, PaymentStatus.EXPIRED):
        payment.status = PaymentStatus.PAID
    session.add(payment)
    if payment.workspace_id is None:
        return "paid; its workspace no longer exists, so no credits were granted"
    if _is_subscription(session, payment, obj):
        outcome = _start_subscription(session, payment, obj)
    elif payment.credits <= 0:
        outcome = "paid; the plan carries no credits"
    else:
        entry = credits.grant(
            session,
            payment.workspace_id,
            amount=payment.credits,
            type=TransactionType.PURCHASE,
            description=f"Purchase: {payment.plan_name} pack ({payment.credits} credits)",
            idempotency_key=checkout_key(payment.checkout_session_id),
            user_id=payment.user_id,
            meta={"checkout_session_id": payment.checkout_session_id, "payment_id": payment.id},
        )
        outcome = "credits already granted" if entry.replayed else f"granted {payment.credits} credits"
    refunded, charged = _refund_seen(session, payment)
    if refunded > 0:
        outcome += "; " + _apply_refund(session, payment, amount_refunded=refunded, charge_amount=charged)
    session.flush()
    return outcome


def _start_subscription(session: Session, payment: Payment, obj: Mapping[str, Any]) -> str:
    assert payment.workspace_id is not None
    subscription_id = _id(obj.get("subscription"))
    if subscription_id:
        _subscription_row(
            session,
            subscription_id,
            workspace_id=payment.workspace_id,
            plan_id=payment.plan_id,
            customer=payment.stripe_customer_id,
        )
    invoice = _id(obj.get("invoice"))
    if not invoice:
        return "subscribed; the monthly credits come with the paid invoice"
    payment.stripe_invoice_id = payment.stripe_invoice_id or invoice
    session.add(payment)
    if payment.credits <= 0:
        return "subscribed"
    entry = credits.grant(
        session,
        payment.workspace_id,
        amount=payment.credits,
        type=TransactionType.SUBSCRIPTION,
        description=f"{payment.plan_name} plan: monthly credits",
        idempotency_key=invoice_key(invoice),
        user_id=payment.user_id,
        meta={"invoice": invoice, "subscription": subscription_id, "payment_id": payment.id},
    )
    return (
        "subscribed; monthly credits already granted"
        if entry.replayed
        else (f"subscribed; granted {payment.credits} credits")
    )


# --- refunds ---------------------------------------------------------------------------------------


def _refund_seen(session: Session, payment: Payment) -> tuple[int, int | None]:
    """The largest refund known for this payment: recorded on it, or in a stored refund event
    that arrived before the payment was confirmed. (Cumulative amounts: the largest is the latest.)
    """
    best: tuple[int, int | None] = (payment.refunded_cents, None)
    if not payment.payment_intent_id:
        return best
    payloads = session.exec(
        select(StripeEvent.payload).where(
            StripeEvent.type == CHARGE_REFUNDED,
            StripeEvent.payload[("data", "object", "payment_intent")].as_string()  # type: ignore[index]
            == payment.payment_intent_id,
        )
    ).all()
    for payload in payloads:
        charge = (payload.get("data") or {}).get("object") or {}
        refunded = _int(charge.get("amount_refunded")) or 0
        if refunded > best[0]:
            best = (refunded, _int(charge.get("amount")))
    return best


def _charge_refunded(session: Session, obj: Mapping[str, Any], created: datetime | None) -> str:
    payment_intent = _id(obj.get("payment_intent"))
    if not payment_intent:
        return "ignored: the charge names no PaymentIntent"
    _lock(session, f"payment_intent:{payment_intent}")
    payment = session.exec(
        select(Payment).where(Payment.payment_intent_id == payment_intent).with_for_update()
    ).first()
    if payment is None:
        return (
            f"kept: no confirmed PostForge payment for {payment_intent} yet; "
            "the refund is applied when its checkout is confirmed"
        )
    refunded = _int(obj.get("amount_refunded")) or 0
    return _apply_refund(session, payment, amount_refunded=refunded, charge_amount=_int(obj.get("amount")))


def _apply_refund(
    session: Session, payment: Payment, *, amount_refunded: int, charge_amount: int | None
) -> str:
    """Bring the credits taken back in line with the (cumulative) refunded amount."""
    refunded = max(payment.refunded_cents, amount_refunded)
    payment.refunded_cents = refunded
    session.add(payment)
    label = money(refunded, payment.currency)
    if payment.paid_at is None:
        return f"{label} refunded before the payment was confirmed; recorded"
    if refunded <= 0:
        return "nothing refunded"
    whole = charge_amount if charge_amount and charge_amount > 0 else payment.amount_cents
    full = whole <= 0 or refunded >= whole
    payment.status = PaymentStatus.REFUNDED if full else PaymentStatus.PARTIALLY_REFUNDED
    target = payment.credits if full else payment.credits * refunded // whole
    due = target - payment.credits_taken_back - payment.credits_owed
    if due <= 0 or payment.workspace_id is None:
        return f"{label} refunded; no further credits to take back"
    _entry, owed = credits.take_back(
        session,
        payment.workspace_id,
        amount=due,
        description=f"Refund of {label} on the {payment.plan_name} purchase",
        idempotency_key=f"refund:{payment.checkout_session_id}:{refunded}",
        meta={"checkout_session_id": payment.checkout_session_id, "payment_id": payment.id},
    )
    payment.credits_taken_back += due - owed
    payment.credits_owed += owed
    session.add(payment)
    session.flush()
    outcome = f"{label} refunded; took back {due - owed} credits"
    return outcome + (f", {owed} owed (the balance could not cover them)" if owed else "")


# --- subscriptions ---------------------------------------------------------------------------------


def _subscription_row(
    session: Session,
    subscription_id: str,
    *,
    workspace_id: int,
    plan_id: int | None,
    customer: str = "",
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE,
) -> Subscription:
    """The subscription row, locked; created (with `status`) when this is the first word of it."""
    session.execute(
        _insert(session)(Subscription)
        .values(
            workspace_id=workspace_id,
            plan_id=plan_id,
            stripe_subscription_id=subscription_id,
            stripe_customer_id=customer,
            status=status,
            cancel_at_period_end=False,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["stripe_subscription_id"])
    )
    row = session.exec(
        select(Subscription).where(Subscription.stripe_subscription_id == subscription_id).with_for_update()
    ).one()
    return row


def _subscription_plan(session: Session, obj: Mapping[str, Any]) -> PricingPlan | None:
    item = _first_item(obj, "items")
    price = item.get("price") if isinstance(item.get("price"), Mapping) else {}
    by_price = _plan_by_price(session, _id(price))
    if by_price is not None:
        return by_price
    return _plan_by_code(session, (price.get("metadata") or {}).get("plan_code")) or _plan_by_code(
        session, _metadata(obj).get("plan_code")
    )


def _subscription_created(session: Session, obj: Mapping[str, Any], created: datetime | None) -> str:
    return _apply_subscription(session, obj, created, change="created")


def _subscription_updated(session: Session, obj: Mapping[str, Any], created: datetime | None) -> str:
    return _apply_subscription(session, obj, created, change="updated")


def _subscription_deleted(session: Session, obj: Mapping[str, Any], created: datetime | None) -> str:
    return _apply_subscription(session, obj, created, change="deleted")


def _apply_subscription(
    session: Session, obj: Mapping[str, Any], created: datetime | None, *, change: str
) -> str:
    deleted = change == "deleted"
    subscription_id = _id(obj.get("id"))
    if not subscription_id:
        raise ValidationFailed("The subscription has no id.", field="data.object.id")
    existing = session.exec(
        select(Subscription).where(Subscription.stripe_subscription_id == subscription_id).with_for_update()
    ).first()
    plan = _subscription_plan(session, obj)
    if existing is None:
        workspace_id = None if _sandbox(subscription_id) else _workspace_from(session, _metadata(obj))
        if workspace_id is None:
            return "ignored: not a PostForge subscription"
        existing = _subscription_row(
            session,
            subscription_id,
            workspace_id=workspace_id,
            plan_id=plan.id if plan else None,
            status=SubscriptionStatus.INCOMPLETE,
        )
    row = existing
    if row.status == SubscriptionStatus.CANCELED and row.last_event_at is not None and not deleted:
        return "ignored: the subscription was already canceled"
    if row.last_event_at is not None and (
        change == "created" or (created is not None and created < row.last_event_at)
    ):
        # `created` is a subscription's first event: any state already applied is newer.
        return "ignored: older than the subscription state already recorded"
    status = (
        SubscriptionStatus.CANCELED
        if deleted
        else STRIPE_SUBSCRIPTION_STATUS.get(str(obj.get("status") or ""), row.status)
    )
    row.status = status
    if plan is not None:
        row.plan_id = plan.id
    row.stripe_customer_id = _id(obj.get("customer")) or row.stripe_customer_id
    period_end = _timestamp(
        _first_item(obj, "items").get("current_period_end") or obj.get("current_period_end")
    )
    row.current_period_end = period_end or row.current_period_end
    row.cancel_at_period_end = bool(obj.get("cancel_at_period_end"))
    if created is not None:
        row.last_event_at = max(created, row.last_event_at) if row.last_event_at else created
    session.add(row)
    session.flush()
    plan_name = plan.name if plan else "unknown plan"
    return f"subscription {status} ({plan_name})"


def _invoice_subscription(obj: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """The subscription an invoice bills and its metadata (newer and older API shapes)."""
    parent = obj.get("parent") if isinstance(obj.get("parent"), Mapping) else {}
    details = (
        parent.get("subscription_details") if isinstance(parent.get("subscription_details"), Mapping) else {}
    )
    legacy = obj.get("subscription_details") if isinstance(obj.get("subscription_details"), Mapping) else {}
    subscription_id = _id(obj.get("subscription")) or _id(details.get("subscription"))
    meta = details.get("metadata") or legacy.get("metadata") or {}
    return subscription_id, meta if isinstance(meta, Mapping) else {}


def _invoice_plan(session: Session, obj: Mapping[str, Any]) -> PricingPlan | None:
    line = _first_item(obj, "lines")
    pricing = line.get("pricing") if isinstance(line.get("pricing"), Mapping) else {}
    details = pricing.get("price_details") if isinstance(pricing.get("price_details"), Mapping) else {}
    return _plan_by_price(session, _id(details.get("price")) or _id(line.get("price")))


def _invoice_paid(session: Session, obj: Mapping[str, Any], created: datetime | None) -> str:
    invoice_id = _id(obj.get("id"))
    if not invoice_id:
        raise ValidationFailed("The invoice has no id.", field="data.object.id")
    reason = str(obj.get("billing_reason") or "")
    if reason and reason not in ALLOTMENT_REASONS:
        return f"ignored: {reason} invoices carry no monthly credits"
    subscription_id, meta = _invoice_subscription(obj)
    if not subscription_id:
        return "ignored: not a subscription invoice"
    row = session.exec(
        select(Subscription).where(Subscription.stripe_subscription_id == subscription_id).with_for_update()
    ).first()
    if row is None:
        sandbox = _sandbox(subscription_id) or _sandbox(invoice_id)
        workspace_id = None if sandbox else _workspace_from(session, meta)
        if workspace_id is None:
            return "ignored: not a PostForge subscription"
        plan = _plan_by_code(session, meta.get("plan_code"))
        row = _subscription_row(
            session,
            subscription_id,
            workspace_id=workspace_id,
            plan_id=plan.id if plan else None,
            customer=_id(obj.get("customer")),
        )
    plan = (
        _invoice_plan(session, obj)
        or (session.get(PricingPlan, row.plan_id) if row.plan_id else None)
        or _plan_by_code(session, meta.get("plan_code"))
    )
    if plan is None or plan.credits <= 0:
        return "invoice paid; no monthly credits on this plan"
    entry = credits.grant(
        session,
        row.workspace_id,
        amount=plan.credits,
        type=TransactionType.SUBSCRIPTION,
        description=f"{plan.name} plan: monthly credits",
        idempotency_key=invoice_key(invoice_id),
        meta={"invoice": invoice_id, "subscription": subscription_id},
    )
    return "monthly credits already granted" if entry.replayed else f"granted {plan.credits} monthly credits"


HANDLERS: dict[str, Handler] = {
    CHECKOUT_COMPLETED: _checkout_completed,
    CHECKOUT_ASYNC_SUCCEEDED: _async_succeeded,
    CHECKOUT_ASYNC_FAILED: _async_failed,
    CHECKOUT_EXPIRED: _checkout_expired,
    CHARGE_REFUNDED: _charge_refunded,
    SUBSCRIPTION_CREATED: _subscription_created,
    SUBSCRIPTION_UPDATED: _subscription_updated,
    SUBSCRIPTION_DELETED: _subscription_deleted,
    INVOICE_PAID: _invoice_paid,
}

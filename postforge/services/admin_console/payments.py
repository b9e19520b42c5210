"""Payments in the admin console: Stripe payments, refunds and subscriptions with links to the Stripe
dashboard, credits owed after refunds, and the Stripe and identity events still waiting to be
processed, with "process again".

Processing again only queues the stored event for the worker (the same path as the sweep) after
clearing its failed-attempt count, so the usual exactly-once rules apply to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from postforge.models import IdentityEvent, Payment, PaymentStatus, StripeEvent, Subscription, Workspace
from postforge.services.admin_console import audit
from postforge.services.admin_console.guard import authorize_admin
from postforge.services.admin_console.users import MAX_PAGE_SIZE, PAGE_SIZE
from postforge.services.admin_console.workspaces import COMPLIMENTARY_PREFIX
from postforge.services.identity import identity_webhooks
from postforge.services.kernel.errors import Conflict, NotFound, ValidationFailed
from postforge.services.payments import billing, stripe_webhooks
from postforge.settings import get_settings

EVENT_KINDS = ("stripe", "identity")
SANDBOX_PREFIXES = ("cs_sandbox_", "sub_sandbox_", "pi_sandbox_", "in_sandbox_", "cus_sandbox_")


@dataclass(frozen=True)
class PaymentRow:
    id: int
    workspace_id: int | None
    workspace_name: str
    plan_name: str
    amount: str
    refunded: str
    credits: int
    credits_taken_back: int
    credits_owed: int
    status: str
    created_at: datetime
    stripe_url: str  # "" for the sandbox checkout


@dataclass(frozen=True)
class PaymentPage:
    rows: list[PaymentRow]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class SubscriptionRow:
    id: int
    workspace_id: int
    workspace_name: str
    plan_name: str
    status: str
    current_period_end: datetime | None
    cancel_at_period_end: bool
    source: str  # "stripe", "sandbox" or "complimentary"
    stripe_url: str


@dataclass(frozen=True)
class StuckEvent:
    kind: str  # stripe | identity
    id: str
    type: str
    received_at: datetime
    attempts: int
    error: str


def stripe_dashboard_url(path: str, object_id: str) -> str:
    """The object's page on the Stripe dashboard ("" for sandbox objects, which Stripe never saw)."""
    if not object_id or object_id.startswith(SANDBOX_PREFIXES) or object_id.startswith(COMPLIMENTARY_PREFIX):
        return ""
    mode = "test/" if get_settings().stripe_secret_key.startswith(("sk_test_", "rk_test_")) else ""
    return f"https://dashboard.stripe.com/{mode}{path}/{object_id}"


def _parse_status(value: str) -> PaymentStatus | None:
    text = str(value or "").strip()
    if not text or text == "any":
        return None
    try:
        return PaymentStatus(text)
    except ValueError:
        choices = ", ".join(s.value for s in PaymentStatus)
        raise ValidationFailed(f"Filter by one of: {choices}.", field="status") from None


def payments(
    session: Session,
    *,
    actor_id: int,
    status: str = "",
    owed_only: bool = False,
    limit: int = PAGE_SIZE,
    offset: int = 0,
) -> PaymentPage:
    """Payments across workspaces, newest first; refunds show as refunded amounts and credits owed."""
    authorize_admin(session, actor_id)
    wanted = _parse_status(status)
    limit, offset = max(1, min(int(limit), MAX_PAGE_SIZE)), max(0, int(offset))
    where = []
    if wanted is not None:
        where.append(col(Payment.status) == wanted)
    if owed_only:
        where.append(col(Payment.credits_owed) > 0)
    total = session.execute(sa.select(func.count()).select_from(Payment).where(*where)).scalar_one()
    rows = session.exec(
        select(Payment, Workspace)
        .join(Workspace, col(Workspace.id) == Payment.workspace_id, isouter=True)
        .where(*where)
        .order_by(col(Payment.created_at).desc(), col(Payment.id).desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return PaymentPage(
        [
            PaymentRow(
                id=p.id or 0,
                workspace_id=p.workspace_id,
                workspace_name=w.name if w is not None else "(deleted workspace)",
                plan_name=p.plan_name,
                amount=billing.money(p.amount_cents, p.currency),
                refunded=billing.money(p.refunded_cents, p.currency) if p.refunded_cents else "",
                credits=p.credits,
                credits_taken_back=p.credits_taken_back,
                credits_owed=p.credits_owed,
                status=str(p.status),
                created_at=p.created_at,
                stripe_url=stripe_dashboard_url("payments", p.payment_intent_id or "")
                or stripe_dashboard_url("checkout/sessions", p.checkout_session_id),
            )
            for p, w in rows
        ],
        int(total),
        limit,
        offset,
    )


def subscriptions(session: Session, *, actor_id: int, limit: int = 50) -> list[SubscriptionRow]:
    """Subscriptions across workspaces, most recently changed first."""
    authorize_admin(session, actor_id)
    rows = session.exec(
        select(Subscription, Workspace, billing.PricingPlan)
        .join(Workspace, col(Workspace.id) == Subscription.workspace_id)
        .join(billing.PricingPlan, col(billing.PricingPlan.id) == Subscription.plan_id, isouter=True)
        .order_by(col(Subscription.updated_at).desc(), col(Subscription.id).desc())
        .limit(max(1, min(int(limit), MAX_PAGE_SIZE)))
    ).all()
    return [
        SubscriptionRow(
            id=s.id or 0,
            workspace_id=w.id or 0,
            workspace_name=w.name,
            plan_name=plan.name if plan is not None else "(removed plan)",
            status=str(s.status),
            current_period_end=s.current_period_end,
            cancel_at_period_end=s.cancel_at_period_end,
            source=_source(s.stripe_subscription_id),
            stripe_url=stripe_dashboard_url("subscriptions", s.stripe_subscription_id),
        )
        for s, w, plan in rows
    ]


def _source(subscription_id: str) -> str:
    if subscription_id.startswith(COMPLIMENTARY_PREFIX):
        return "complimentary"
    return "sandbox" if subscription_id.startswith(SANDBOX_PREFIXES) else "stripe"


def stuck_events(session: Session, *, actor_id: int, limit: int = 50) -> list[StuckEvent]:
    """Stripe and identity events stored but not yet processed, oldest first."""
    authorize_admin(session, actor_id)
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    stripe_rows = session.exec(
        select(StripeEvent)
        .where(col(StripeEvent.processed_at).is_(None))
        .order_by(col(StripeEvent.received_at))
        .limit(limit)
    ).all()
    identity_rows = session.exec(
        select(IdentityEvent)
        .where(col(IdentityEvent.processed_at).is_(None))
        .order_by(col(IdentityEvent.received_at))
        .limit(limit)
    ).all()
    found = [StuckEvent("stripe", e.id, e.type, e.received_at, e.attempts, e.error) for e in stripe_rows] + [
        StuckEvent("identity", e.id, e.type, e.received_at, 0, e.error) for e in identity_rows
    ]
    return sorted(found, key=lambda e: e.received_at)[:limit]


def process_again(session: Session, *, actor_id: int, kind: str, event_id: str, ip: str = "") -> bool:
    """Queue a stored, unprocessed event for the worker again; False when the queue was unreachable
    (the minutely sweep then picks it up)."""
    actor = authorize_admin(session, actor_id)
    if kind not in EVENT_KINDS:
        raise ValidationFailed("Choose a Stripe or an identity event.", field="kind")
    event_id = str(event_id or "").strip()
    model = StripeEvent if kind == "stripe" else IdentityEvent
    event = session.get(model, event_id) if event_id else None
    if event is None:
        raise NotFound("That event is not stored here.")
    if event.processed_at is not None:
        raise Conflict("That event was processed meanwhile: nothing to do.")
    before = {"attempts": getattr(event, "attempts", 0), "error": event.error[:200] or None}
    if kind == "stripe":
        event.attempts = 0  # the sweep gives up after MAX_ATTEMPTS; a person asking starts it over
        session.add(event)
    audit.record(
        session,
        actor=actor,
        action="event.process_again",
        target_type="event",
        target_id=event_id[:64],
        target_label=f"{kind} {event.type}",
        before=before,
        after={"queued": True},
        ip=ip,
    )
    session.flush()
    enqueue = (
        stripe_webhooks.enqueue_stripe_event if kind == "stripe" else identity_webhooks.enqueue_identity_event
    )
    return enqueue(event_id)

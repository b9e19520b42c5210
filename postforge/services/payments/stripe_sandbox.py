"""The sandbox checkout: an in-app stand-in for Stripe's hosted page, for running without keys.

`sandbox_checkout` shows what is being bought; `sandbox_payment_events` plays Stripe's part once
the member "pays": it builds the events Stripe would send (shaped like Stripe's own) from the
pending payment row recorded when the checkout opened — workspace, plan, amount and credits never
come from the browser, which only names its checkout — and signs them with the server's own
random webhook secret. Processing never creates a payment or subscription from a sandbox event's
metadata (`billing_events`): a sandbox object is applied only to rows recorded here. The page then POSTs them to `/api/stripe/webhook`, so the
same route, verification, storage and worker processing run as with real Stripe. Nothing here
grants credits. Sandbox checkouts exist only when no Stripe key is set, and never in production.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from postforge.models import Payment, PaymentStatus, PlanKind, PricingPlan, Subscription
from postforge.services.kernel.errors import NotFound, ValidationFailed
from postforge.services.payments import billing
from postforge.services.payments.billing_events import (
    CHECKOUT_ASYNC_FAILED,
    CHECKOUT_ASYNC_SUCCEEDED,
    CHECKOUT_COMPLETED,
    INVOICE_PAID,
    SUBSCRIPTION_CREATED,
    SUBSCRIPTION_DELETED,
)
from postforge.services.payments.stripe_webhooks import sign_payload, webhook_secret
from postforge.services.tenancy import workspaces
from postforge.settings import Settings, get_settings

API_VERSION = "2026-10-28.endive"
PAY = "pay"
DELAYED_SUCCESS = "delayed_success"
DELAYED_FAILURE = "delayed_failure"
OUTCOMES = (PAY, DELAYED_SUCCESS, DELAYED_FAILURE)
MONTH_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class SandboxCheckout:
    checkout_session_id: str
    plan_name: str
    kind: str
    credits: int
    amount: str
    status: str
    open: bool  # still waiting to be paid


@dataclass(frozen=True)
class SignedEvent:
    """An event body exactly as sent, and its Stripe-Signature header."""

    id: str
    type: str
    body: str
    signature: str


@dataclass(frozen=True)
class SandboxDelivery:
    now: list[SignedEvent]  # send these at once
    later: list[SignedEvent]  # and these after a short pause (a delayed payment method clears)


def _require_sandbox(settings: Settings) -> None:
    if billing.checkout_mode(settings) != "sandbox":
        raise ValidationFailed("The sandbox checkout is switched off on this server.")


def _sandbox_payment(
    session: Session, actor_id: int, checkout_session_id: str
) -> tuple[Payment, PricingPlan | None]:
    session_id = (checkout_session_id or "").strip()
    if not session_id.startswith(billing.SANDBOX_SESSION_PREFIX):
        raise NotFound("We have no record of that sandbox checkout.")
    payment = session.exec(select(Payment).where(Payment.checkout_session_id == session_id)).first()
    if payment is None or payment.workspace_id is None:
        raise NotFound("We have no record of that sandbox checkout.")
    workspaces.authorize(
        session, user_id=actor_id, workspace_id=payment.workspace_id, action="manage_billing"
    )
    plan = session.get(PricingPlan, payment.plan_id) if payment.plan_id else None
    return payment, plan


def sandbox_checkout(
    session: Session, *, actor_id: int, checkout_session_id: str, settings: Settings | None = None
) -> SandboxCheckout:
    _require_sandbox(settings or get_settings())
    payment, plan = _sandbox_payment(session, actor_id, checkout_session_id)
    return SandboxCheckout(
        checkout_session_id=payment.checkout_session_id,
        plan_name=payment.plan_name,
        kind=str(plan.kind if plan else PlanKind.CREDIT_PACK),
        credits=payment.credits,
        amount=billing.money(payment.amount_cents, payment.currency),
        status=str(payment.status),
        open=payment.status == PaymentStatus.PENDING and payment.checkout_completed_at is None,
    )


def _event(event_type: str, obj: dict[str, Any], secret: str, *, created: int) -> SignedEvent:
    event_id = f"evt_sandbox_{secrets.token_hex(12)}"
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": API_VERSION,
            "created": created,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
    )
    return SignedEvent(id=event_id, type=event_type, body=body, signature=sign_payload(body, secret))


def sandbox_payment_events(
    session: Session,
    *,
    actor_id: int,
    checkout_session_id: str,
    outcome: str = PAY,
    settings: Settings | None = None,
) -> SandboxDelivery:
    """The signed events Stripe would send when this checkout is paid (or its bank says no)."""
    settings = settings or get_settings()
    _require_sandbox(settings)
    if outcome not in OUTCOMES:
        raise ValidationFailed("Choose how the sandbox payment should go.", field="outcome")
    payment, plan = _sandbox_payment(session, actor_id, checkout_session_id)
    if payment.status != PaymentStatus.PENDING or payment.checkout_completed_at is not None:
        raise ValidationFailed("This checkout was already completed.")
    subscription = plan is not None and plan.kind == PlanKind.SUBSCRIPTION
    if subscription and outcome != PAY:
        raise ValidationFailed("Sandbox subscriptions are paid by card at once.", field="outcome")
    secret = webhook_secret(settings)
    now = int(time.time())
    token = payment.checkout_session_id.removeprefix(billing.SANDBOX_SESSION_PREFIX)
    metadata = {
        "workspace_id": str(payment.workspace_id),
        "plan_code": plan.code if plan else "",
        "user_id": str(payment.user_id or ""),
    }
    customer = f"{billing.SANDBOX_CUSTOMER_PREFIX}{payment.workspace_id}"
    session_object: dict[str, Any] = {
        "id": payment.checkout_session_id,
        "object": "checkout.session",
        "mode": "subscription" if subscription else "payment",
        "status": "complete",
        "payment_status": "paid" if outcome == PAY else "unpaid",
        "amount_total": payment.amount_cents,
        "currency": payment.currency,
        "customer": customer,
        "client_reference_id": str(payment.workspace_id),
        "metadata": metadata,
        "payment_intent": None if subscription else f"pi_sandbox_{token}",
        "subscription": f"{billing.SANDBOX_SUBSCRIPTION_PREFIX}{token}" if subscription else None,
        "invoice": f"{billing.SANDBOX_INVOICE_PREFIX}{token}" if subscription else None,
        "livemode": False,
    }
    if subscription:
        assert plan is not None
        sub = _subscription_object(
            f"{billing.SANDBOX_SUBSCRIPTION_PREFIX}{token}",
            customer,
            plan,
            metadata,
            status="active",
            now=now,
        )
        invoice = {
            "id": f"{billing.SANDBOX_INVOICE_PREFIX}{token}",
            "object": "invoice",
            "billing_reason": "subscription_create",
            "customer": customer,
            "amount_paid": payment.amount_cents,
            "currency": payment.currency,
            "status": "paid",
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": sub["id"], "metadata": metadata},
            },
        }
        # The checkout first: it opens the subscription row from the payment recorded here, which
        # the subscription and invoice events then update (sandbox events never create rows).
        return SandboxDelivery(
            now=[
                _event(CHECKOUT_COMPLETED, session_object, secret, created=now),
                _event(SUBSCRIPTION_CREATED, sub, secret, created=now),
                _event(INVOICE_PAID, invoice, secret, created=now),
            ],
            later=[],
        )
    first = _event(CHECKOUT_COMPLETED, session_object, secret, created=now)
    if outcome == PAY:
        return SandboxDelivery(now=[first], later=[])
    settled = {**session_object, "payment_status": "paid" if outcome == DELAYED_SUCCESS else "unpaid"}
    follow_up = CHECKOUT_ASYNC_SUCCEEDED if outcome == DELAYED_SUCCESS else CHECKOUT_ASYNC_FAILED
    return SandboxDelivery(now=[first], later=[_event(follow_up, settled, secret, created=now + 1)])


def _subscription_object(
    subscription_id: str,
    customer: str,
    plan: PricingPlan,
    metadata: dict[str, str],
    *,
    status: str,
    now: int,
) -> dict[str, Any]:
    price = {
        "id": plan.stripe_price_id or f"price_sandbox_{plan.code}",
        "object": "price",
        "unit_amount": plan.price_cents,
        "currency": plan.currency,
        "recurring": {"interval": "month"},
        "metadata": {"plan_code": plan.code},
    }
    return {
        "id": subscription_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": False,
        "metadata": metadata,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": f"si_{subscription_id.removeprefix('sub_')}",
                    "price": price,
                    "quantity": 1,
                    "current_period_start": now,
                    "current_period_end": now + MONTH_SECONDS,
                }
            ],
        },
    }


def sandbox_cancel_events(
    session: Session, *, actor_id: int, workspace_id: int, settings: Settings | None = None
) -> list[SignedEvent]:
    """The signed `customer.subscription.deleted` Stripe would send when the plan is canceled."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="manage_billing")
    settings = settings or get_settings()
    _require_sandbox(settings)
    row = session.exec(
        select(Subscription)
        .where(
            Subscription.workspace_id == workspace_id,
            col(Subscription.status).in_(billing.ENTITLED),
            col(Subscription.stripe_subscription_id).startswith(billing.SANDBOX_SUBSCRIPTION_PREFIX),
        )
        .order_by(col(Subscription.created_at).desc())
    ).first()
    if row is None:
        raise NotFound("This workspace has no sandbox subscription to cancel.")
    plan = session.get(PricingPlan, row.plan_id) if row.plan_id else None
    if plan is None:
        raise NotFound("The subscription's plan no longer exists.")
    metadata = {"workspace_id": str(workspace_id), "plan_code": plan.code}
    now = int(time.time())
    obj = _subscription_object(
        row.stripe_subscription_id, row.stripe_customer_id, plan, metadata, status="canceled", now=now
    )
    return [_event(SUBSCRIPTION_DELETED, obj, webhook_secret(settings), created=now)]

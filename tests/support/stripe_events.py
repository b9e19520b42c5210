"""Stripe webhook events for tests: objects shaped like Stripe's, signed the way Stripe signs.

Built independently of the product's sandbox (which plays Stripe in the app), so the tests do not
check that code against itself. Shapes follow the API version stripe-python 16 pins
(`2026-10-28.endive`): a subscription's period sits on its items, an invoice names its
subscription under `parent.subscription_details`.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import stripe

SECRET = "whsec_test_5c3b9f0e2a7d4c1b8e6f0a9d3c2b1a0f"
OTHER_SECRET = "whsec_test_0000000000000000000000000000ffff"
API_VERSION = "2026-10-28.endive"
MONTH = 30 * 24 * 3600


def event_id() -> str:
    return f"evt_test_{secrets.token_hex(12)}"


def stripe_event(
    event_type: str, obj: dict[str, Any], *, id: str | None = None, created: int | None = None
) -> dict:
    return {
        "id": id or event_id(),
        "object": "event",
        "api_version": API_VERSION,
        "created": created if created is not None else int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def checkout_session(
    session_id: str,
    *,
    workspace_id: int | None,
    plan_code: str | None = "pack-popular",
    amount_total: int = 2900,
    payment_status: str = "paid",
    payment_intent: str | None = None,
    mode: str = "payment",
    customer: str = "cus_test_1",
    subscription: str | None = None,
    invoice: str | None = None,
    user_id: int | None = None,
) -> dict[str, Any]:
    metadata = {}
    if workspace_id is not None:
        metadata["workspace_id"] = str(workspace_id)
    if plan_code is not None:
        metadata["plan_code"] = plan_code
    if user_id is not None:
        metadata["user_id"] = str(user_id)
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": mode,
        "status": "complete",
        "payment_status": payment_status,
        "amount_total": amount_total,
        "currency": "usd",
        "customer": customer,
        "client_reference_id": str(workspace_id) if workspace_id else None,
        "metadata": metadata,
        "payment_intent": payment_intent,
        "subscription": subscription,
        "invoice": invoice,
        "livemode": False,
    }


def charge(
    payment_intent: str, *, amount: int = 2900, amount_refunded: int, charge_id: str | None = None
) -> dict:
    return {
        "id": charge_id or f"ch_test_{payment_intent.removeprefix('pi_')}",
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "currency": "usd",
        "paid": True,
        "refunded": amount_refunded >= amount,
        "payment_intent": payment_intent,
        "status": "succeeded",
        "metadata": {},
    }


def subscription(
    subscription_id: str,
    *,
    workspace_id: int,
    plan_code: str = "tier-pro",
    status: str = "active",
    price_id: str = "price_test_unknown",
    customer: str = "cus_test_1",
    period_end: int | None = None,
    cancel_at_period_end: bool = False,
) -> dict[str, Any]:
    now = int(time.time())
    return {
        "id": subscription_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": cancel_at_period_end,
        "metadata": {"workspace_id": str(workspace_id), "plan_code": plan_code},
        "items": {
            "object": "list",
            "data": [
                {
                    "id": f"si_{subscription_id.removeprefix('sub_')}",
                    "object": "subscription_item",
                    "price": {"id": price_id, "object": "price", "recurring": {"interval": "month"}},
                    "quantity": 1,
                    "current_period_start": now,
                    "current_period_end": period_end or now + MONTH,
                }
            ],
        },
    }


def invoice(
    invoice_id: str,
    *,
    subscription_id: str,
    workspace_id: int | None = None,
    plan_code: str | None = "tier-pro",
    billing_reason: str = "subscription_cycle",
    amount_paid: int = 1900,
    price_id: str = "price_test_unknown",
) -> dict[str, Any]:
    metadata = {}
    if workspace_id is not None:
        metadata["workspace_id"] = str(workspace_id)
    if plan_code is not None:
        metadata["plan_code"] = plan_code
    return {
        "id": invoice_id,
        "object": "invoice",
        "billing_reason": billing_reason,
        "customer": "cus_test_1",
        "amount_paid": amount_paid,
        "currency": "usd",
        "status": "paid",
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription_id, "metadata": metadata},
        },
        "lines": {
            "object": "list",
            "data": [{"id": "il_test_1", "pricing": {"price_details": {"price": price_id}}, "quantity": 1}],
        },
    }


def sign(body: str, *, secret: str = SECRET, timestamp: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)


def signed(
    event: dict | str, *, secret: str = SECRET, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body bytes and headers of a delivery, as Stripe would send them."""
    body = event if isinstance(event, str) else json.dumps(event)
    return body.encode(), {
        "Stripe-Signature": sign(body, secret=secret, timestamp=timestamp),
        "Content-Type": "application/json; charset=utf-8",
    }

"""What a workspace can buy, starting a checkout, and what it has paid.

* Pricing plans are rows (`PricingPlan`): credit packs and monthly subscription tiers, seeded
  once by `seed_plans` (new codes only, so an administrator's later edits are never undone).
* `start_checkout` creates the Checkout Session on the server from the plan — the price never
  comes from the browser — with the workspace and plan in its metadata, and a pending `Payment`.
  Without a Stripe key the session is a local sandbox one (`cs_sandbox_…`) whose page plays
  Stripe's part (`stripe_sandbox`); in production without a key, buying is switched off.
* Credits are granted only by processing Stripe's webhook events (`billing_events`), never here.
* `payment_history`, `checkout_status`, `current_subscription` and `portal_url` are what the
  billing pages show; each authorizes the member first.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from postforge import routes
from postforge.models import (
    CreditTransaction,
    Payment,
    PaymentStatus,
    PlanKind,
    PricingPlan,
    Subscription,
    Workspace,
    utcnow,
)
from postforge.models.billing import ENTITLED_STATUSES
from postforge.services.kernel.errors import Conflict, NotFound, ValidationFailed
from postforge.services.kernel.upsert import dialect_insert
from postforge.services.media.quota import FREE_STORAGE_BYTES, GIB
from postforge.services.payments import stripe_gateway
from postforge.services.tenancy import workspaces
from postforge.settings import Settings, get_settings

SANDBOX_SESSION_PREFIX = "cs_sandbox_"
SANDBOX_CUSTOMER_PREFIX = "cus_sandbox_"
SANDBOX_SUBSCRIPTION_PREFIX = "sub_sandbox_"
SANDBOX_INVOICE_PREFIX = "in_sandbox_"
FREE_TIER = "tier-free"
MAX_PAGE_SIZE = 100
ENTITLED = ENTITLED_STATUSES


def checkout_key(checkout_session_id: str) -> str:
    """The ledger key of a pack's credits: one grant per checkout session, whatever the events."""
    return f"checkout:{checkout_session_id}"


def invoice_key(invoice_id: str) -> str:
    """The ledger key of a subscription's monthly credits: one grant per paid invoice."""
    return f"invoice:{invoice_id}"


# --- plans -----------------------------------------------------------------------------------------

SEED_PLANS: list[dict[str, Any]] = [
    # Credit packs: one-off purchases.
    {"code": "pack-starter", "name": "Starter", "credits": 20, "price_cents": 1500, "sort_order": 10},
    {
        "code": "pack-popular",
        "name": "Popular",
        "credits": 50,
        "price_cents": 2900,
        "is_popular": True,
        "sort_order": 20,
    },
    {"code": "pack-pro", "name": "Pro", "credits": 150, "price_cents": 6900, "sort_order": 30},
    # Subscription tiers: a monthly allotment and limits. Free is the tier without a subscription;
    # it has no monthly credits (new accounts get their welcome bonus instead).
    {
        "code": FREE_TIER,
        "name": "Free",
        "kind": PlanKind.SUBSCRIPTION,
        "credits": 0,
        "price_cents": 0,
        "features": {"max_accounts": 3, "storage_bytes": FREE_STORAGE_BYTES},
        "sort_order": 110,
    },
    {
        "code": "tier-pro",
        "name": "Pro",
        "kind": PlanKind.SUBSCRIPTION,
        "credits": 100,
        "price_cents": 1900,
        "features": {"max_accounts": 10, "storage_bytes": 25 * GIB},
        "is_popular": True,
        "sort_order": 120,
    },
    {
        "code": "tier-business",
        "name": "Business",
        "kind": PlanKind.SUBSCRIPTION,
        "credits": 400,
        "price_cents": 4900,
        "features": {"max_accounts": 50, "storage_bytes": 200 * GIB},
        "sort_order": 130,
    },
]


@dataclass(frozen=True)
class PlanView:
    code: str
    name: str
    kind: str  # credit_pack | subscription
    credits: int  # per pack, or per month
    price_cents: int
    currency: str
    is_popular: bool
    features: dict[str, Any] = field(default_factory=dict)

    @property
    def price_label(self) -> str:
        return money(self.price_cents, self.currency)


def money(cents: int, currency: str = "usd") -> str:
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency.lower())
    amount = f"{cents / 100:,.2f}"
    return f"{symbol}{amount}" if symbol else f"{amount} {currency.upper()}"


def _plan_view(plan: PricingPlan) -> PlanView:
    return PlanView(
        code=plan.code,
        name=plan.name,
        kind=str(plan.kind),
        credits=plan.credits,
        price_cents=plan.price_cents,
        currency=plan.currency,
        is_popular=plan.is_popular,
        features=dict(plan.features or {}),
    )


def seed_plans(session: Session) -> int:
    """Add the standard plans whose codes are missing; existing rows are left as they are."""
    insert = dialect_insert(session)
    added = 0
    now = utcnow()
    for spec in SEED_PLANS:
        values = {
            "kind": PlanKind.CREDIT_PACK,
            "currency": "usd",
            "features": {},
            "is_popular": False,
            "is_active": True,
            "created_at": now,
            "updated_at": now,
            **spec,
        }
        result = session.execute(
            insert(PricingPlan).values(**values).on_conflict_do_nothing(index_elements=["code"])
        )
        added += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
    session.flush()
    return added


def list_plans(session: Session, *, kind: PlanKind | str | None = None) -> list[PlanView]:
    """Active plans in display order (prices are public: no workspace involved)."""
    query = select(PricingPlan).where(col(PricingPlan.is_active).is_(True))
    if kind is not None:
        query = query.where(PricingPlan.kind == PlanKind(kind))
    rows = session.exec(query.order_by(col(PricingPlan.sort_order), col(PricingPlan.id))).all()
    return [_plan_view(plan) for plan in rows]


def _active_plan(session: Session, plan_code: str) -> PricingPlan:
    plan = session.exec(
        select(PricingPlan).where(
            PricingPlan.code == (plan_code or "").strip(), col(PricingPlan.is_active).is_(True)
        )
    ).first()
    if plan is None:
        raise ValidationFailed(
            "That plan is not on offer any more. Pick one of the plans shown.", field="plan"
        )
    return plan


# --- checkout --------------------------------------------------------------------------------------


def checkout_mode(settings: Settings | None = None) -> str:
    """stripe (real payments), sandbox (no key, not production: the in-app checkout) or disabled."""
    return (settings or get_settings()).checkout_mode


@dataclass(frozen=True)
class CheckoutStart:
    checkout_session_id: str
    url: str  # where to send the browser: Stripe's page, or the in-app sandbox page
    external: bool


def start_checkout(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    plan_code: str,
    base_url: str | None = None,
    settings: Settings | None = None,
) -> CheckoutStart:
    """Open a checkout for `plan_code` and record it as a pending payment; the caller commits.

    The amount and credits come from the plan row; the browser only names the plan. The session
    carries the workspace, plan and buyer in its metadata (also on the PaymentIntent or the
    subscription, so refunds and renewals find their way back).
    """
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="manage_billing")
    settings = settings or get_settings()
    mode = checkout_mode(settings)
    if mode == "disabled":
        raise ValidationFailed("Payments are not set up on this server yet. Ask its administrator.")
    plan = _active_plan(session, plan_code)
    if plan.price_cents <= 0:
        raise ValidationFailed(f"The {plan.name} tier is free: there is nothing to pay.", field="plan")
    subscription_plan = plan.kind == PlanKind.SUBSCRIPTION
    if subscription_plan:
        current = _entitled_subscription(session, workspace_id)
        if current is not None:
            raise Conflict(
                "This workspace already has a subscription. Change or cancel it from the billing page."
            )
    reference = secrets.token_hex(12)
    metadata = {
        "workspace_id": str(workspace_id),
        "plan_code": plan.code,
        "user_id": str(actor_id),
        "reference": reference,
    }
    customer = _customer_id(session, workspace_id)
    if mode == "stripe":
        base = (base_url or settings.app_url).rstrip("/")
        hosted = stripe_gateway.create_checkout_session(
            settings,
            _checkout_params(plan, metadata, customer=customer, base=base, workspace_id=workspace_id),
            idempotency_key=f"postforge-checkout-{reference}",
        )
        session_id, url, external, customer = hosted.id, hosted.url, True, hosted.customer or customer
    else:
        session_id = f"{SANDBOX_SESSION_PREFIX}{reference}"
        url, external = f"{routes.SANDBOX_CHECKOUT}?session_id={session_id}", False
    session.add(
        Payment(
            workspace_id=workspace_id,
            user_id=actor_id,
            plan_id=plan.id,
            plan_name=plan.name,
            checkout_session_id=session_id,
            amount_cents=plan.price_cents,
            currency=plan.currency,
            credits=plan.credits,
            stripe_customer_id=customer,
            status=PaymentStatus.PENDING,
        )
    )
    session.flush()
    return CheckoutStart(checkout_session_id=session_id, url=url, external=external)


def _checkout_params(
    plan: PricingPlan, metadata: dict[str, str], *, customer: str, base: str, workspace_id: int
) -> dict[str, Any]:
    subscription = plan.kind == PlanKind.SUBSCRIPTION
    if plan.stripe_price_id:
        line_item: dict[str, Any] = {"price": plan.stripe_price_id, "quantity": 1}
    else:
        noun = f"{plan.credits} credits a month" if subscription else f"{plan.credits} credits"
        price_data: dict[str, Any] = {
            "currency": plan.currency,
            "unit_amount": plan.price_cents,
            "product_data": {"name": f"PostForge {plan.name}", "description": noun},
        }
        if subscription:
            price_data["recurring"] = {"interval": "month"}
        line_item = {"price_data": price_data, "quantity": 1}
    params: dict[str, Any] = {
        "mode": "subscription" if subscription else "payment",
        "line_items": [line_item],
        "success_url": f"{base}{routes.CHECKOUT_SUCCESS}?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{base}{routes.CHECKOUT_CANCEL}?session_id={{CHECKOUT_SESSION_ID}}",
        "client_reference_id": str(workspace_id),
        "metadata": metadata,
    }
    if subscription:
        params["subscription_data"] = {"metadata": metadata}
    else:
        params["payment_intent_data"] = {"metadata": metadata}
    if customer:
        params["customer"] = customer
    elif not subscription:
        params["customer_creation"] = "always"  # so the customer portal can show pack receipts too
    return params


def _customer_id(session: Session, workspace_id: int) -> str:
    """The Stripe customer this workspace paid as before (latest subscription, else latest payment)."""
    found = session.exec(
        select(Subscription.stripe_customer_id)
        .where(
            Subscription.workspace_id == workspace_id,
            Subscription.stripe_customer_id != "",
            col(Subscription.stripe_customer_id).not_like(f"{SANDBOX_CUSTOMER_PREFIX}%"),
        )
        .order_by(col(Subscription.created_at).desc())
    ).first()
    if found:
        return found
    return (
        session.exec(
            select(Payment.stripe_customer_id)
            .where(
                Payment.workspace_id == workspace_id,
                Payment.stripe_customer_id != "",
                col(Payment.stripe_customer_id).not_like(f"{SANDBOX_CUSTOMER_PREFIX}%"),
            )
            .order_by(col(Payment.created_at).desc())
        ).first()
        or ""
    )


# --- after the checkout ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutStatus:
    checkout_session_id: str
    workspace_id: int
    plan_name: str
    kind: str
    credits: int
    amount: str
    status: str  # pending | paid | failed | expired | refunded | partially_refunded
    checkout_completed: bool  # Stripe reported the checkout finished (maybe awaiting a bank)
    balance: int

    @property
    def settled(self) -> bool:
        return self.status != PaymentStatus.PENDING


def _payment_for(session: Session, checkout_session_id: str) -> Payment:
    payment = session.exec(
        select(Payment).where(Payment.checkout_session_id == (checkout_session_id or "").strip())
    ).first()
    if payment is None or payment.workspace_id is None:
        raise NotFound("We have no record of that checkout.")
    return payment


def checkout_status(session: Session, *, actor_id: int, checkout_session_id: str) -> CheckoutStatus:
    """Where a checkout stands, for the success page; only for the workspace's billing admins."""
    payment = _payment_for(session, checkout_session_id)
    assert payment.workspace_id is not None
    workspaces.authorize(
        session, user_id=actor_id, workspace_id=payment.workspace_id, action="manage_billing"
    )
    balance = session.execute(
        sa.select(Workspace.credits).where(col(Workspace.id) == payment.workspace_id)
    ).scalar_one()
    plan_kind = session.execute(
        sa.select(PricingPlan.kind).where(col(PricingPlan.id) == payment.plan_id)
    ).scalar()
    return CheckoutStatus(
        checkout_session_id=payment.checkout_session_id,
        workspace_id=payment.workspace_id,
        plan_name=payment.plan_name,
        kind=str(plan_kind or PlanKind.CREDIT_PACK),
        credits=payment.credits,
        amount=money(payment.amount_cents, payment.currency),
        status=str(payment.status),
        checkout_completed=payment.checkout_completed_at is not None,
        balance=int(balance),
    )


@dataclass(frozen=True)
class PaymentRow:
    id: int
    created_at: datetime
    plan_name: str
    kind: str
    amount: str
    credits: int
    status: str
    refunded: str  # "" when nothing was refunded
    credits_taken_back: int
    credits_owed: int
    balance_after: int | None  # the balance right after the credits were granted


@dataclass(frozen=True)
class PaymentPage:
    rows: list[PaymentRow]
    total: int
    limit: int
    offset: int


def _grant_key(payment: Payment) -> str:
    """The ledger key under which the payment's credits were granted."""
    if payment.stripe_invoice_id:
        return invoice_key(payment.stripe_invoice_id)
    return checkout_key(payment.checkout_session_id)


def _history_filter(workspace_id: int) -> list[Any]:
    # Checkouts that were opened and left (or expired) are not payments: nothing was charged.
    return [
        Payment.workspace_id == workspace_id,
        Payment.status != PaymentStatus.EXPIRED,
        sa.or_(Payment.status != PaymentStatus.PENDING, col(Payment.checkout_completed_at).is_not(None)),
    ]


def payment_history(
    session: Session, *, actor_id: int, workspace_id: int, limit: int = 20, offset: int = 0
) -> PaymentPage:
    """The workspace's payments, newest first, one page at a time (three queries whatever the size)."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="manage_billing")
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    offset = max(0, int(offset))
    where = _history_filter(workspace_id)
    total = session.execute(sa.select(func.count()).select_from(Payment).where(*where)).scalar_one()
    rows = session.exec(
        select(Payment, PricingPlan.kind)
        .join(PricingPlan, col(PricingPlan.id) == Payment.plan_id, isouter=True)
        .where(*where)
        .order_by(col(Payment.created_at).desc(), col(Payment.id).desc())
        .limit(limit)
        .offset(offset)
    ).all()
    keys = [_grant_key(payment) for payment, _kind in rows]
    balances = dict(
        session.execute(
            sa.select(CreditTransaction.idempotency_key, CreditTransaction.balance_after).where(
                col(CreditTransaction.idempotency_key).in_(keys)
            )
        ).all()
        if keys
        else []
    )
    return PaymentPage(
        rows=[
            PaymentRow(
                id=payment.id or 0,
                created_at=payment.paid_at or payment.created_at,
                plan_name=payment.plan_name,
                kind=str(kind or PlanKind.CREDIT_PACK),
                amount=money(payment.amount_cents, payment.currency),
                credits=payment.credits,
                status=str(payment.status),
                refunded=money(payment.refunded_cents, payment.currency) if payment.refunded_cents else "",
                credits_taken_back=payment.credits_taken_back,
                credits_owed=payment.credits_owed,
                balance_after=balances.get(_grant_key(payment)),
            )
            for payment, kind in rows
        ],
        total=int(total),
        limit=limit,
        offset=offset,
    )


# --- subscriptions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierView:
    plan: PlanView
    status: str  # "free" when no subscription entitles the workspace
    current_period_end: datetime | None
    cancel_at_period_end: bool
    stripe_subscription_id: str

    def limit(self, feature: str, default: int = 0) -> int:
        value = self.plan.features.get(feature, default)
        return int(value) if isinstance(value, int | float) else default


def _entitled_subscription(session: Session, workspace_id: int) -> Subscription | None:
    return session.exec(
        select(Subscription)
        .where(Subscription.workspace_id == workspace_id, col(Subscription.status).in_(ENTITLED))
        .order_by(col(Subscription.created_at).desc(), col(Subscription.id).desc())
    ).first()


def _free_plan(session: Session) -> PlanView:
    plan = session.exec(select(PricingPlan).where(PricingPlan.code == FREE_TIER)).first()
    if plan is not None:
        return _plan_view(plan)
    spec = next(s for s in SEED_PLANS if s["code"] == FREE_TIER)
    return PlanView(
        code=FREE_TIER,
        name=spec["name"],
        kind=str(PlanKind.SUBSCRIPTION),
        credits=0,
        price_cents=0,
        currency="usd",
        is_popular=False,
        features=dict(spec["features"]),
    )


def workspace_tier(session: Session, workspace_id: int) -> TierView:
    """The tier whose limits apply to the workspace now (Free without an entitling subscription).

    No user: the caller checks the member may read the workspace first.
    """
    subscription = _entitled_subscription(session, workspace_id)
    plan = session.get(PricingPlan, subscription.plan_id) if subscription and subscription.plan_id else None
    if subscription is None or plan is None:
        return TierView(_free_plan(session), "free", None, False, "")
    return TierView(
        plan=_plan_view(plan),
        status=str(subscription.status),
        current_period_end=subscription.current_period_end,
        cancel_at_period_end=subscription.cancel_at_period_end,
        stripe_subscription_id=subscription.stripe_subscription_id,
    )


def current_subscription(session: Session, *, actor_id: int, workspace_id: int) -> TierView:
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="manage_billing")
    return workspace_tier(session, workspace_id)


def portal_url(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    return_url: str | None = None,
    settings: Settings | None = None,
) -> str:
    """A Stripe customer-portal session for the workspace's Stripe customer."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="manage_billing")
    settings = settings or get_settings()
    if checkout_mode(settings) != "stripe":
        raise ValidationFailed(
            "The customer portal belongs to Stripe; this server uses the sandbox checkout."
        )
    customer = _customer_id(session, workspace_id)
    if not customer:
        raise ValidationFailed(
            "Stripe has no customer for this workspace yet: it appears after a first payment."
        )
    return stripe_gateway.create_portal_session(
        settings, customer=customer, return_url=return_url or f"{settings.app_url}{routes.BILLING}"
    )

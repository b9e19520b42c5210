"""What can be bought, what was paid, Stripe's events and subscriptions."""

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from postforge.models.base import created_at_field, enum_field, fk, json_field, time_field, updated_at_field


class PlanKind(enum.StrEnum):
    CREDIT_PACK = "credit_pack"
    SUBSCRIPTION = "subscription"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class SubscriptionStatus(enum.StrEnum):
    INCOMPLETE = "incomplete"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    UNPAID = "unpaid"
    CANCELED = "canceled"


# Subscription states that still entitle the workspace to its tier (past_due: Stripe is retrying).
ENTITLED_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING, SubscriptionStatus.PAST_DUE)


class PricingPlan(SQLModel, table=True):
    __tablename__ = "pricing_plans"
    __table_args__ = (
        sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),
        sa.CheckConstraint("credits >= 0", name="credits_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, nullable=False)
    name: str = Field(max_length=120, nullable=False)
    kind: PlanKind = enum_field(PlanKind, "plan_kind", PlanKind.CREDIT_PACK)
    credits: int = Field(default=0, nullable=False)  # per pack, or per month for a subscription
    price_cents: int = Field(nullable=False)
    currency: str = Field(default="usd", max_length=3, nullable=False)
    stripe_price_id: str | None = Field(default=None, max_length=255)
    features: dict[str, Any] = json_field()  # e.g. {"max_accounts": 10}
    is_popular: bool = Field(default=False, nullable=False)
    is_active: bool = Field(default=True, nullable=False)
    sort_order: int = Field(default=0, nullable=False)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Payment(SQLModel, table=True):
    """A purchase (the seeds' StripeTransaction). Kept when its workspace goes: money records stay."""

    __tablename__ = "payments"
    __table_args__ = (
        sa.CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        sa.CheckConstraint("refunded_cents >= 0", name="refunded_not_negative"),
        sa.CheckConstraint("credits_taken_back >= 0", name="credits_taken_back_not_negative"),
        sa.CheckConstraint("credits_owed >= 0", name="credits_owed_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int | None = fk("workspaces.id", ondelete="SET NULL", nullable=True)
    user_id: int | None = fk("users.id", ondelete="SET NULL", nullable=True)
    plan_id: int | None = fk("pricing_plans.id", ondelete="SET NULL", nullable=True)
    checkout_session_id: str = Field(max_length=255, unique=True, nullable=False)
    payment_intent_id: str | None = Field(default=None, max_length=255, index=True)
    amount_cents: int = Field(nullable=False)
    refunded_cents: int = Field(default=0, nullable=False)
    currency: str = Field(default="usd", max_length=3, nullable=False)
    credits: int = Field(default=0, nullable=False)
    status: PaymentStatus = enum_field(PaymentStatus, "payment_status", PaymentStatus.PENDING)
    # The plan's name when bought: history stays readable after a plan is renamed or removed.
    plan_name: str = Field(default="", max_length=120, nullable=False)
    stripe_customer_id: str = Field(default="", max_length=255, nullable=False)
    stripe_subscription_id: str = Field(default="", max_length=255, nullable=False)
    stripe_invoice_id: str = Field(default="", max_length=255, nullable=False)  # a subscription's first
    # Stripe reported the checkout finished (paid, or waiting for a delayed payment method).
    checkout_completed_at: datetime | None = time_field()
    paid_at: datetime | None = time_field()
    # Refunds: credits removed from the balance so far, and what the balance could not cover.
    credits_taken_back: int = Field(default=0, nullable=False)
    credits_owed: int = Field(default=0, nullable=False)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class StripeEvent(SQLModel, table=True):
    __tablename__ = "stripe_events"

    id: str = Field(primary_key=True, max_length=255)  # Stripe's evt_… id: a replay cannot insert twice
    type: str = Field(max_length=128, nullable=False, index=True)
    payload: dict[str, Any] = json_field()
    received_at: datetime = created_at_field()
    processed_at: datetime | None = time_field(index=True)
    error: str = Field(default="", sa_type=sa.Text, nullable=False)
    outcome: str = Field(default="", max_length=500, nullable=False)  # what processing did, for admins
    attempts: int = Field(default=0, nullable=False)  # failed processing attempts (the sweep gives up)


class Subscription(SQLModel, table=True):
    __tablename__ = "subscriptions"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = fk("workspaces.id", ondelete="CASCADE")
    plan_id: int | None = fk("pricing_plans.id", ondelete="SET NULL", nullable=True)
    stripe_subscription_id: str = Field(max_length=255, unique=True, nullable=False)
    stripe_customer_id: str = Field(default="", max_length=255, nullable=False, index=True)
    status: SubscriptionStatus = enum_field(
        SubscriptionStatus, "subscription_status", SubscriptionStatus.INCOMPLETE
    )
    current_period_end: datetime | None = time_field()
    cancel_at_period_end: bool = Field(default=False, nullable=False)
    # `created` of the last Stripe event applied: an older event delivered late changes nothing.
    last_event_at: datetime | None = time_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

"""Plans and credit packs in the admin console: the `pricing_plans` rows the billing pages read.

An admin edits a plan's name, price, Stripe price id, credits (per pack, or the monthly allotment
of a tier), its limits (connected accounts, storage quota, seats) and whether it is offered. Every
value is checked, and each change is audited with the fields before and after. A plan's code and
kind never change here: payments and subscriptions refer to them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session, col, select

from postforge.models import PlanKind, PricingPlan, utcnow
from postforge.services.admin_console import audit
from postforge.services.admin_console.guard import authorize_admin
from postforge.services.kernel.errors import Conflict, NotFound, ValidationFailed
from postforge.services.media import quota
from postforge.services.payments import billing

MAX_CREDITS = 1_000_000
MAX_PRICE_CENTS = 10_000_000  # $100,000
# Limits kept in a plan's `features`: the billing pages read max_accounts, the media library the
# storage quota (kept in bytes, edited in MB); seats are stored for the checks that come to use them.
LIMITS = {"max_accounts": "Connected accounts", "storage_mb": "Storage (MB)", "seats": "Seats"}
MIB = 1024 * 1024
# Form field → (the feature it is stored as, how many stored units one form unit is).
STORED_AS = {"storage_mb": (quota.QUOTA_FEATURE, MIB)}
_PRICE_ID = re.compile(r"price_[A-Za-z0-9]{1,250}")


@dataclass(frozen=True)
class PlanRow:
    code: str
    kind: str
    name: str
    price: str  # "19.00"
    price_label: str  # "$19.00"
    credits: int
    stripe_price_id: str
    limits: dict[str, str]  # LIMITS key → the number, "" for none
    is_active: bool


def _row(plan: PricingPlan) -> PlanRow:
    features = plan.features or {}
    return PlanRow(
        code=plan.code,
        kind=str(plan.kind),
        name=plan.name,
        price=f"{plan.price_cents / 100:.2f}",
        price_label=billing.money(plan.price_cents, plan.currency),
        credits=plan.credits,
        stripe_price_id=plan.stripe_price_id or "",
        limits={key: _shown_limit(features, key) for key in LIMITS},
        is_active=plan.is_active,
    )


def _shown_limit(features: dict[str, Any], key: str) -> str:
    feature, unit = STORED_AS.get(key, (key, 1))
    value = features.get(feature)
    return "" if value is None else str(int(value) // unit)


def list_plans(session: Session, *, actor_id: int) -> list[PlanRow]:
    """Every plan, offered or not, packs first, in display order."""
    authorize_admin(session, actor_id)
    plans = session.exec(
        select(PricingPlan).order_by(col(PricingPlan.kind), col(PricingPlan.sort_order), col(PricingPlan.id))
    ).all()
    return [_row(plan) for plan in plans]


def _whole(value: Any, field: str, label: str, *, maximum: int) -> int:
    text = str(value if value is not None else "").strip().replace(",", "")
    if not text.isdigit() or len(text) > 12:
        raise ValidationFailed(f"{label}: enter a whole number of 0 or more.", field=field)
    number = int(text)
    if number > maximum:
        raise ValidationFailed(f"{label}: at most {maximum:,}.", field=field)
    return number


def _price_cents(value: Any) -> int:
    text = str(value if value is not None else "").strip().lstrip("$").replace(",", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValidationFailed("Price: enter an amount like 19 or 19.00.", field="price") from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValidationFailed(
            "Price: enter an amount of 0 or more with at most two decimals.", field="price"
        )
    cents = int(amount * 100)
    if cents > MAX_PRICE_CENTS:
        raise ValidationFailed(f"Price: at most {billing.money(MAX_PRICE_CENTS)}.", field="price")
    return cents


def update_plan(
    session: Session,
    *,
    actor_id: int,
    code: str,
    name: str,
    price: str,
    credits: str | int,
    stripe_price_id: str = "",
    limits: dict[str, str] | None = None,
    is_active: bool = True,
    ip: str = "",
) -> PlanRow:
    """Change a plan; returns it as stored. Blank limits mean "no limit"."""
    actor = authorize_admin(session, actor_id)
    plan = session.exec(select(PricingPlan).where(PricingPlan.code == str(code or "").strip())).first()
    if plan is None:
        raise NotFound("That plan does not exist.")
    name = " ".join(str(name or "").split())
    if not name or len(name) > 120:
        raise ValidationFailed("Name: 1 to 120 characters.", field="name")
    cents = _price_cents(price)
    if plan.code == billing.FREE_TIER and cents != 0:
        raise ValidationFailed("The Free tier costs nothing: its price stays 0.", field="price")
    if plan.kind == PlanKind.CREDIT_PACK and cents == 0:
        raise ValidationFailed("A credit pack needs a price above 0.", field="price")
    amount = _whole(credits, "credits", "Credits", maximum=MAX_CREDITS)
    if plan.kind == PlanKind.CREDIT_PACK and amount == 0:
        raise ValidationFailed("A credit pack gives at least 1 credit.", field="credits")
    price_id = str(stripe_price_id or "").strip()
    if price_id and not _PRICE_ID.fullmatch(price_id):
        raise ValidationFailed(
            "Stripe price id: like price_1Nabc…, or blank for an inline price.", field="stripe_price_id"
        )
    if (
        price_id
        and session.exec(
            select(PricingPlan.id).where(PricingPlan.stripe_price_id == price_id, PricingPlan.id != plan.id)
        ).first()
    ):
        raise Conflict("Another plan already uses that Stripe price id.")
    features = dict(plan.features or {})
    for key, label in LIMITS.items():
        value = str((limits or {}).get(key, "") or "").strip()
        feature, unit = STORED_AS.get(key, (key, 1))
        if value:
            features[feature] = _whole(value, key, label, maximum=MAX_CREDITS) * unit
        else:
            features.pop(feature, None)
    if plan.code == billing.FREE_TIER and not is_active:
        raise ValidationFailed("The Free tier is what every workspace without a subscription is on: keep it.")
    before = _row(plan)
    plan.name, plan.price_cents, plan.credits = name, cents, amount
    plan.stripe_price_id, plan.features, plan.is_active = price_id or None, features, bool(is_active)
    plan.updated_at = utcnow()
    session.add(plan)
    session.flush()
    after = _row(plan)
    changed_before, changed_after = _changes(before, after)
    if not changed_after:
        raise Conflict("Nothing changed.")
    audit.record(
        session,
        actor=actor,
        action="plan.update",
        target_type="plan",
        target_id=plan.id or 0,
        target_label=f"{plan.name} ({plan.code})",
        before=changed_before,
        after=changed_after,
        ip=ip,
    )
    return after


def _changes(before: PlanRow, after: PlanRow) -> tuple[dict[str, Any], dict[str, Any]]:
    fields = ("name", "price", "credits", "stripe_price_id", "is_active")
    old: dict[str, Any] = {f: getattr(before, f) for f in fields if getattr(before, f) != getattr(after, f)}
    new: dict[str, Any] = {f: getattr(after, f) for f in fields if getattr(before, f) != getattr(after, f)}
    for key in LIMITS:
        if before.limits[key] != after.limits[key]:
            old[key], new[key] = before.limits[key] or None, after.limits[key] or None
    return old, new

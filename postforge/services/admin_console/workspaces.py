"""Workspaces in the admin console: search, a detail view, credit adjustments and plan changes.

Credit adjustments go through the ledger (`ledger.credits.adjust`): one conditional UPDATE plus an
`adjustment` row, so the balance stays the sum of the ledger and never goes below zero whatever
spends run at the same time. A plan change given by an admin is a complimentary subscription row
(no Stripe object behind it); a workspace paying through Stripe changes plan in Stripe instead,
so the two never disagree.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from postforge.models import (
    Membership,
    PlanKind,
    Post,
    PricingPlan,
    SocialAccount,
    Subscription,
    SubscriptionStatus,
    User,
    Workspace,
    utcnow,
)
from postforge.services.admin_console import audit
from postforge.services.admin_console.guard import authorize_admin
from postforge.services.admin_console.users import MAX_PAGE_SIZE, PAGE_SIZE, capped_count, check_query
from postforge.services.kernel.errors import Conflict, NotFound, ValidationFailed
from postforge.services.kernel.text_search import ESCAPE, contains_pattern
from postforge.services.ledger import credits
from postforge.services.media import quota
from postforge.services.payments import billing

COMPLIMENTARY_PREFIX = "comp_"  # stripe_subscription_id of a plan given in the console
MAX_ADJUSTMENT = 1_000_000
MAX_REASON_LENGTH = 300


@dataclass(frozen=True)
class WorkspaceRow:
    id: int
    name: str
    slug: str
    is_personal: bool
    credits: int
    members: int
    created_at: datetime


@dataclass(frozen=True)
class WorkspaceSearchPage:
    rows: list[WorkspaceRow]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class MemberRow:
    user_id: int
    email: str
    name: str
    role: str
    suspended: bool


@dataclass(frozen=True)
class AccountRow:
    id: int
    platform: str
    name: str
    status: str
    last_error: str


@dataclass(frozen=True)
class WorkspaceDetail:
    id: int
    name: str
    slug: str
    is_personal: bool
    created_at: datetime
    credits: int
    ledger_ok: bool
    plan_code: str
    plan_name: str
    plan_status: str  # "free", "active", … ("complimentary" when given in the console)
    paid_through_stripe: bool
    members: list[MemberRow]
    accounts: list[AccountRow]
    posts_by_status: dict[str, int]
    storage_bytes: int
    ledger: credits.LedgerPage


def search_workspaces(
    session: Session, *, actor_id: int, query: str = "", limit: int = PAGE_SIZE, offset: int = 0
) -> WorkspaceSearchPage:
    """Workspaces whose name or slug contains `query`, newest first; a number finds that id."""
    authorize_admin(session, actor_id)
    text = check_query(query)
    limit, offset = max(1, min(int(limit), MAX_PAGE_SIZE)), max(0, int(offset))
    where = []
    order: list[Any] = [col(Workspace.created_at).desc(), col(Workspace.id).desc()]
    if text:
        matches = [
            col(Workspace.name).ilike(contains_pattern(text), escape=ESCAPE),
            col(Workspace.slug).ilike(contains_pattern(text.casefold()), escape=ESCAPE),
        ]
        if text.isdigit() and len(text) < 12:
            matches.append(col(Workspace.id) == int(text))
            order.insert(0, sa.case((col(Workspace.id) == int(text), 0), else_=1))  # that id first
        where.append(sa.or_(*matches))
    total = capped_count(session, Workspace, where)
    found = session.exec(select(Workspace).where(*where).order_by(*order).limit(limit).offset(offset)).all()
    ids = [w.id or 0 for w in found]
    counts = (
        dict(
            session.execute(
                sa.select(Membership.workspace_id, func.count())
                .where(col(Membership.workspace_id).in_(ids))
                .group_by(Membership.workspace_id)
            ).all()
        )
        if ids
        else {}
    )
    rows = [
        WorkspaceRow(
            w.id or 0, w.name, w.slug, w.is_personal, w.credits, int(counts.get(w.id, 0)), w.created_at
        )
        for w in found
    ]
    return WorkspaceSearchPage(rows, int(total), limit, offset)


def _target(session: Session, workspace_id: int) -> Workspace:
    workspace = (
        session.get(Workspace, workspace_id) if isinstance(workspace_id, int) and workspace_id > 0 else None
    )
    if workspace is None:
        raise NotFound("That workspace does not exist (any more).")
    return workspace


def workspace_detail(
    session: Session, *, actor_id: int, workspace_id: int, ledger_offset: int = 0, ledger_limit: int = 20
) -> WorkspaceDetail:
    authorize_admin(session, actor_id)
    workspace = _target(session, workspace_id)
    tier = billing.workspace_tier(session, workspace_id)
    members = session.exec(
        select(Membership, User)
        .join(User, col(User.id) == Membership.user_id)
        .where(Membership.workspace_id == workspace_id)
        .order_by(col(Membership.created_at), col(Membership.id))
    ).all()
    accounts = session.exec(
        select(SocialAccount)
        .where(SocialAccount.workspace_id == workspace_id)
        .order_by(col(SocialAccount.id))
    ).all()
    by_status = session.execute(
        sa.select(Post.status, func.count())
        .where(Post.workspace_id == workspace_id, col(Post.deleted_at).is_(None))
        .group_by(Post.status)
    ).all()
    storage = quota.used_bytes(session, workspace_id)
    complimentary = tier.stripe_subscription_id.startswith(COMPLIMENTARY_PREFIX)
    return WorkspaceDetail(
        id=workspace.id or 0,
        name=workspace.name,
        slug=workspace.slug,
        is_personal=workspace.is_personal,
        created_at=workspace.created_at,
        credits=workspace.credits,
        ledger_ok=credits.check_invariant(session, workspace_id).ok,
        plan_code=tier.plan.code,
        plan_name=tier.plan.name,
        plan_status="complimentary" if complimentary else tier.status,
        paid_through_stripe=bool(tier.stripe_subscription_id) and not complimentary,
        members=[
            MemberRow(u.id or 0, u.email, u.name, str(m.role), u.suspended_at is not None) for m, u in members
        ],
        accounts=[
            AccountRow(a.id or 0, str(a.platform), a.display_name or a.handle, str(a.status), a.last_error)
            for a in accounts
        ],
        posts_by_status={str(status): int(count) for status, count in by_status},
        storage_bytes=int(storage or 0),
        ledger=credits.ledger_page(session, workspace_id, limit=ledger_limit, offset=ledger_offset),
    )


def parse_amount(value: str | int) -> int:
    """What the admin typed ("+15", "-3", "20") as a whole number other than zero."""
    if isinstance(value, bool):
        raise ValidationFailed("Enter a whole number of credits, like 10 or -5.", field="amount")
    if isinstance(value, int):
        amount = value
    else:
        text = str(value or "").strip().replace(" ", "")
        if not text:
            raise ValidationFailed(
                "Enter how many credits to add (like 10) or remove (like -5).", field="amount"
            )
        try:
            amount = int(text)
        except ValueError:
            raise ValidationFailed(
                "Enter a whole number of credits, like 10 or -5.", field="amount"
            ) from None
    if amount == 0:
        raise ValidationFailed(
            "An adjustment of zero changes nothing: enter a number other than 0.", field="amount"
        )
    if abs(amount) > MAX_ADJUSTMENT:
        raise ValidationFailed(f"Adjust by at most {MAX_ADJUSTMENT:,} credits at a time.", field="amount")
    return amount


def adjust_credits(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    amount: str | int,
    reason: str,
    ip: str = "",
    idempotency_key: str | None = None,
) -> credits.LedgerEntry:
    """Add (+) or remove (-) credits with a reason: an `adjustment` ledger row and its audit row."""
    actor = authorize_admin(session, actor_id)
    amount = parse_amount(amount)
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise ValidationFailed("Say why the balance is being adjusted.", field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationFailed(f"Keep the reason under {MAX_REASON_LENGTH} characters.", field="reason")
    workspace = _target(session, workspace_id)
    entry = credits.adjust(
        session,
        actor_id=actor.id or 0,
        workspace_id=workspace.id or 0,
        amount=amount,
        reason=reason,
        idempotency_key=idempotency_key,
    )
    if entry.replayed:
        return entry
    audit.record(
        session,
        actor=actor,
        action="workspace.credits_adjust",
        target_type="workspace",
        target_id=workspace.id or 0,
        target_label=workspace.name,
        workspace_id=workspace.id,
        before={"credits": entry.balance_after - amount},
        after={"credits": entry.balance_after},
        reason=reason,
        ip=ip,
    )
    return entry


def plan_choices(session: Session, *, actor_id: int) -> list[billing.PlanView]:
    authorize_admin(session, actor_id)
    return billing.list_plans(session, kind=PlanKind.SUBSCRIPTION)


def change_plan(
    session: Session, *, actor_id: int, workspace_id: int, plan_code: str, reason: str = "", ip: str = ""
) -> str:
    """Put the workspace on a subscription tier free of charge (Free ends the complimentary one)."""
    actor = authorize_admin(session, actor_id)
    reason = " ".join(str(reason or "").split())[:MAX_REASON_LENGTH]
    workspace = _target(session, workspace_id)
    plan = session.exec(
        select(PricingPlan).where(
            PricingPlan.code == str(plan_code or "").strip(),
            PricingPlan.kind == PlanKind.SUBSCRIPTION,
            col(PricingPlan.is_active).is_(True),
        )
    ).first()
    if plan is None:
        raise ValidationFailed("Choose one of the plans in the list.", field="plan")
    # Lock the workspace row: two plan changes at once end with one complimentary subscription.
    session.execute(sa.select(Workspace.id).where(col(Workspace.id) == workspace.id).with_for_update())
    tier = billing.workspace_tier(session, workspace.id or 0)
    if tier.stripe_subscription_id and not tier.stripe_subscription_id.startswith(COMPLIMENTARY_PREFIX):
        raise Conflict(
            "This workspace pays for its plan through Stripe: change or cancel the subscription in the "
            "Stripe dashboard, and the plan here follows."
        )
    if tier.plan.code == plan.code:
        raise Conflict(f"The workspace is already on {plan.name}.")
    now = utcnow()
    session.execute(
        sa.update(Subscription)
        .where(
            col(Subscription.workspace_id) == workspace.id,
            col(Subscription.stripe_subscription_id).startswith(COMPLIMENTARY_PREFIX),
            col(Subscription.status) != SubscriptionStatus.CANCELED,
        )
        .values(status=SubscriptionStatus.CANCELED, updated_at=now)
    )
    if plan.code != billing.FREE_TIER:
        session.add(
            Subscription(
                workspace_id=workspace.id or 0,
                plan_id=plan.id,
                stripe_subscription_id=f"{COMPLIMENTARY_PREFIX}{workspace.id}_{secrets.token_hex(6)}",
                status=SubscriptionStatus.ACTIVE,
            )
        )
    audit.record(
        session,
        actor=actor,
        action="workspace.plan_change",
        target_type="workspace",
        target_id=workspace.id or 0,
        target_label=workspace.name,
        workspace_id=workspace.id,
        before={"plan": tier.plan.name},
        after={"plan": plan.name},
        reason=reason,
        ip=ip,
    )
    session.flush()
    return plan.name

"""How many bytes of media a workspace may keep, and how many it uses.

The quota is a feature of the workspace's subscription tier (`storage_bytes` in the plan's
features, as `max_accounts` is); Free applies without an entitling subscription. Uploads under
way count with the size they announced, so several started at once cannot overshoot together.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from postforge.models import MediaAsset, PricingPlan, Subscription
from postforge.models.billing import ENTITLED_STATUSES

GIB = 1024 * 1024 * 1024
FREE_STORAGE_BYTES = 1 * GIB
FREE_TIER = "tier-free"
QUOTA_FEATURE = "storage_bytes"


def _plan_quota(plan: PricingPlan | None) -> int | None:
    value = (plan.features or {}).get(QUOTA_FEATURE) if plan is not None else None
    return int(value) if isinstance(value, int | float) and value >= 0 else None


def quota_bytes(session: Session, workspace_id: int) -> int:
    """The workspace's storage quota (the caller authorized the member)."""
    plan = session.exec(
        select(PricingPlan)
        .join(Subscription, col(Subscription.plan_id) == PricingPlan.id)
        .where(Subscription.workspace_id == workspace_id, col(Subscription.status).in_(ENTITLED_STATUSES))
        .order_by(col(Subscription.created_at).desc(), col(Subscription.id).desc())
    ).first()
    quota = _plan_quota(plan)
    if quota is None:
        quota = _plan_quota(session.exec(select(PricingPlan).where(PricingPlan.code == FREE_TIER)).first())
    return FREE_STORAGE_BYTES if quota is None else quota


def used_bytes(session: Session, workspace_id: int, *, except_media_id: int | None = None) -> int:
    """Bytes the workspace's media take: files kept (deleted ones until purged) and uploads under way."""
    query = select(sa.func.coalesce(sa.func.sum(MediaAsset.size_bytes), 0)).where(
        MediaAsset.workspace_id == workspace_id
    )
    if except_media_id is not None:
        query = query.where(MediaAsset.id != except_media_id)
    return int(session.exec(query).one())


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"  # pragma: no cover

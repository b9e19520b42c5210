"""The audit log of admin actions: written with each change, read on its own page and in Settings.

Append-only by construction: this module (the only writer) inserts rows and has no update or
delete. `record` flushes in the caller's transaction, so the row commits or rolls back with the
change it describes. Each row keeps who acted (and their email then), what was done to which
target, the values before and after, the reason given and the client address.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from postforge.models import AuditLog, Membership, User
from postforge.services.admin_console.guard import authorize_admin
from postforge.services.kernel.errors import ValidationFailed
from postforge.services.kernel.text_search import ESCAPE, contains_pattern
from postforge.services.tenancy import workspaces

MAX_PAGE_SIZE = 100
COMMAND_LINE = "command line"  # the actor shown for grants and revocations made on the server

# action → what people read on the pages
ACTIONS: dict[str, str] = {
    "admin.grant": "Made a system admin",
    "admin.revoke": "No longer a system admin",
    "user.suspend": "Suspended the account",
    "user.restore": "Restored the account",
    "user.sign_out": "Signed the account out everywhere",
    "user.password_reset": "Sent a password reset link",
    "user.delete": "Deleted the account",
    "workspace.credits_adjust": "Adjusted credits",
    "workspace.plan_change": "Changed the plan",
    "post.retry": "Retried a failed publish",
    "post.mark_published": "Marked a publish as published",
    "post.post_again": "Sent a publish again after review",
    "event.process_again": "Queued a webhook event again",
    "plan.update": "Changed a plan",
}
TARGET_TYPES = ("user", "workspace", "post", "event", "plan")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    created_at: datetime
    actor: str  # the actor's email when they acted, or "command line"
    action: str
    action_label: str
    target_type: str
    target_id: str
    target_label: str
    workspace_id: int | None
    change: str  # "before → after", readable
    reason: str
    ip_address: str


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    actor: str = ""  # part of the actor's email
    target_type: str = ""
    target_id: str = ""
    workspace_id: int | None = None


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    target_type: str,
    target_id: int | str,
    target_label: str = "",
    workspace_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    ip: str = "",
) -> AuditLog:
    """Add one row for an action, in the caller's transaction (flushed, never committed)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if target_type not in TARGET_TYPES:
        raise ValueError(f"unknown audit target type {target_type!r}")
    row = AuditLog(
        workspace_id=workspace_id,
        actor_user_id=actor.id if actor is not None else None,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        details={
            "actor_email": actor.email if actor is not None else COMMAND_LINE,
            "target_label": target_label[:320],
            "before": before or {},
            "after": after or {},
            "reason": reason[:500],
        },
        ip_address=(ip or "")[:64],
    )
    session.add(row)
    session.flush()
    return row


def check_filters(filters: AuditFilters) -> AuditFilters:
    """Filters as typed on the page, checked: an unknown action or target is a clear error."""
    action = filters.action.strip()
    if action and action not in ACTIONS:
        raise ValidationFailed("Choose an action from the list.", field="action")
    target_type = filters.target_type.strip()
    if target_type and target_type not in TARGET_TYPES:
        raise ValidationFailed("Filter by user, workspace, post, event or plan.", field="target_type")
    target_id = filters.target_id.strip()
    if target_id and target_type != "event" and not target_id.isdigit():
        raise ValidationFailed("A target id is a number.", field="target_id")
    if len(target_id) > 64:
        raise ValidationFailed("A target id has at most 64 characters.", field="target_id")
    if target_id and not target_type:
        raise ValidationFailed(
            "Say whether the id is a user's, a workspace's, a post's or an event's.", field="target_type"
        )
    actor = filters.actor.strip()
    if len(actor) > 320:
        raise ValidationFailed("Search by at most 320 characters of the email.", field="actor")
    return AuditFilters(action, actor, target_type, target_id, filters.workspace_id)


def audit_page(
    session: Session, *, actor_id: int, filters: AuditFilters | None = None, limit: int = 50, offset: int = 0
) -> AuditPage:
    """The log for system admins, newest first, filtered."""
    authorize_admin(session, actor_id)
    wanted = check_filters(filters or AuditFilters())
    where: list[Any] = []
    if wanted.action:
        where.append(col(AuditLog.action) == wanted.action)
    if wanted.target_type:
        where.append(col(AuditLog.target_type) == wanted.target_type)
    if wanted.target_id:
        where.append(col(AuditLog.target_id) == wanted.target_id)
    if wanted.workspace_id is not None:
        where.append(col(AuditLog.workspace_id) == wanted.workspace_id)
    if wanted.actor:
        pattern = contains_pattern(wanted.actor.casefold())
        actor_ids = select(User.id).where(col(User.email).ilike(pattern, escape=ESCAPE))
        where.append(col(AuditLog.actor_user_id).in_(actor_ids))
    return _page(session, where, limit=limit, offset=offset)


def for_workspace_admins(
    session: Session, *, user_id: int, workspace_id: int, limit: int = 20
) -> list[AuditEntry]:
    """What system admins did to this workspace or to its members' accounts, for its own admins."""
    workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="manage_members")
    member_ids = select(sa.cast(Membership.user_id, sa.String)).where(Membership.workspace_id == workspace_id)
    where = [
        sa.or_(
            col(AuditLog.workspace_id) == workspace_id,
            sa.and_(col(AuditLog.target_type) == "user", col(AuditLog.target_id).in_(member_ids)),
        ),
        col(AuditLog.action).in_(list(ACTIONS)),
    ]
    return _page(session, where, limit=limit, offset=0).entries


def _page(session: Session, where: list[Any], *, limit: int, offset: int) -> AuditPage:
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    offset = max(0, int(offset))
    total = session.execute(sa.select(func.count()).select_from(AuditLog).where(*where)).scalar_one()
    rows = session.exec(
        select(AuditLog)
        .where(*where)
        .order_by(col(AuditLog.created_at).desc(), col(AuditLog.id).desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return AuditPage([_entry(row) for row in rows], int(total), limit, offset)


def _entry(row: AuditLog) -> AuditEntry:
    details = row.details or {}
    return AuditEntry(
        id=row.id or 0,
        created_at=row.created_at,
        actor=str(details.get("actor_email") or ""),
        action=row.action,
        action_label=ACTIONS.get(row.action, row.action),
        target_type=row.target_type,
        target_id=row.target_id,
        target_label=str(details.get("target_label") or ""),
        workspace_id=row.workspace_id,
        change=describe_change(details.get("before") or {}, details.get("after") or {}),
        reason=str(details.get("reason") or ""),
        ip_address=row.ip_address,
    )


def describe_change(before: dict[str, Any], after: dict[str, Any]) -> str:
    """'credits: 10 → 15; plan: Free → Pro' — each field that either side names."""
    parts = []
    for key in [*before, *(k for k in after if k not in before)]:
        parts.append(f"{key}: {_text(before.get(key))} → {_text(after.get(key))}")
    return "; ".join(parts)


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value)

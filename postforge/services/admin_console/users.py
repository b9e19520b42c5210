"""Users in the admin console: search, a detail view, suspend and restore, sign out everywhere,
a password reset link, delete. Every function authorizes the admin first and audits its change.

A suspended account is `is_active = False` with `suspended_at` set: every sign-in path (password,
single sign-on, reset and confirmation links) and every session check already refuses inactive
accounts, and suspension ends the account's sessions at once, so its open tabs are signed out on
their next event. Deletion follows the self-deletion rules (`identity.account_deletion`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from postforge.models import AuthIdentity, Membership, User, UserSession, Workspace, utcnow
from postforge.models.base import UTCDateTime
from postforge.services.admin_console import audit
from postforge.services.admin_console.guard import authorize_admin
from postforge.services.identity import account_deletion, accounts_auth, email_verification
from postforge.services.kernel.errors import Conflict, NotFound, ValidationFailed
from postforge.services.kernel.text_search import ESCAPE, contains_pattern

PAGE_SIZE = 25
# Counting every match of a search that matches most of 100,000 users costs more than the page
# itself; past this many the page says "more than".
COUNT_CAP = 1000
MAX_PAGE_SIZE = 100
MAX_QUERY_LENGTH = 320
MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class UserRow:
    id: int
    email: str
    name: str
    is_admin: bool
    suspended: bool
    verified: bool
    created_at: datetime
    last_activity: datetime | None


@dataclass(frozen=True)
class UserSearchPage:
    rows: list[UserRow]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class MembershipRow:
    workspace_id: int
    workspace_name: str
    role: str
    is_personal: bool


@dataclass(frozen=True)
class IdentityRow:
    provider: str
    issuer: str
    email: str
    created_at: datetime


@dataclass(frozen=True)
class UserDetail:
    id: int
    email: str
    name: str
    timezone: str
    is_admin: bool
    suspended_at: datetime | None
    email_verified_at: datetime | None
    created_at: datetime
    last_activity: datetime | None
    has_password: bool
    identities: list[IdentityRow]
    memberships: list[MembershipRow]
    sessions: list[accounts_auth.SessionInfo]


def capped_count(session: Session, model: type, where: list) -> int:
    """How many rows match, counted up to COUNT_CAP + 1 (a page shows "more than COUNT_CAP")."""
    limited = sa.select(sa.literal(1)).select_from(model).where(*where).limit(COUNT_CAP + 1).subquery()
    return int(session.execute(sa.select(func.count()).select_from(limited)).scalar_one())


def check_query(query: str) -> str:
    text = " ".join(str(query or "").split())
    if len(text) > MAX_QUERY_LENGTH:
        raise ValidationFailed(f"Search with at most {MAX_QUERY_LENGTH} characters.", field="query")
    return text


def search_users(
    session: Session, *, actor_id: int, query: str = "", limit: int = PAGE_SIZE, offset: int = 0
) -> UserSearchPage:
    """Users whose email or name contains `query` (any case), newest first; a number finds that id.

    `total` is counted up to COUNT_CAP + 1: beyond that the page says "more than" and the admin
    narrows the search.
    """
    authorize_admin(session, actor_id)
    text = check_query(query)
    limit, offset = max(1, min(int(limit), MAX_PAGE_SIZE)), max(0, int(offset))
    where = []
    order: list[Any] = [col(User.created_at).desc(), col(User.id).desc()]
    if text:
        pattern = contains_pattern(text.casefold())
        matches = [
            col(User.email).ilike(pattern, escape=ESCAPE),
            col(User.name).ilike(contains_pattern(text), escape=ESCAPE),
        ]
        if text.isdigit() and len(text) < 12:
            matches.append(col(User.id) == int(text))
            order.insert(0, sa.case((col(User.id) == int(text), 0), else_=1))  # that id first
        where.append(sa.or_(*matches))
    total = capped_count(session, User, where)
    users = session.exec(select(User).where(*where).order_by(*order).limit(limit).offset(offset)).all()
    seen = _last_activity(session, [u.id or 0 for u in users])
    rows = [
        UserRow(
            id=u.id or 0,
            email=u.email,
            name=u.name,
            is_admin=u.is_admin,
            suspended=u.suspended_at is not None,
            verified=email_verification.is_verified(u),
            created_at=u.created_at,
            last_activity=seen.get(u.id or 0),
        )
        for u in users
    ]
    return UserSearchPage(rows, int(total), limit, offset)


def _last_activity(session: Session, user_ids: list[int]) -> dict[int, datetime]:
    """The last time each user's browsers were seen (one grouped query for a page of users)."""
    if not user_ids:
        return {}
    rows = session.execute(
        # Typed as the column, so SQLite's MAX() comes back as an aware UTC datetime too.
        sa.select(UserSession.user_id, sa.type_coerce(func.max(UserSession.last_seen_at), UTCDateTime()))
        .where(col(UserSession.user_id).in_(user_ids))
        .group_by(UserSession.user_id)
    ).all()
    return {user_id: seen for user_id, seen in rows if seen is not None}


def _target(session: Session, user_id: int) -> User:
    user = session.get(User, user_id) if isinstance(user_id, int) and user_id > 0 else None
    if user is None:
        raise NotFound("That user does not exist (any more).")
    return user


def user_detail(session: Session, *, actor_id: int, user_id: int) -> UserDetail:
    authorize_admin(session, actor_id)
    user = _target(session, user_id)
    identities = session.exec(
        select(AuthIdentity).where(AuthIdentity.user_id == user.id).order_by(col(AuthIdentity.id))
    ).all()
    memberships = session.exec(
        select(Membership, Workspace)
        .join(Workspace, col(Workspace.id) == Membership.workspace_id)
        .where(Membership.user_id == user.id)
        .order_by(col(Workspace.is_personal).desc(), col(Workspace.name))
    ).all()
    return UserDetail(
        id=user.id or 0,
        email=user.email,
        name=user.name,
        timezone=user.timezone,
        is_admin=user.is_admin,
        suspended_at=user.suspended_at,
        email_verified_at=user.email_verified_at,
        created_at=user.created_at,
        last_activity=_last_activity(session, [user.id or 0]).get(user.id or 0),
        has_password=bool(user.password_hash),
        identities=[IdentityRow(i.provider, i.issuer, i.email or "", i.created_at) for i in identities],
        memberships=[MembershipRow(w.id or 0, w.name, str(m.role), w.is_personal) for m, w in memberships],
        sessions=accounts_auth.list_sessions(session, user.id or 0),
    )


def _reason(reason: str) -> str:
    text = " ".join(str(reason or "").split())
    if len(text) > MAX_REASON_LENGTH:
        raise ValidationFailed(f"Keep the reason under {MAX_REASON_LENGTH} characters.", field="reason")
    return text


def _not_yourself(actor: User, user: User, what: str) -> None:
    if actor.id == user.id:
        raise ValidationFailed(f"You cannot {what} your own account. Ask another admin.")


def suspend_user(session: Session, *, actor_id: int, user_id: int, reason: str = "", ip: str = "") -> int:
    """Suspend the account and end its sessions at once; returns how many sessions ended."""
    actor = authorize_admin(session, actor_id)
    reason = _reason(reason)
    user = _target(session, user_id)
    _not_yourself(actor, user, "suspend")
    if user.suspended_at is not None:
        raise Conflict(f"{user.email} is already suspended.")
    user.is_active, user.suspended_at = False, utcnow()
    session.add(user)
    ended = accounts_auth.sign_out_everywhere(session, user.id or 0)
    audit.record(
        session,
        actor=actor,
        action="user.suspend",
        target_type="user",
        target_id=user.id or 0,
        target_label=user.email,
        before={"status": "active"},
        after={"status": "suspended", "sessions ended": ended},
        reason=reason,
        ip=ip,
    )
    return ended


def restore_user(session: Session, *, actor_id: int, user_id: int, reason: str = "", ip: str = "") -> None:
    actor = authorize_admin(session, actor_id)
    reason = _reason(reason)
    user = _target(session, user_id)
    if user.suspended_at is None:
        raise Conflict(f"{user.email} is not suspended.")
    user.is_active, user.suspended_at = True, None
    session.add(user)
    audit.record(
        session,
        actor=actor,
        action="user.restore",
        target_type="user",
        target_id=user.id or 0,
        target_label=user.email,
        before={"status": "suspended"},
        after={"status": "active"},
        reason=reason,
        ip=ip,
    )
    session.flush()


def sign_out_everywhere(session: Session, *, actor_id: int, user_id: int, ip: str = "") -> int:
    """End every session of the user (their open tabs are signed out on their next event)."""
    actor = authorize_admin(session, actor_id)
    user = _target(session, user_id)
    ended = accounts_auth.sign_out_everywhere(session, user.id or 0)
    audit.record(
        session,
        actor=actor,
        action="user.sign_out",
        target_type="user",
        target_id=user.id or 0,
        target_label=user.email,
        before={"open sessions": ended},
        after={"open sessions": 0},
        ip=ip,
    )
    return ended


def send_password_reset(session: Session, *, actor_id: int, user_id: int, ip: str = "") -> None:
    """Mail the user the ordinary one-hour reset link (the same flow as "forgot password")."""
    actor = authorize_admin(session, actor_id)
    user = _target(session, user_id)
    if user.suspended_at is not None or not user.is_active:
        raise Conflict("Restore the account first: a suspended account cannot reset its password.")
    # Its rate limits are counted first, before this transaction writes anything (see rate_limit).
    accounts_auth.request_password_reset(session, email=user.email)
    audit.record(
        session,
        actor=actor,
        action="user.password_reset",
        target_type="user",
        target_id=user.id or 0,
        target_label=user.email,
        after={"reset link": "sent"},
        ip=ip,
    )


def delete_user(session: Session, *, actor_id: int, user_id: int, confirm_email: str, ip: str = "") -> None:
    """Delete the account as self-deletion would; `confirm_email` must repeat its address."""
    actor = authorize_admin(session, actor_id)
    user = _target(session, user_id)
    _not_yourself(actor, user, "delete")
    if " ".join(str(confirm_email or "").split()).casefold() != user.email:
        raise ValidationFailed(
            "Type the account's email address to confirm the deletion.", field="confirm_email"
        )
    personal = [
        w.name
        for w in session.exec(
            select(Workspace).where(Workspace.created_by_id == user.id, col(Workspace.is_personal).is_(True))
        ).all()
    ]
    audit.record(
        session,
        actor=actor,
        action="user.delete",
        target_type="user",
        target_id=user.id or 0,
        target_label=user.email,
        before={"account": user.email, "personal workspace": ", ".join(personal) or None},
        after={"account": None},
        ip=ip,
    )
    account_deletion.delete_account(session, user.id or 0)

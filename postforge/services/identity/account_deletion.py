"""Deleting an account: the same rules whoever asks (the user directory's webhook, a system admin).

The user's personal data goes: the user row (its sessions, identities, memberships, reset links
and OAuth attempts cascade) and the personal workspace with its posts, accounts, media and ledger.
Team workspaces keep going: one that would lose its last admin gets its longest-standing member
promoted first. Works in the caller's transaction; flushes, never commits.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from postforge.models import Membership, Role, User, Workspace


def delete_account(session: Session, user_id: int) -> None:
    hand_over_team_workspaces(session, user_id)
    session.execute(
        sa.delete(Workspace).where(
            col(Workspace.created_by_id) == user_id, col(Workspace.is_personal).is_(True)
        )
    )
    session.execute(sa.delete(User).where(col(User.id) == user_id))
    # The row went behind the identity map's back: a cached copy must not be flushed again.
    cached = session.identity_map.get(sa.inspect(User).identity_key_from_primary_key((user_id,)))
    if cached is not None:
        session.expunge(cached)
    session.flush()


def hand_over_team_workspaces(session: Session, user_id: int) -> None:
    """Where the leaving user is the only admin of a team, its longest-standing member becomes admin."""
    admin_of = session.exec(
        select(Membership.workspace_id)
        .join(Workspace, col(Workspace.id) == Membership.workspace_id)
        .where(
            Membership.user_id == user_id,
            Membership.role == Role.ADMIN,
            col(Workspace.is_personal).is_(False),
        )
    ).all()
    for workspace_id in admin_of:
        others = session.exec(
            select(Membership)
            .where(Membership.workspace_id == workspace_id, Membership.user_id != user_id)
            .order_by(col(Membership.created_at), col(Membership.id))
        ).all()
        if others and not any(m.role == Role.ADMIN for m in others):
            others[0].role = Role.ADMIN
            session.add(others[0])
    session.flush()

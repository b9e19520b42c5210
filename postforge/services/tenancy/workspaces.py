"""Workspaces, memberships, roles and invitations.

`authorize` is the one place that decides what a member may do: every service that acts on a
workspace's data asks it first, so a role or tenancy rule lives here and nowhere else.
"""

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update

from postforge.models import Invite, Membership, Role, User, UserSession, Workspace, utcnow
from postforge.services.infra import rate_limit
from postforge.services.infra.mail import send_mail
from postforge.services.kernel.emails import normalize_email
from postforge.services.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from postforge.settings import get_settings

INVITE_LIFETIME = timedelta(days=7)
# (invitations, window in seconds): each one mails an address someone typed, so an admin account
# (or a workspace) cannot be turned into a mail cannon.
INVITES_PER_INVITER = (20, 60 * 60)
INVITES_PER_WORKSPACE = (50, 24 * 60 * 60)
WORKSPACE_NAME_MAX = 120

# Which roles may take each action; admins may do everything an editor may, editors everything a viewer may.
ACTION_ROLES: dict[str, frozenset[Role]] = {
    "read": frozenset({Role.ADMIN, Role.EDITOR, Role.VIEWER}),
    "write_posts": frozenset({Role.ADMIN, Role.EDITOR}),
    "manage_members": frozenset({Role.ADMIN}),
    "manage_billing": frozenset({Role.ADMIN}),
    # Connecting a social account is part of getting posts out, so editors may do it too.
    "manage_accounts": frozenset({Role.ADMIN, Role.EDITOR}),
}
NOT_A_MEMBER = "You are not a member of this workspace."
ACTION_REFUSALS = {
    "read": NOT_A_MEMBER,
    "write_posts": "Viewers can read this workspace but not write posts. Ask an admin for the editor role.",
    "manage_members": "Only workspace admins can manage members and invitations.",
    "manage_billing": "Only workspace admins can manage billing.",
    "manage_accounts": "Viewers can't connect or disconnect social accounts. Ask an admin for the editor role.",
}
LAST_ADMIN = "A workspace needs at least one admin. Make another member admin first."
PERSONAL_OWNER = "The owner of a personal workspace always stays its admin."


@dataclass(frozen=True)
class WorkspaceSummary:
    id: int
    name: str
    credits: int
    timezone: str
    # Set when the summary is seen through a membership (the header's switcher, the current workspace).
    role: str = ""
    is_personal: bool = False


@dataclass(frozen=True)
class MemberRow:
    user_id: int
    name: str
    email: str
    role: str
    joined_at: datetime


@dataclass(frozen=True)
class InviteRow:
    id: int
    email: str
    role: str
    invited_by: str
    created_at: datetime
    expires_at: datetime


def summarize(workspace: Workspace, role: Role | str | None = None) -> WorkspaceSummary:
    return WorkspaceSummary(
        id=workspace.id or 0,
        name=workspace.name,
        credits=workspace.credits,
        timezone=workspace.timezone,
        role=str(role) if role else "",
        is_personal=workspace.is_personal,
    )


# --- Roles ---------------------------------------------------------------------------------------


def authorize(session: Session, *, user_id: int, workspace_id: int, action: str) -> Membership:
    """The member's membership if their role allows `action`, else PermissionDenied.

    A missing workspace and a workspace of which the user is no member get the same answer, so
    the refusal tells an outsider nothing about what exists.
    """
    allowed = ACTION_ROLES.get(action)
    if allowed is None:
        raise ValueError(f"unknown workspace action {action!r}; expected one of {sorted(ACTION_ROLES)}")
    membership = session.exec(
        select(Membership)
        .join(User, col(User.id) == Membership.user_id)
        .where(
            Membership.user_id == user_id,
            Membership.workspace_id == workspace_id,
            col(User.is_active).is_(True),
        )
    ).first()
    if membership is None:
        raise PermissionDenied(NOT_A_MEMBER)
    if membership.role not in allowed:
        raise PermissionDenied(ACTION_REFUSALS[action])
    return membership


def parse_role(value: Role | str) -> Role:
    try:
        return Role(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(role.value for role in Role)
        raise ValidationFailed(f"Choose a role: {choices}.", field="role") from None


# --- Memberships ---------------------------------------------------------------------------------


def list_memberships(session: Session, user_id: int) -> list[WorkspaceSummary]:
    """The user's workspaces for the header's switcher: their personal one first, then by name."""
    rows = session.exec(
        select(Workspace, Membership.role)
        .join(Membership, col(Membership.workspace_id) == Workspace.id)
        .where(Membership.user_id == user_id)
    ).all()
    rows = sorted(rows, key=lambda row: (not _is_owned_personal(row[0], user_id), row[0].name.casefold()))
    return [summarize(workspace, role) for workspace, role in rows]


def current_workspace_for(
    session: Session, user_id: int, preferred_workspace_id: int | None = None
) -> WorkspaceSummary:
    """The workspace a signed-in user works in.

    The preferred one (the browser's last choice) only if they are still a member of it, else
    their personal workspace, else their oldest membership.
    """
    rows = session.exec(
        select(Workspace, Membership.role)
        .join(Membership, col(Membership.workspace_id) == Workspace.id)
        .where(Membership.user_id == user_id)
        .order_by(col(Membership.created_at), col(Membership.id))
    ).all()
    if not rows:
        raise NotFound("You are not a member of any workspace.")
    preferred = [row for row in rows if preferred_workspace_id and row[0].id == preferred_workspace_id]
    personal = [row for row in rows if _is_owned_personal(row[0], user_id)]
    workspace, role = (preferred or personal or rows)[0]
    return summarize(workspace, role)


def switch_workspace(
    session: Session, *, user_id: int, session_id: int, workspace_id: int
) -> WorkspaceSummary:
    """Remember on the browser's session row which workspace it works in."""
    membership = authorize(session, user_id=user_id, workspace_id=workspace_id, action="read")
    browser = session.get(UserSession, session_id)
    if (
        browser is None
        or browser.user_id != user_id
        or browser.revoked_at is not None
        or browser.expires_at <= utcnow()
    ):
        raise PermissionDenied("Your sign-in has ended. Sign in again.")
    browser.workspace_id = workspace_id
    session.add(browser)
    session.flush()
    return summarize(_workspace(session, workspace_id), membership.role)


def create_team_workspace(session: Session, user_id: int, name: str) -> WorkspaceSummary:
    """A new shared workspace with its creator as admin."""
    name = _validate_workspace_name(name)
    user = _active_user(session, user_id)
    workspace = _insert_with_unique_slug(
        session,
        Workspace(name=name, slug="", is_personal=False, timezone=user.timezone, created_by_id=user.id),
    )
    session.add(Membership(workspace_id=workspace.id, user_id=user.id, role=Role.ADMIN))
    session.flush()
    return summarize(workspace, Role.ADMIN)


def list_members(session: Session, *, actor_id: int, workspace_id: int) -> list[MemberRow]:
    authorize(session, user_id=actor_id, workspace_id=workspace_id, action="read")
    rows = session.exec(
        select(Membership, User)
        .join(User, col(User.id) == Membership.user_id)
        .where(Membership.workspace_id == workspace_id)
        .order_by(col(User.name), col(User.email))
    ).all()
    return [
        MemberRow(
            user_id=user.id or 0,
            name=user.name,
            email=user.email,
            role=str(membership.role),
            joined_at=membership.created_at,
        )
        for membership, user in rows
    ]


def change_role(
    session: Session, *, actor_id: int, workspace_id: int, member_user_id: int, role: Role | str
) -> MemberRow:
    authorize(session, user_id=actor_id, workspace_id=workspace_id, action="manage_members")
    new_role = parse_role(role)
    target = _membership_of(session, workspace_id, member_user_id)
    if target.role == new_role:
        return _member_row(session, target)
    if target.role == Role.ADMIN:
        _refuse_losing_an_admin(session, workspace_id, member_user_id)
    target.role = new_role
    session.add(target)
    session.flush()
    return _member_row(session, target)


def remove_member(session: Session, *, actor_id: int, workspace_id: int, member_user_id: int) -> None:
    authorize(session, user_id=actor_id, workspace_id=workspace_id, action="manage_members")
    target = _membership_of(session, workspace_id, member_user_id)
    if target.role == Role.ADMIN:
        _refuse_losing_an_admin(session, workspace_id, member_user_id)
    _delete_membership(session, target)


def leave_workspace(session: Session, *, user_id: int, workspace_id: int) -> None:
    membership = authorize(session, user_id=user_id, workspace_id=workspace_id, action="read")
    workspace = _workspace(session, workspace_id)
    if _is_owned_personal(workspace, user_id):
        raise Conflict("You can't leave your personal workspace.")
    if membership.role == Role.ADMIN:
        _refuse_losing_an_admin(session, workspace_id, user_id)
    _delete_membership(session, membership)


# --- Invitations ---------------------------------------------------------------------------------


def invite_member(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    email: str,
    role: Role | str,
) -> str:
    """Email a single-use, 7-day link that adds `email` to the workspace; returns the raw token.

    Only the token's SHA-256 is stored. Inviting the same address again replaces the older
    pending invitation, so at most one link per address works at a time.
    """
    authorize(session, user_id=actor_id, workspace_id=workspace_id, action="manage_members")
    email = normalize_email(email)
    invited_role = parse_role(role)
    if _member_with_email(session, workspace_id, email):
        raise Conflict(f"{email} is already a member of this workspace.", field="email")
    _limit_invitations(session, actor_id, workspace_id)
    now = utcnow()
    session.exec(
        update(Invite)
        .where(*_pending(now), Invite.workspace_id == workspace_id, Invite.email == email)
        .values(revoked_at=now)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        Invite(
            workspace_id=workspace_id,
            email=email,
            role=invited_role,
            token_hash=hash_token(token),
            invited_by_id=actor_id,
            expires_at=now + INVITE_LIFETIME,
        )
    )
    session.flush()
    _mail_invite(session, _workspace(session, workspace_id), _active_user(session, actor_id), email, token)
    return token


def accept_invite(session: Session, *, token: str, user_id: int) -> WorkspaceSummary:
    """Join the invitation's workspace — only that one — with the invited role.

    Accepting again as the same person, or while already a member, changes nothing.
    """
    invite = _invite_by_token(session, token)
    user = _active_user(session, user_id)
    existing = session.exec(
        select(Membership).where(
            Membership.workspace_id == invite.workspace_id, Membership.user_id == user_id
        )
    ).first()
    if invite.accepted_at is not None:
        if invite.accepted_by_id == user_id and existing is not None:
            return summarize(_workspace(session, invite.workspace_id), existing.role)
        raise ValidationFailed("This invitation has already been used.", field="token")
    if invite.revoked_at is not None:
        raise ValidationFailed(
            "This invitation was withdrawn or replaced by a newer one. Ask a workspace admin for a new link.",
            field="token",
        )
    if invite.expires_at <= utcnow():
        raise ValidationFailed(
            "This invitation has expired. Ask a workspace admin to send a new one.", field="token"
        )
    if user.email.casefold() != invite.email:
        raise PermissionDenied(
            "This invitation was sent to another email address. Sign in with that address to accept it."
        )
    _mark_accepted(session, invite, user_id)
    if existing is not None:
        return summarize(_workspace(session, invite.workspace_id), existing.role)
    membership = Membership(workspace_id=invite.workspace_id, user_id=user_id, role=invite.role)
    session.add(membership)
    session.flush()
    return summarize(_workspace(session, invite.workspace_id), membership.role)


def revoke_invite(session: Session, *, actor_id: int, workspace_id: int, invite_id: int) -> None:
    authorize(session, user_id=actor_id, workspace_id=workspace_id, action="manage_members")
    invite = session.get(Invite, invite_id)
    if invite is None or invite.workspace_id != workspace_id:
        raise NotFound("That invitation does not exist in this workspace.")
    if invite.accepted_at is not None:
        raise Conflict("That invitation has already been accepted; remove the member instead.")
    if invite.revoked_at is None:
        invite.revoked_at = utcnow()
        session.add(invite)
        session.flush()


def list_invites(session: Session, *, actor_id: int, workspace_id: int) -> list[InviteRow]:
    """Invitations that can still be accepted, newest first."""
    authorize(session, user_id=actor_id, workspace_id=workspace_id, action="manage_members")
    rows = session.exec(
        select(Invite, User)
        .join(User, col(User.id) == Invite.invited_by_id, isouter=True)
        .where(*_pending(utcnow()), Invite.workspace_id == workspace_id)
        .order_by(col(Invite.created_at).desc(), col(Invite.id).desc())
    ).all()
    return [
        InviteRow(
            id=invite.id or 0,
            email=invite.email,
            role=str(invite.role),
            invited_by=(inviter.name or inviter.email) if inviter else "",
            created_at=invite.created_at,
            expires_at=invite.expires_at,
        )
        for invite, inviter in rows
    ]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- Helpers -------------------------------------------------------------------------------------


def _is_owned_personal(workspace: Workspace, user_id: int) -> bool:
    return workspace.is_personal and workspace.created_by_id == user_id


def _workspace(session: Session, workspace_id: int) -> Workspace:
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("That workspace does not exist.")
    return workspace


def _active_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise NotFound("That account does not exist or has been deactivated.")
    return user


def _membership_of(session: Session, workspace_id: int, user_id: int) -> Membership:
    membership = session.exec(
        select(Membership).where(Membership.workspace_id == workspace_id, Membership.user_id == user_id)
    ).first()
    if membership is None:
        raise NotFound("That person is not a member of this workspace.")
    return membership


def _member_row(session: Session, membership: Membership) -> MemberRow:
    user = session.get(User, membership.user_id)
    assert user is not None  # the foreign key guarantees it
    return MemberRow(
        user_id=user.id or 0,
        name=user.name,
        email=user.email,
        role=str(membership.role),
        joined_at=membership.created_at,
    )


def _refuse_losing_an_admin(session: Session, workspace_id: int, admin_user_id: int) -> None:
    """Refuse to demote or remove `admin_user_id` if that would leave the workspace without an admin.

    The admin rows are locked (PostgreSQL) so two admins demoting each other at once cannot
    both succeed; SQLite serialises writers anyway.
    """
    workspace = _workspace(session, workspace_id)
    if _is_owned_personal(workspace, admin_user_id):
        raise Conflict(PERSONAL_OWNER)
    admins = session.exec(
        select(Membership)
        .where(Membership.workspace_id == workspace_id, Membership.role == Role.ADMIN)
        .with_for_update()
    ).all()
    if not any(admin.user_id != admin_user_id for admin in admins):
        raise Conflict(LAST_ADMIN)


def _delete_membership(session: Session, membership: Membership) -> None:
    # A browser that was working in this workspace falls back to the member's personal one.
    session.exec(
        update(UserSession)
        .where(UserSession.user_id == membership.user_id, UserSession.workspace_id == membership.workspace_id)
        .values(workspace_id=None)
    )
    session.delete(membership)
    session.flush()


def _member_with_email(session: Session, workspace_id: int, email: str) -> bool:
    return (
        session.exec(
            select(Membership.id)
            .join(User, col(User.id) == Membership.user_id)
            .where(Membership.workspace_id == workspace_id, User.email == email)
        ).first()
        is not None
    )


def _pending(now: datetime) -> tuple:
    return (
        col(Invite.accepted_at).is_(None),
        col(Invite.revoked_at).is_(None),
        col(Invite.expires_at) > now,
    )


def _invite_by_token(session: Session, token: str) -> Invite:
    invite = None
    if isinstance(token, str) and token.strip():
        invite = session.exec(select(Invite).where(Invite.token_hash == hash_token(token.strip()))).first()
    if invite is None:
        raise ValidationFailed(
            "This invitation link is not valid. Check that you opened the whole link from the email.",
            field="token",
        )
    return invite


def _mark_accepted(session: Session, invite: Invite, user_id: int) -> None:
    # Conditional update: of two simultaneous accepts only one finds the invite still pending.
    result = session.exec(
        update(Invite)
        .where(Invite.id == invite.id, col(Invite.accepted_at).is_(None), col(Invite.revoked_at).is_(None))
        .values(accepted_at=utcnow(), accepted_by_id=user_id)
    )
    if result.rowcount != 1:
        raise ValidationFailed("This invitation has already been used.", field="token")
    session.refresh(invite)


def _limit_invitations(session: Session, actor_id: int, workspace_id: int) -> None:
    # Counted before any write of the caller's transaction (see rate_limit).
    engine = session.get_bind()
    rate_limit.enforce(
        "invite:user",
        str(actor_id),
        INVITES_PER_INVITER,
        refusal="You have sent too many invitations in the last hour.",
        engine=engine,
    )
    rate_limit.enforce(
        "invite:workspace",
        str(workspace_id),
        INVITES_PER_WORKSPACE,
        refusal="This workspace has sent too many invitations today.",
        engine=engine,
    )


def _mail_invite(session: Session, workspace: Workspace, inviter: User, email: str, token: str) -> None:
    link = f"{get_settings().app_url.rstrip('/')}/invite?{urlencode({'token': token})}"
    send_mail(
        session,
        to=email,
        subject=f"You're invited to {workspace.name} on PostForge",
        body=(
            f"{inviter.name or inviter.email} invited you to join the workspace “{workspace.name}” on "
            f"PostForge.\n\nAccept the invitation (valid for 7 days, single use):\n{link}\n\n"
            "If you did not expect this, ignore this email."
        ),
    )


def _validate_workspace_name(name: str) -> str:
    value = " ".join(name.split()) if isinstance(name, str) else ""
    if not value:
        raise ValidationFailed("Give the workspace a name.", field="name")
    if len(value) > WORKSPACE_NAME_MAX:
        raise ValidationFailed(
            f"A workspace name can be at most {WORKSPACE_NAME_MAX} characters.", field="name"
        )
    return value


def _slug_base(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:100].strip("-") or "team"


def _insert_with_unique_slug(session: Session, workspace: Workspace, attempts: int = 5) -> Workspace:
    """Insert under the name's slug, or the slug with a random suffix when it is taken.

    The check and the insert are not atomic, so a concurrent insert of the same slug is caught
    by the unique constraint inside a savepoint and retried with a new suffix.
    """
    base = _slug_base(workspace.name)
    for attempt in range(attempts):
        slug = base if attempt == 0 else f"{base}-{secrets.token_hex(3)}"
        if session.exec(select(Workspace.id).where(Workspace.slug == slug)).first() is not None:
            continue
        workspace.slug = slug
        try:
            with session.begin_nested():
                session.add(workspace)
        except IntegrityError:
            continue
        return workspace
    raise Conflict("Could not find a free address for this workspace; try another name.", field="name")

"""Granting and revoking the system admin flag: only from the command line on the server.

No page can make anyone an admin, so a stolen admin session cannot mint another admin. The last
admin cannot be revoked (nobody could run the console afterwards). Both are audited, with the
command line as the actor.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from postforge.models import User
from postforge.services.admin_console import audit
from postforge.services.kernel.emails import normalize_email
from postforge.services.kernel.errors import Conflict, NotFound, ValidationFailed


def _user_by_email(session: Session, email: str) -> User:
    try:
        address = normalize_email(email)
    except ValidationFailed:
        raise ValidationFailed(f"{email!r} is not an email address.", field="email") from None
    user = session.exec(select(User).where(User.email == address)).first()
    if user is None:
        raise NotFound(f"No account uses {address}.")
    return user


def grant(session: Session, email: str) -> str:
    """Make the account a system admin; what changed, in a sentence."""
    user = _user_by_email(session, email)
    if user.is_admin:
        return f"{user.email} is already a system admin."
    user.is_admin = True
    session.add(user)
    audit.record(
        session,
        actor=None,
        action="admin.grant",
        target_type="user",
        target_id=user.id or 0,
        target_label=user.email,
        before={"admin": False},
        after={"admin": True},
    )
    return f"{user.email} is now a system admin."


def revoke(session: Session, email: str) -> str:
    """Take the flag away, unless this is the last active admin."""
    user = _user_by_email(session, email)
    if not user.is_admin:
        return f"{user.email} is not a system admin."
    # Lock every admin row: two revocations at once cannot each leave the other as the last one.
    admins = session.exec(select(User).where(col(User.is_admin).is_(True)).with_for_update()).all()
    if not any(other.is_active and other.id != user.id for other in admins):
        raise Conflict(f"{user.email} is the last system admin. Grant another account first.")
    user.is_admin = False
    session.add(user)
    audit.record(
        session,
        actor=None,
        action="admin.revoke",
        target_type="user",
        target_id=user.id or 0,
        target_label=user.email,
        before={"admin": True},
        after={"admin": False},
    )
    return f"{user.email} is no longer a system admin."

"""Who is a system admin: the one check every admin service and admin page goes through.

A non-admin (or a suspended admin) is refused with `NotAnAdmin`, whose message says nothing about
what exists: the pages show their not-found page for it.
"""

from __future__ import annotations

from sqlmodel import Session

from postforge.models import User
from postforge.services.identity import accounts_auth
from postforge.services.kernel.errors import PermissionDenied

NOT_FOUND_MESSAGE = "This page does not exist."


class NotAnAdmin(PermissionDenied):
    code = "not_found"


def authorize_admin(session: Session, user_id: int) -> User:
    """The admin's own row, re-read now (a revoked or suspended admin is refused at once)."""
    user = session.get(User, user_id) if isinstance(user_id, int) and user_id > 0 else None
    if user is None or not user.is_admin or not user.is_active:
        raise NotAnAdmin(NOT_FOUND_MESSAGE)
    return user


def require_admin(session: Session, *, actor_id: int) -> None:
    """`authorize_admin` in the console's calling convention (for pages showing system figures)."""
    authorize_admin(session, actor_id)


def is_admin(session: Session, user_id: int) -> bool:
    try:
        authorize_admin(session, user_id)
    except NotAnAdmin:
        return False
    return True


def session_is_admin(session: Session, session_token: str) -> bool:
    """Whether a browser session (or an API bearer token) belongs to a system admin."""
    if not session_token:
        return False
    context = accounts_auth.resolve_session(session, session_token)
    return context is not None and is_admin(session, context.user_id)

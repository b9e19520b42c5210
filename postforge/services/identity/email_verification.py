"""Proving that a person receives mail at their account's address.

Registration mails a link (`send_link`); the verification page redeems it (`consume_link`) and
signs the person in. The link is a random 256-bit token of which only the SHA-256 is stored, with
the address it was sent to, an expiry (24 hours) and the moment it was used: it cannot be forged
or guessed, works once, and a copy of the database redeems nothing. A verified address is what
lets a provider's identity join an account as it is (see `onboarding`); an unverified account can
be used, but the app shell keeps asking to confirm it, with a resend (`resend_link`).

Every function works in the caller's session and never commits.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlmodel import Session, col, select, update

from postforge import routes
from postforge.models import EmailVerificationToken, User, utcnow
from postforge.services.infra import mail, rate_limit
from postforge.services.kernel.errors import NotFound, ValidationFailed
from postforge.settings import get_settings

LINK_LIFETIME = timedelta(hours=24)
RESEND_PER_USER = (5, 60 * 60)  # (mails, window in seconds)
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,128}")

NOT_VALID = "This confirmation link is not valid. Sign in and ask for a new one."


def is_verified(user: User) -> bool:
    return user.email_verified_at is not None


def send_link(session: Session, user: User) -> str:
    """Mail `user` a fresh confirmation link for their current address; returns the raw token."""
    if user.id is None:
        raise ValueError("the user must be saved before a confirmation link is sent")
    token = secrets.token_urlsafe(32)
    session.add(
        EmailVerificationToken(
            user_id=user.id,
            email=user.email,
            token_hash=_digest(token),
            expires_at=utcnow() + LINK_LIFETIME,
        )
    )
    session.flush()
    mail.send_mail(session, to=user.email, subject="Confirm your email for PostForge", body=_body(token))
    return token


def resend_link(session: Session, user_id: int) -> str:
    """Mail a new link to a signed-in member whose address is not confirmed yet; returns the notice."""
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise NotFound("That account does not exist or has been deactivated.")
    if is_verified(user):
        raise ValidationFailed("Your email address is already confirmed.")
    rate_limit.enforce(
        "verify-resend:user",
        str(user_id),
        RESEND_PER_USER,
        refusal="Too many confirmation emails.",
        engine=session.get_bind(),
    )
    send_link(session, user)
    return f"We sent a new link to {user.email}. It works once, for 24 hours."


def consume_link(session: Session, token: str, *, now: datetime | None = None) -> User:
    """Redeem a confirmation link once: the user's address is verified and the user returned."""
    now = now or utcnow()
    row = None
    if isinstance(token, str) and _TOKEN_PATTERN.fullmatch(token.strip()):
        row = session.exec(
            select(EmailVerificationToken).where(EmailVerificationToken.token_hash == _digest(token.strip()))
        ).first()
    if row is None:
        raise ValidationFailed(NOT_VALID, field="token")
    if row.used_at is not None:
        raise ValidationFailed(
            "This confirmation link has already been used. Sign in with your email address.", field="token"
        )
    if row.expires_at <= now:
        raise ValidationFailed(
            "This confirmation link has expired. Sign in and ask for a new one.", field="token"
        )
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise ValidationFailed(NOT_VALID, field="token")
    if user.email != row.email:
        raise ValidationFailed(
            "This link was sent to an address your account no longer uses. Sign in and ask for a new one.",
            field="token",
        )
    mark_verified(session, user, now=now)
    return user


def mark_verified(session: Session, user: User, *, now: datetime | None = None) -> None:
    """Record that `user` receives mail at their address; open links have nothing left to prove."""
    now = now or utcnow()
    if user.email_verified_at is None:
        user.email_verified_at = now
        session.add(user)
    session.exec(
        update(EmailVerificationToken)
        .where(EmailVerificationToken.user_id == user.id, col(EmailVerificationToken.used_at).is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session="fetch")
    )
    session.flush()


def _body(token: str) -> str:
    link = f"{get_settings().app_url.rstrip('/')}{routes.VERIFY_EMAIL}?{urlencode({'token': token})}"
    return (
        "Welcome to PostForge! Confirm that this is your email address to finish signing up "
        f"(the link works once, for 24 hours, and signs you in):\n{link}\n\n"
        "If you did not create a PostForge account, ignore this mail: without this link nobody "
        "can confirm the address.\n"
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()

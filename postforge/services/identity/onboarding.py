"""A person's first arrival: user, personal workspace, admin membership and the welcome bonus — once.

`ensure_identity_user` is the idempotent first sign-in (the seeds' `createOrUpdateUser`) for an
identity at an external provider (OIDC, GitHub, Google, a Clerk webhook). Twenty sign-ins for the
same identity racing each other, and a webhook for the same person arriving at the same moment,
still end with one user, one personal workspace, one membership and one bonus row: everything is
written in one transaction guarded by unique constraints (users.email, auth_identities
(issuer, subject), the bonus idempotency key); the loser of a race rolls back and re-reads.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from postforge.models import (
    AuthIdentity,
    Membership,
    Role,
    TransactionType,
    User,
    Workspace,
    utcnow,
)
from postforge.services.kernel.errors import Conflict, ValidationFailed
from postforge.services.ledger import credits

WELCOME_BONUS_CREDITS = 10
# Each retry follows a lost race whose winner has committed, so the next read finds its rows;
# more than a couple of rounds means something else is wrong.
MAX_ATTEMPTS = 5

SessionSource = Engine | Callable[[], Session]


@contextmanager
def open_session(source: SessionSource) -> Iterator[Session]:
    """A session of its own on `source` (an engine or a session factory); the caller commits."""
    session = Session(source, expire_on_commit=False) if isinstance(source, Engine) else source()
    try:
        yield session
    finally:
        session.close()


def welcome_bonus_key(user_id: int) -> str:
    return f"welcome-bonus:user:{user_id}"


def create_personal_workspace(session: Session, user: User) -> Workspace:
    """The user's personal workspace with them as admin and the welcome bonus; flushes, never commits.

    Calling it again for the same user returns the workspace it made the first time.
    """
    if user.id is None:
        raise ValueError("the user must be flushed (have an id) before it gets a workspace")
    workspace = personal_workspace_of(session, user.id)
    if workspace is None:
        workspace = Workspace(
            name=_workspace_name(user),
            slug=_unique_slug(session, user),
            is_personal=True,
            timezone=user.timezone,
            created_by_id=user.id,
        )
        session.add(workspace)
        session.flush()
        session.add(Membership(workspace_id=workspace.id, user_id=user.id, role=Role.ADMIN))
        session.flush()
    grant_welcome_bonus(session, workspace, user)
    return workspace


def personal_workspace_of(session: Session, user_id: int) -> Workspace | None:
    return session.exec(
        select(Workspace)
        .where(Workspace.created_by_id == user_id, Workspace.is_personal == True)  # noqa: E712
        .order_by(Workspace.id)  # type: ignore[arg-type]
    ).first()


def grant_welcome_bonus(session: Session, workspace: Workspace, user: User) -> bool:
    """Add the 10-credit welcome bonus once per user; False when it was already granted."""
    entry = credits.grant(
        session,
        workspace.id or 0,
        amount=WELCOME_BONUS_CREDITS,
        type=TransactionType.BONUS,
        description="Welcome bonus",
        idempotency_key=welcome_bonus_key(user.id or 0),
        user_id=user.id,
    )
    session.refresh(workspace, ["credits"])
    return not entry.replayed


def ensure_identity_user(
    source: SessionSource,
    *,
    provider: str,
    issuer: str,
    subject: str,
    email: str | None,
    email_verified: bool,
    name: str = "",
) -> User:
    """The user behind an external identity, created with everything a new user gets the first time.

    * a known (issuer, subject) → its user, whatever the email says now. The issuer is part of
      the key: a subject is unique only at the issuer that assigned it, so another provider's
      user with the same subject is someone else (`provider` only names the sign-in button);
    * else a verified email of an existing user → that user, with this identity linked to it.
      If that account's own address was never verified, whoever registered it may not own the
      address: the account is reclaimed for the owner first (its password, sessions, API keys
      and the people let into its personal workspace go — see
      `accounts_auth.reclaim_unverified_account`);
    * else a new user (+ personal workspace, admin membership, welcome bonus) and the identity,
      its address verified by the provider.

    An unverified email is refused — for linking and for new accounts alike: whoever holds an
    address unverified at some provider must not take over, or pre-register, the account of the
    person who owns it. Each attempt is a transaction of its own that this function commits.
    """
    provider, issuer, subject = provider.strip(), issuer.strip(), subject.strip()
    if not provider or not subject:
        raise ValidationFailed("The identity provider did not say who you are (no subject).", field="subject")
    if not issuer:
        raise ValidationFailed(
            "The identity provider did not say who vouches for you (no issuer).", field="issuer"
        )
    for _ in range(MAX_ATTEMPTS):
        with open_session(source) as session:
            try:
                user = _find_or_create(
                    session,
                    provider=provider,
                    issuer=issuer,
                    subject=subject,
                    email=email,
                    verified=email_verified,
                    name=name,
                )
                session.commit()
                return user
            except IntegrityError:
                # Someone else created this user or linked this identity first: read theirs.
                session.rollback()
    raise Conflict("Signing in collided with another sign-in for the same account. Please try again.")


def _find_or_create(
    session: Session,
    *,
    provider: str,
    issuer: str,
    subject: str,
    email: str | None,
    verified: bool,
    name: str,
) -> User:
    identity = session.exec(
        select(AuthIdentity).where(AuthIdentity.issuer == issuer, AuthIdentity.subject == subject)
    ).first()
    if identity is not None:
        user = session.get(User, identity.user_id)
        assert user is not None  # the foreign key cascades: an identity never outlives its user
        return user

    address = _require_verified_email(email, verified, provider)
    user = session.exec(select(User).where(User.email == address)).first()
    if user is None:
        user = User(email=address, name=name.strip()[:120], email_verified_at=utcnow())
        session.add(user)
        session.flush()
        create_personal_workspace(session, user)
    elif user.email_verified_at is None:
        # The provider has just proved that this person owns the address; whoever registered
        # the account without proving it loses everything they set up. accounts_auth imports
        # this module; importing it here, at call time, avoids the cycle.
        from postforge.services.identity.accounts_auth import reclaim_unverified_account

        reclaim_unverified_account(session, user)
    session.add(
        AuthIdentity(user_id=user.id, provider=provider, issuer=issuer, subject=subject, email=address)
    )
    session.flush()
    return user


def _require_verified_email(email: str | None, verified: bool, provider: str) -> str:
    address = normalize_identity_email(email)
    if not verified:
        raise ValidationFailed(
            f"Your email address at {provider} is not verified. Verify it there, then sign in again.",
            field="email",
        )
    return address


def normalize_identity_email(email: str | None) -> str:
    """The stored (case-folded) form of an address a provider sent, or a clear refusal."""
    # accounts_auth imports this module; importing it here, at call time, avoids the cycle.
    from postforge.services.kernel.emails import normalize_email

    if not (email or "").strip():
        raise ValidationFailed(
            "The identity provider did not share an email address. Allow access to your email and try again.",
            field="email",
        )
    try:
        return normalize_email(email or "")
    except ValidationFailed:
        raise ValidationFailed(
            f"The identity provider sent an invalid email address: {email!r}.", field="email"
        ) from None


def _workspace_name(user: User) -> str:
    first_name = user.name.strip().split(" ")[0] if user.name.strip() else ""
    return f"{first_name}'s workspace"[:120] if first_name else "My workspace"


def _unique_slug(session: Session, user: User) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", (user.name or user.email.split("@")[0]).casefold()).strip("-")[:40]
    base = base or "workspace"
    while True:
        slug = f"{base}-{secrets.token_hex(3)}"
        if session.exec(select(Workspace.id).where(Workspace.slug == slug)).first() is None:
            return slug

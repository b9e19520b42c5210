"""Webhooks from an external user directory (Clerk, signed by svix): verify, store, apply later.

The route verifies the svix signature on the raw body (`verify_clerk_webhook`), stores the event
under its svix message id (`record_identity_event`: a replay inserts nothing), answers at once
and hands the id to the worker through a small port (`register_enqueuer` / `enqueue_identity_event`,
implemented by the worker; services never import Celery). The worker calls `apply_identity_event`:

* `user.created` / `user.updated` — the idempotent first sign-in (`onboarding.ensure_identity_user`),
  then name and email kept in step with the directory;
* `user.deleted` — the user's personal data goes: the user row (cascading sessions, identities,
  memberships) and their personal workspace with its posts, accounts and ledger. Team workspaces
  stay; one that would lose its last admin gets its longest-standing member promoted.

Applying an event twice changes nothing, and an event that arrives after the user's deletion
(directories redeliver out of order) does not bring the user back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select
from svix.webhooks import Webhook, WebhookVerificationError

from postforge.models import AuthIdentity, IdentityEvent, User, utcnow
from postforge.services.identity import account_deletion, email_verification
from postforge.services.identity.onboarding import (
    SessionSource,
    ensure_identity_user,
    normalize_identity_email,
    open_session,
)
from postforge.services.kernel.errors import ServiceError, ValidationFailed
from postforge.services.kernel.upsert import insert_once

log = logging.getLogger(__name__)

CLERK = "clerk"
# The directory's identities are keyed by this issuer (Clerk user ids are unique across instances).
CLERK_ISSUER = "clerk"
USER_CREATED = "user.created"
USER_UPDATED = "user.updated"
USER_DELETED = "user.deleted"
MAX_BODY_BYTES = 512 * 1024  # Clerk user payloads are a few kB

EventEnqueuer = Callable[[str], None]
_enqueuer: EventEnqueuer | None = None


class WebhookNotConfigured(ServiceError):
    code = "not_configured"


# --- the port to the worker -------------------------------------------------------------------


def register_enqueuer(enqueuer: EventEnqueuer | None) -> None:
    """Install the function that queues `apply_identity_event` for an event id (the worker's)."""
    global _enqueuer
    _enqueuer = enqueuer


def enqueue_identity_event(event_id: str) -> bool:
    """Queue the event for the worker; False (logged, never raised) when that was not possible.

    The event is already stored, so nothing is lost: `unprocessed_event_ids` finds it again.
    """
    if _enqueuer is None:
        log.warning("no identity-event enqueuer registered; event %s waits for the sweep", event_id)
        return False
    try:
        _enqueuer(event_id)
    except Exception:
        log.exception("could not enqueue identity event %s; it waits for the sweep", event_id)
        return False
    return True


# --- receiving ----------------------------------------------------------------------------------


def verify_clerk_webhook(secret: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """The verified event (parsed JSON) or ValidationFailed; svix also refuses stale timestamps."""
    if not secret.strip():
        raise WebhookNotConfigured("Identity webhooks are not configured on this server.")
    if len(body) > MAX_BODY_BYTES:
        raise ValidationFailed("The webhook body is too large.", field="body")
    try:
        verifier = Webhook(secret.strip())
    except Exception:
        raise WebhookNotConfigured("The identity webhook secret on this server is malformed.") from None
    try:
        verifier.verify(body, dict(headers))
        event = json.loads(body)
    except (WebhookVerificationError, ValueError):
        # ValueError also covers malformed signature headers and non-UTF-8 bodies.
        raise ValidationFailed("The webhook signature is not valid.", field="signature") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ValidationFailed("The webhook body is not an event (no type).", field="body")
    return event


def record_identity_event(
    session: Session, *, event_id: str, payload: dict[str, Any], provider: str = CLERK
) -> IdentityEvent:
    """Store the event once (its svix id is the key); a replay returns the stored row unchanged."""
    if not event_id.strip():
        raise ValidationFailed("The webhook has no message id.", field="svix-id")
    values = {
        "id": event_id.strip()[:255],
        "provider": provider,
        "type": str(payload.get("type", ""))[:128],
        "payload": payload,
        "received_at": utcnow(),
        "error": "",
    }
    return insert_once(session, IdentityEvent, values)


def unprocessed_event_ids(session: Session, *, older_than: timedelta, limit: int = 100) -> list[str]:
    """Events received more than `older_than` ago and still not applied (for a periodic re-queue)."""
    cutoff = utcnow() - older_than
    return list(
        session.exec(
            select(IdentityEvent.id)
            .where(IdentityEvent.processed_at.is_(None), IdentityEvent.received_at < cutoff)  # type: ignore[union-attr]
            .order_by(IdentityEvent.received_at)  # type: ignore[arg-type]
            .limit(limit)
        ).all()
    )


# --- applying -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryUser:
    """The parts of a Clerk user object PostForge keeps."""

    id: str
    email: str | None
    email_verified: bool
    name: str


def parse_clerk_user(data: Mapping[str, Any]) -> DirectoryUser:
    user_id = str(data.get("id") or "").strip()
    if not user_id:
        raise ValidationFailed("The event names no user id.", field="data.id")
    addresses = [a for a in data.get("email_addresses") or [] if isinstance(a, Mapping)]
    primary_id = data.get("primary_email_address_id")
    primary = next((a for a in addresses if a.get("id") == primary_id), addresses[0] if addresses else None)
    email = str(primary.get("email_address") or "") if primary else None
    status = ((primary or {}).get("verification") or {}).get("status")
    name = " ".join(str(data.get(part) or "").strip() for part in ("first_name", "last_name")).strip()
    return DirectoryUser(
        id=user_id,
        email=email or None,
        email_verified=status == "verified",
        name=name or str(data.get("username") or ""),
    )


def apply_identity_event(source: SessionSource, event_id: str) -> str:
    """Apply a stored event once and say what happened ("applied", "ignored: …", "refused: …", …).

    Takes an engine (or session factory) rather than a session: the first sign-in it may perform
    runs in transactions of its own (see `ensure_identity_user`), and the event is marked
    processed in a last one. A refusal (e.g. an unverified email) is recorded on the event and is
    final; any other error propagates, leaves the event unprocessed and the worker retries.
    """
    with open_session(source) as session:
        event = session.get(IdentityEvent, event_id)
        if event is None:
            return "unknown event"
        if event.processed_at is not None:
            return "already processed"
        event_type, payload = event.type, dict(event.payload)
    try:
        outcome = _apply(source, event_type, payload)
        error = ""
    except ServiceError as refusal:
        outcome, error = f"refused: {refusal.message}", refusal.message
    _mark_processed(source, event_id, error)
    return outcome


def _apply(source: SessionSource, event_type: str, payload: dict[str, Any]) -> str:
    data = payload.get("data")
    if event_type not in {USER_CREATED, USER_UPDATED, USER_DELETED}:
        return f"ignored: {event_type} is not a user event"
    if not isinstance(data, Mapping):
        raise ValidationFailed("The event has no user data.", field="data")
    if event_type == USER_DELETED:
        return _delete_directory_user(source, str(data.get("id") or ""))
    user = parse_clerk_user(data)
    with open_session(source) as session:
        if _deleted_before(session, user.id):
            return "ignored: the user was deleted in the directory"
    ensure_identity_user(
        source,
        provider=CLERK,
        issuer=CLERK_ISSUER,
        subject=user.id,
        email=user.email,
        email_verified=user.email_verified,
        name=user.name,
    )
    if event_type == USER_UPDATED:
        _update_profile(source, user)
    return "applied"


def _deleted_before(session: Session, clerk_user_id: str) -> bool:
    deleted = session.exec(
        select(IdentityEvent.id).where(
            IdentityEvent.provider == CLERK,
            IdentityEvent.type == USER_DELETED,
            IdentityEvent.payload[("data", "id")].as_string() == clerk_user_id,  # type: ignore[index]
        )
    ).first()
    return deleted is not None


def _update_profile(source: SessionSource, directory_user: DirectoryUser) -> None:
    """Name and (verified) email follow the directory; an address owned by someone else is refused."""
    with open_session(source) as session:
        identity = _identity(session, directory_user.id)
        if identity is None:
            return
        user = session.get(User, identity.user_id)
        assert user is not None
        if directory_user.name and directory_user.name != user.name:
            user.name = directory_user.name[:120]
        if directory_user.email and directory_user.email_verified:
            address = normalize_identity_email(directory_user.email)
            if address != user.email:
                taken = session.exec(select(User.id).where(User.email == address, User.id != user.id)).first()
                if taken is not None:
                    raise ValidationFailed(
                        f"{address} already belongs to another PostForge account; the email was not changed.",
                        field="email",
                    )
                user.email, identity.email = address, address
                session.add(identity)
            # The directory verified this address: it is the account's, proven.
            email_verification.mark_verified(session, user)
        session.add(user)
        session.commit()


def _delete_directory_user(source: SessionSource, clerk_user_id: str) -> str:
    with open_session(source) as session:
        identity = _identity(session, clerk_user_id)
        if identity is None:
            return "ignored: no such user"
        account_deletion.delete_account(session, identity.user_id)
        session.commit()
    return "applied"


def _identity(session: Session, clerk_user_id: str) -> AuthIdentity | None:
    return session.exec(
        select(AuthIdentity).where(AuthIdentity.issuer == CLERK_ISSUER, AuthIdentity.subject == clerk_user_id)
    ).first()


def _mark_processed(source: SessionSource, event_id: str, error: str) -> None:
    with open_session(source) as session:
        session.execute(
            sa.update(IdentityEvent)
            .where(IdentityEvent.id == event_id, IdentityEvent.processed_at.is_(None))  # type: ignore[arg-type, union-attr]
            .values(processed_at=utcnow(), error=error)
        )
        session.commit()

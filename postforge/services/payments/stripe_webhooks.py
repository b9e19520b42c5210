"""Stripe webhooks: verify, store, then process once in the worker.

The route (`api/stripe_webhook.py`) verifies the `Stripe-Signature` header on the raw body with
the official library (`verify_stripe_webhook`), stores the event under Stripe's event id
(`record_stripe_event`: a redelivery inserts nothing), answers 2xx at once and hands the id to the
worker through a small port (`register_enqueuer` / `enqueue_stripe_event`, implemented by the
worker; services never import Celery). The worker calls `process_stripe_event`, which claims the
stored event, applies it (`billing_events.apply_event`) and marks it processed in one
transaction: twenty concurrent deliveries of one event apply it once.

Without a Stripe key (and outside production) the server signs and accepts events with a random
secret of its own, kept under DATA_DIR, so the in-app sandbox checkout drives this same path and
nobody else can sign an event it accepts.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import stripe
from sqlmodel import Session, col, select

from postforge.models import StripeEvent, utcnow
from postforge.services.identity.onboarding import SessionSource, open_session
from postforge.services.infra.local_secrets import stored_secret
from postforge.services.kernel.errors import ServiceError, ValidationFailed
from postforge.services.kernel.upsert import insert_once
from postforge.services.payments import billing_events
from postforge.services.payments.billing import checkout_mode
from postforge.settings import Settings, get_settings

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Stripe events are a few kB; expanded objects stay well below this
MAX_ATTEMPTS = 20  # failed processing attempts after which the sweep stops re-queuing an event
SANDBOX_SECRET_PREFIX = "whsec_sandbox_"  # noqa: S105 — a prefix, not a secret
SANDBOX_SECRET_FILE = "stripe-sandbox-webhook.secret"  # noqa: S105 — a file name under DATA_DIR

EventEnqueuer = Callable[[str], None]
_enqueuer: EventEnqueuer | None = None


class WebhookNotConfigured(ServiceError):
    code = "not_configured"


# --- secrets ---------------------------------------------------------------------------------------


def sandbox_webhook_secret(settings: Settings) -> str:
    """The signing secret of sandbox events: random per install, stored under DATA_DIR, never shown.

    Never derived from SECRET_KEY: its development default is public, and whoever can sign an
    event can grant credits.
    """
    return stored_secret(
        settings.data_dir, SANDBOX_SECRET_FILE, lambda: SANDBOX_SECRET_PREFIX + secrets.token_hex(32)
    )


def webhook_secret(settings: Settings | None = None) -> str:
    """The secret incoming events must be signed with ("" when webhooks are not configured)."""
    settings = settings or get_settings()
    if settings.stripe_webhook_secret:
        return settings.stripe_webhook_secret
    if checkout_mode(settings) == "sandbox":
        return sandbox_webhook_secret(settings)
    return ""


def sign_payload(payload: str, secret: str) -> str:
    """A `Stripe-Signature` header for `payload`, made by the library's own helper."""
    return stripe.WebhookSignature.generate_signature_header(payload, secret)


# --- the port to the worker ------------------------------------------------------------------------


def register_enqueuer(enqueuer: EventEnqueuer | None) -> None:
    """Install the function that queues `process_stripe_event` for an event id (the worker's)."""
    global _enqueuer
    _enqueuer = enqueuer


def enqueue_stripe_event(event_id: str) -> bool:
    """Queue the event; False (logged, never raised) when that failed — the sweep finds it again."""
    if _enqueuer is None:
        log.warning("no Stripe-event enqueuer registered; event %s waits for the sweep", event_id)
        return False
    try:
        _enqueuer(event_id)
    except Exception:
        log.exception("could not enqueue Stripe event %s; it waits for the sweep", event_id)
        return False
    return True


# --- receiving -------------------------------------------------------------------------------------


def verify_stripe_webhook(
    secret: str, body: bytes, signature: str | None, *, tolerance: int
) -> dict[str, Any]:
    """The verified event (parsed JSON), or ValidationFailed; old timestamps fail too."""
    if tolerance < 1:
        # The library reads 0 as "no age check": a replayed event would be accepted forever.
        raise ValueError("the webhook tolerance must be at least 1 second")
    if not secret.strip():
        raise WebhookNotConfigured("Stripe webhooks are not configured on this server.")
    if len(body) > MAX_BODY_BYTES:
        raise ValidationFailed("The webhook body is too large.", field="body")
    try:
        stripe.WebhookSignature.verify_header(body, signature, secret.strip(), tolerance=tolerance)
        event = json.loads(body)
    except (stripe.SignatureVerificationError, ValueError):
        # ValueError also covers a body that is not UTF-8 or not JSON.
        raise ValidationFailed("The Stripe signature is not valid.", field="signature") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str) or not event.get("id"):
        raise ValidationFailed("The webhook body is not a Stripe event.", field="body")
    if len(str(event["id"])) > 255:
        raise ValidationFailed("The event id is too long.", field="id")
    return event


def record_stripe_event(session: Session, event: dict[str, Any]) -> StripeEvent:
    """Store the event once (Stripe's id is the key); a redelivery returns the stored row unchanged."""
    values = {
        "id": str(event["id"]),
        "type": str(event.get("type", ""))[:128],
        "payload": event,
        "received_at": utcnow(),
        "error": "",
        "outcome": "",
        "attempts": 0,
    }
    return insert_once(session, StripeEvent, values)


def unprocessed_event_ids(session: Session, *, older_than: timedelta, limit: int = 100) -> list[str]:
    """Stored events still unprocessed after `older_than` (lost enqueue, failures), for a re-queue."""
    cutoff = utcnow() - older_than
    return list(
        session.exec(
            select(StripeEvent.id)
            .where(
                col(StripeEvent.processed_at).is_(None),
                col(StripeEvent.received_at) < cutoff,
                col(StripeEvent.attempts) < MAX_ATTEMPTS,
            )
            .order_by(col(StripeEvent.received_at))
            .limit(limit)
        ).all()
    )


# --- processing ------------------------------------------------------------------------------------


def process_stripe_event(source: SessionSource, event_id: str) -> str:
    """Apply a stored event exactly once; returns what happened ("already processed" on a replay).

    Claim, effects and the processed mark share one transaction. The claim is an UPDATE of the
    event row: on PostgreSQL it row-locks the event, so a concurrent run of the same event waits
    and then finds it processed; on SQLite it takes the database's write lock. A refusal (an
    event that can never apply) is recorded as the event's error and is final; any other error
    rolls everything back, counts an attempt and propagates so the worker retries.
    """
    try:
        with open_session(source) as session:
            outcome = _process(session, event_id)
            session.commit()
            return outcome
    except Exception as error:
        _count_failure(source, event_id, error)
        raise


def _process(session: Session, event_id: str) -> str:
    claimed = session.execute(
        sa.update(StripeEvent)
        .where(col(StripeEvent.id) == event_id, col(StripeEvent.processed_at).is_(None))
        .values(outcome=StripeEvent.outcome)
    ).rowcount  # type: ignore[attr-defined]
    if not claimed:
        exists = session.execute(sa.select(StripeEvent.id).where(col(StripeEvent.id) == event_id)).scalar()
        return "already processed" if exists else "unknown event"
    event = session.exec(
        select(StripeEvent).where(StripeEvent.id == event_id).execution_options(populate_existing=True)
    ).one()
    error = ""
    try:
        with session.begin_nested():
            outcome = billing_events.apply_event(session, event.payload)
    except ServiceError as refusal:
        outcome, error = f"refused: {refusal.message}", refusal.message
    event.processed_at = utcnow()
    event.outcome = outcome[:500]
    event.error = error
    session.add(event)
    session.flush()
    return outcome


def _count_failure(source: SessionSource, event_id: str, error: BaseException) -> None:
    try:
        with open_session(source) as session:
            session.execute(
                sa.update(StripeEvent)
                .where(col(StripeEvent.id) == event_id, col(StripeEvent.processed_at).is_(None))
                .values(attempts=StripeEvent.attempts + 1, error=f"{type(error).__name__}: {error}"[:2000])
            )
            session.commit()
    except Exception:
        log.exception("could not record the failed attempt on Stripe event %s", event_id)

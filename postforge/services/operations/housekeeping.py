"""Periodic clean-up that keeps sign-in tables small, no stored webhook forgotten, and no credit held
by a generation that died half-way."""

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from postforge.services.channels.publish_limits import TableBuckets
from postforge.services.identity import identity_webhooks, oidc
from postforge.services.infra.rate_limit import TableBackend
from postforge.services.payments import stripe_webhooks
from postforge.services.writing import generation

# An event younger than this is probably still on its way through the queue.
STALE_EVENT_AGE = timedelta(minutes=2)
# A Stripe event is stored and queued within the same request; after a minute it was lost or failed.
STALE_STRIPE_EVENT_AGE = timedelta(minutes=1)


@dataclass(frozen=True)
class SweepResult:
    expired_attempts: int
    expired_counters: int
    events_to_apply: list[str]
    refunded_generations: int = 0
    stripe_events_to_process: list[str] = field(default_factory=list)


def sweep(engine: Engine) -> SweepResult:
    """Purge expired OAuth attempts, rate-limit windows and idle publish buckets; list identity and Stripe events unprocessed."""
    with Session(engine) as session:
        attempts = oidc.purge_expired_attempts(session)
        pending = identity_webhooks.unprocessed_event_ids(session, older_than=STALE_EVENT_AGE)
        stripe_pending = stripe_webhooks.unprocessed_event_ids(session, older_than=STALE_STRIPE_EVENT_AGE)
        session.commit()
    with Session(engine) as session:
        refunded = generation.refund_stale_reservations(session)
        session.commit()
    counters = TableBackend(engine).purge_expired() + TableBuckets(engine).purge_idle()
    return SweepResult(
        expired_attempts=attempts,
        expired_counters=counters,
        events_to_apply=pending,
        refunded_generations=refunded,
        stripe_events_to_process=stripe_pending,
    )

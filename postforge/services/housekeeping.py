"""Periodic clean-up that keeps sign-in tables small, no stored webhook forgotten, and no credit held
by a generation that died half-way."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from postforge.services import generation, identity_webhooks, oidc
from postforge.services.rate_limit import TableBackend

# An event younger than this is probably still on its way through the queue.
STALE_EVENT_AGE = timedelta(minutes=2)


@dataclass(frozen=True)
class SweepResult:
    expired_attempts: int
    expired_counters: int
    events_to_apply: list[str]
    refunded_generations: int = 0


def sweep(engine: Engine) -> SweepResult:
    """Purge expired OAuth attempts and rate-limit windows; list identity events still unapplied."""
    with Session(engine) as session:
        attempts = oidc.purge_expired_attempts(session)
        pending = identity_webhooks.unprocessed_event_ids(session, older_than=STALE_EVENT_AGE)
        session.commit()
    with Session(engine) as session:
        refunded = generation.refund_stale_reservations(session)
        session.commit()
    counters = TableBackend(engine).purge_expired()
    return SweepResult(
        expired_attempts=attempts,
        expired_counters=counters,
        events_to_apply=pending,
        refunded_generations=refunded,
    )

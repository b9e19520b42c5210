"""Periodic clean-up that keeps sign-in tables small and no stored webhook forgotten."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from postforge.services import identity_webhooks, oidc
from postforge.services.rate_limit import TableBackend

# An event younger than this is probably still on its way through the queue.
STALE_EVENT_AGE = timedelta(minutes=2)


@dataclass(frozen=True)
class SweepResult:
    expired_attempts: int
    expired_counters: int
    events_to_apply: list[str]


def sweep(engine: Engine) -> SweepResult:
    """Purge expired OAuth attempts and rate-limit windows; list identity events still unapplied."""
    with Session(engine) as session:
        attempts = oidc.purge_expired_attempts(session)
        pending = identity_webhooks.unprocessed_event_ids(session, older_than=STALE_EVENT_AGE)
        session.commit()
    counters = TableBackend(engine).purge_expired()
    return SweepResult(expired_attempts=attempts, expired_counters=counters, events_to_apply=pending)

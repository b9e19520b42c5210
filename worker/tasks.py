"""Celery tasks: thin doors into `postforge.services`; every rule lives in the services."""

from __future__ import annotations

import os
import socket
from typing import Any

from postforge.db import get_engine, session_scope
from postforge.services import housekeeping
from postforge.services.heartbeat import record_heartbeat
from postforge.services.identity_webhooks import apply_identity_event
from postforge.services.stripe_webhooks import process_stripe_event
from worker.celery_app import (
    APPLY_IDENTITY_EVENT_TASK,
    HEARTBEAT_TASK,
    PING_TASK,
    PROCESS_STRIPE_EVENT_TASK,
    SWEEP_TASK,
    celery_app,
)


def _worker_name(request: Any) -> str:
    # `request.hostname` is the node name given with `-n` (e.g. "default@host"); empty when
    # the function is called directly rather than by a worker.
    return request.hostname or f"{socket.gethostname()}:{os.getpid()}"


@celery_app.task(name=HEARTBEAT_TASK, bind=True, ignore_result=True)
def record_heartbeat_task(self) -> None:
    """Record that this worker is alive; beat sends it every `HEARTBEAT_INTERVAL_SECONDS`."""
    with session_scope() as session:
        record_heartbeat(
            session, worker=_worker_name(self.request), hostname=socket.gethostname(), pid=os.getpid()
        )


@celery_app.task(name=PING_TASK, bind=True)
def ping_task(self) -> dict[str, Any]:
    """Answer with this worker's name: proves a message went broker → worker → result backend."""
    return {"pong": True, "worker": _worker_name(self.request)}


@celery_app.task(
    name=APPLY_IDENTITY_EVENT_TASK,
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def apply_identity_event_task(event_id: str) -> str:
    """Apply a stored identity-provider webhook event (a redelivery changes nothing)."""
    return apply_identity_event(get_engine(), event_id)


@celery_app.task(
    name=PROCESS_STRIPE_EVENT_TASK,
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def process_stripe_event_task(event_id: str) -> str:
    """Process a stored Stripe webhook event (a redelivery or a duplicate changes nothing)."""
    return process_stripe_event(get_engine(), event_id)


@celery_app.task(name=SWEEP_TASK, ignore_result=True)
def sweep_housekeeping_task() -> dict[str, int]:
    """Purge expired sign-in rows; re-enqueue identity and Stripe events whose processing was lost."""
    result = housekeeping.sweep(get_engine())
    for event_id in result.events_to_apply:
        apply_identity_event_task.delay(event_id)
    for event_id in result.stripe_events_to_process:
        process_stripe_event_task.delay(event_id)
    return {
        "expired_attempts": result.expired_attempts,
        "expired_counters": result.expired_counters,
        "requeued_events": len(result.events_to_apply),
        "refunded_generations": result.refunded_generations,
        "requeued_stripe_events": len(result.stripe_events_to_process),
    }

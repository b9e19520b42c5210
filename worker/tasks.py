"""Celery tasks: thin doors into `postforge.services`; every rule lives in the services."""

from __future__ import annotations

import os
import socket
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from postforge.db import get_engine, session_scope
from postforge.services.channels import post_metrics, publishing
from postforge.services.identity.identity_webhooks import apply_identity_event
from postforge.services.infra.heartbeat import record_heartbeat
from postforge.services.media import processing as media_processing
from postforge.services.operations import housekeeping
from postforge.services.payments.stripe_webhooks import process_stripe_event
from worker.celery_app import (
    APPLY_IDENTITY_EVENT_TASK,
    COLLECT_METRICS_TASK,
    DISPATCH_TASK,
    HEARTBEAT_TASK,
    MAX_PUBLISH_COUNTDOWN_SECONDS,
    MEDIA_SWEEP_TASK,
    MEDIA_THUMBNAIL_TASK,
    PING_TASK,
    PROCESS_STRIPE_EVENT_TASK,
    PUBLISH_TASK,
    REAP_TASK,
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


# --- Publishing: the database holds what is due; these tasks only move it along ---------------


@celery_app.task(name=DISPATCH_TASK, ignore_result=True)
def dispatch_due_task() -> int:
    """Claim the destinations due before the next tick and send each to a publish task."""
    claimed = publishing.dispatch_due(get_engine())
    for destination_id, countdown in claimed:
        # Countdowns are seconds at most: the row is due before the next tick. A message lost
        # here leaves the row queued until its lease runs out; the reaper then frees it.
        publish_destination_task.apply_async(
            args=[destination_id], countdown=min(max(countdown, 0.0), MAX_PUBLISH_COUNTDOWN_SECONDS)
        )
    return len(claimed)


# No autoretry: a retry is a row back in `pending` with its time, picked up by the dispatcher.
@celery_app.task(name=PUBLISH_TASK, ignore_result=True)
def publish_destination_task(destination_id: int) -> str:
    """Publish one destination (a redelivered or duplicate message does nothing).

    Out of time (the soft limit): inside the platform call the engine records what that means
    (nothing sent: a retry; a request out: the Unknown path); anywhere else the row is settled at
    once as the reaper would — never a blind retry of something that may have been sent."""
    engine = get_engine()
    try:
        return publishing.publish_destination(
            engine, int(destination_id), interrupted=(SoftTimeLimitExceeded,)
        ).status
    except SoftTimeLimitExceeded:
        return publishing.release_interrupted(engine, int(destination_id)).status


@celery_app.task(name=REAP_TASK, ignore_result=True)
def reap_expired_leases_task() -> dict[str, int]:
    """Free destinations whose message was lost or whose worker died mid-publish."""
    result = publishing.reap_expired_leases(get_engine())
    return {"requeued": result.requeued, "retried": result.retried, "needs_review": result.needs_review}


@celery_app.task(name=COLLECT_METRICS_TASK, ignore_result=True)
def collect_post_metrics_task() -> dict[str, int]:
    """Read the likes, comments and shares of fresh published posts (see `services.channels.post_metrics`)."""
    result = post_metrics.collect_due(get_engine(), interrupted=(SoftTimeLimitExceeded,))
    return {"collected": result.collected, "unavailable": result.unavailable, "skipped": result.skipped}


@celery_app.task(name=MEDIA_THUMBNAIL_TASK, ignore_result=True)
def make_media_thumbnail_task(media_id: int) -> str:
    """Make a confirmed file's thumbnail (and a video's poster frame); a redelivery redoes it harmlessly."""
    return media_processing.make_thumbnail(get_engine(), int(media_id))


@celery_app.task(name=MEDIA_SWEEP_TASK, ignore_result=True)
def sweep_media_task() -> dict[str, int]:
    """Remove abandoned uploads, purge deleted files and deleted workspaces' files; queue lost thumbnails."""
    result = media_processing.sweep(get_engine())
    for media_id in result.thumbnails_to_make:
        make_media_thumbnail_task.delay(media_id)
    return {
        "abandoned": result.abandoned,
        "purged": result.purged,
        "workspaces": result.workspaces,
        "thumbnails_queued": len(result.thumbnails_to_make),
    }

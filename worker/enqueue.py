"""The web process's side of the queue: services hand work over through ports wired here."""

from postforge.services.identity import identity_webhooks
from postforge.services.media import library as media_library
from postforge.services.payments import stripe_webhooks
from worker.celery_app import (
    APPLY_IDENTITY_EVENT_TASK,
    MEDIA_THUMBNAIL_TASK,
    PROCESS_STRIPE_EVENT_TASK,
    celery_app,
)


def install() -> None:
    """Connect the services' enqueue ports to Celery (called once when the web app starts)."""
    identity_webhooks.register_enqueuer(
        lambda event_id: celery_app.send_task(APPLY_IDENTITY_EVENT_TASK, args=[event_id])
    )
    stripe_webhooks.register_enqueuer(
        lambda event_id: celery_app.send_task(PROCESS_STRIPE_EVENT_TASK, args=[event_id])
    )
    media_library.register_enqueuer(
        lambda media_id: celery_app.send_task(MEDIA_THUMBNAIL_TASK, args=[media_id])
    )

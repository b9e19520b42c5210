"""`POST /api/webhooks/clerk`: verify the svix signature on the raw body, store, answer at once.

The event is applied later by the worker (`identity_webhooks.apply_identity_event`), reached
through the enqueue port; this door never waits for that. Bad signature → 400 and nothing
stored; a replay or duplicate delivery → 200 and nothing new.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from postforge.api.webhook_io import answer, enqueue_safely, read_body, refuse
from postforge.services.identity.identity_webhooks import (
    MAX_BODY_BYTES,
    EventEnqueuer,
    WebhookNotConfigured,
    enqueue_identity_event,
    record_identity_event,
    verify_clerk_webhook,
)
from postforge.services.identity.onboarding import SessionSource, open_session
from postforge.services.kernel.errors import ValidationFailed

log = logging.getLogger(__name__)

CLERK_WEBHOOK = "/api/webhooks/clerk"


@dataclass(frozen=True)
class ClerkWebhookConfig:
    secret: str  # the whsec_… signing secret of the Clerk endpoint
    source: SessionSource  # engine or session factory
    enqueue: EventEnqueuer = field(default=enqueue_identity_event)


def default_clerk_config() -> ClerkWebhookConfig:
    from postforge.db import get_engine
    from postforge.settings import get_settings

    return ClerkWebhookConfig(secret=get_settings().clerk_webhook_secret, source=get_engine())


def clerk_webhook_route(config: Callable[[], ClerkWebhookConfig] = default_clerk_config) -> Route:
    async def clerk_webhook(request: Request) -> JSONResponse:
        current = config()
        body = await read_body(request, MAX_BODY_BYTES)
        if body is None:
            return answer(413, error="The webhook body is too large.")
        try:
            event = verify_clerk_webhook(current.secret, body, request.headers)
        except WebhookNotConfigured as refusal:
            return answer(503, error=refusal.message)
        except ValidationFailed as refusal:
            return refuse(request, "Clerk webhook", refusal.message)
        event_id = request.headers.get("svix-id") or request.headers.get("webhook-id") or ""
        try:
            pending = await asyncio.to_thread(_store, current.source, event_id, event)
        except ValidationFailed as refusal:
            return answer(400, error=refusal.message)
        if pending:
            await asyncio.to_thread(enqueue_safely, current.enqueue, event_id, "identity event")
        return answer(200, id=event_id)

    return Route(CLERK_WEBHOOK, clerk_webhook, methods=["POST"])


def _store(source: SessionSource, event_id: str, event: dict) -> bool:
    """Store the event; True while it still waits to be applied (a redelivery re-queues it)."""
    with open_session(source) as session:
        row = record_identity_event(session, event_id=event_id, payload=event)
        session.commit()
        return row.processed_at is None

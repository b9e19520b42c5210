"""`POST /api/stripe/webhook`: verify the Stripe signature on the raw body, store, answer at once.

The event is processed later by the worker (`stripe_webhooks.process_stripe_event`), reached
through the enqueue port; this door never waits for that. A bad signature, a stale timestamp or
the wrong secret → 400 and nothing stored; a redelivery → 200 and nothing new; an event type
PostForge does not use is stored and acknowledged all the same. No secret configured → 503.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from postforge import routes
from postforge.api.webhook_io import answer, enqueue_safely, read_body, refuse
from postforge.services.identity.onboarding import SessionSource, open_session
from postforge.services.kernel.errors import ValidationFailed
from postforge.services.payments.stripe_webhooks import (
    MAX_BODY_BYTES,
    EventEnqueuer,
    WebhookNotConfigured,
    enqueue_stripe_event,
    record_stripe_event,
    verify_stripe_webhook,
    webhook_secret,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StripeWebhookConfig:
    secret: str  # whsec_… of the endpoint (or the sandbox's derived secret); "" = not configured
    tolerance_seconds: int
    source: SessionSource  # engine or session factory
    enqueue: EventEnqueuer = field(default=enqueue_stripe_event)


def default_stripe_config() -> StripeWebhookConfig:
    from postforge.db import get_engine
    from postforge.settings import get_settings

    settings = get_settings()
    return StripeWebhookConfig(
        secret=webhook_secret(settings),
        tolerance_seconds=settings.stripe_webhook_tolerance_seconds,
        source=get_engine(),
    )


def stripe_webhook_route(config: Callable[[], StripeWebhookConfig] = default_stripe_config) -> Route:
    async def stripe_webhook(request: Request) -> JSONResponse:
        current = config()
        body = await read_body(request, MAX_BODY_BYTES)
        if body is None:
            return answer(413, error="The webhook body is too large.")
        try:
            event = verify_stripe_webhook(
                current.secret,
                body,
                request.headers.get("stripe-signature"),
                tolerance=current.tolerance_seconds,
            )
        except WebhookNotConfigured as refusal:
            return answer(503, error=refusal.message)
        except ValidationFailed as refusal:
            return refuse(request, "Stripe webhook", refusal.message)
        pending = await asyncio.to_thread(_store, current.source, event)
        if pending:
            await asyncio.to_thread(enqueue_safely, current.enqueue, str(event["id"]), "Stripe event")
        return answer(200, id=str(event["id"]), received=True)

    return Route(routes.API_STRIPE_WEBHOOK, stripe_webhook, methods=["POST"])


def _store(source: SessionSource, event: dict) -> bool:
    """Store the event; True while it still waits to be processed (a redelivery re-queues it)."""
    with open_session(source) as session:
        row = record_stripe_event(session, event)
        session.commit()
        return row.processed_at is None

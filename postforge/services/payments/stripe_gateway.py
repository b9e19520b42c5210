"""The few Stripe API calls PostForge makes, through the official library.

Checkout Sessions and customer-portal sessions are created here and nowhere else, with
`stripe.StripeClient` pointed at `STRIPE_API_BASE` when it is set (tests use a local fake of
the API). Errors from Stripe become `PaymentProviderError` with a message fit to show a user;
the caller has not changed anything yet when it is raised, so nothing is half-done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import stripe

from postforge.services.kernel.errors import ServiceError
from postforge.settings import Settings

log = logging.getLogger(__name__)

# Stripe answers in well under a second; a checkout button should not hang for the library's 80 s.
REQUEST_TIMEOUT_SECONDS = 20
MAX_NETWORK_RETRIES = 2


class PaymentProviderError(ServiceError):
    code = "payment_provider"


@dataclass(frozen=True)
class HostedSession:
    """A Checkout Session as far as PostForge needs it."""

    id: str
    url: str
    customer: str  # "" until Stripe has created the customer


def stripe_client(settings: Settings) -> stripe.StripeClient:
    if not settings.stripe_secret_key:
        raise PaymentProviderError("Stripe is not configured on this server.")
    base_addresses: Any = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
    return stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses=base_addresses,
        max_network_retries=MAX_NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=REQUEST_TIMEOUT_SECONDS),
    )


def _refusal(error: stripe.StripeError, what: str, consequence: str) -> PaymentProviderError:
    # user_message is Stripe's own text meant for end users; the rest goes to the log only.
    log.warning("Stripe refused to %s: %s (request %s)", what, error, getattr(error, "request_id", None))
    detail = (
        getattr(error, "user_message", None) or "Stripe could not be reached or refused the request"
    ).rstrip(".")
    return PaymentProviderError(f"{detail}. {consequence}")


def create_checkout_session(
    settings: Settings, params: dict[str, Any], *, idempotency_key: str
) -> HostedSession:
    """Create a hosted Checkout Session; a retried request with the same key gets the same session."""
    try:
        created = stripe_client(settings).v1.checkout.sessions.create(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as error:
        raise _refusal(
            error, "create a checkout session", "Nothing was charged; please try again in a moment."
        ) from None
    data = created.to_dict()
    customer = data.get("customer") or ""
    if isinstance(customer, dict):  # expanded
        customer = customer.get("id", "")
    if not data.get("id") or not data.get("url"):
        raise PaymentProviderError("Stripe answered without a checkout page. Nothing was charged.")
    return HostedSession(id=str(data["id"]), url=str(data["url"]), customer=str(customer))


def create_portal_session(settings: Settings, *, customer: str, return_url: str) -> str:
    """The URL of a Stripe customer-portal session (invoices, payment methods, cancelling)."""
    try:
        portal = stripe_client(settings).v1.billing_portal.sessions.create(
            params={"customer": customer, "return_url": return_url}
        )
    except stripe.StripeError as error:
        raise _refusal(error, "open the customer portal", "Please try again in a moment.") from None
    url = portal.to_dict().get("url")
    if not url:
        raise PaymentProviderError("Stripe answered without a portal address.")
    return str(url)

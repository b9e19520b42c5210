"""`POST /api/stripe/webhook`: the signature is checked on the raw body by the Stripe library; only a
verified event is stored (once) and queued; the answer comes at once."""

import hashlib
import hmac
import json
import stat
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from starlette.applications import Starlette

from postforge.api.stripe_webhook import StripeWebhookConfig, stripe_webhook_route
from postforge.models import StripeEvent
from postforge.services.payments import stripe_webhooks
from postforge.services.payments.stripe_webhooks import (
    SANDBOX_SECRET_FILE,
    SANDBOX_SECRET_PREFIX,
    enqueue_stripe_event,
    process_stripe_event,
    register_enqueuer,
    webhook_secret,
)
from postforge.settings import DEV_SECRET_KEY, get_settings, load_settings
from tests.support import stripe_events as se

URL = "/api/stripe/webhook"


@pytest.fixture
def queued() -> list[str]:
    return []


def client_for(config: StripeWebhookConfig) -> httpx.AsyncClient:
    app = Starlette(routes=[stripe_webhook_route(lambda: config)])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def webhook(sqlite_engine: Engine, queued: list[str]) -> AsyncIterator[httpx.AsyncClient]:
    config = StripeWebhookConfig(
        secret=se.SECRET, tolerance_seconds=300, source=sqlite_engine, enqueue=queued.append
    )
    async with client_for(config) as client:
        yield client


def stored(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(StripeEvent)).one()


def an_event(event_type: str = "checkout.session.completed") -> dict:
    return se.stripe_event(event_type, se.checkout_session("cs_test_route", workspace_id=1))


async def test_a_signed_event_is_stored_queued_and_acknowledged(webhook, sqlite_engine, queued):
    event = an_event()
    body, headers = se.signed(event)
    response = await webhook.post(URL, content=body, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"id": event["id"], "received": True}
    assert queued == [event["id"]]
    with Session(sqlite_engine) as session:
        row = session.get(StripeEvent, event["id"])
    assert (row.type, row.payload, row.processed_at) == (event["type"], event, None)


async def test_a_redelivery_stores_nothing_new_and_is_not_queued_once_processed(
    webhook, sqlite_engine, queued
):
    event = an_event("invoice.created")
    for _ in range(3):  # Stripe retried before the worker got to it: queue again, store once
        body, headers = se.signed(event)
        assert (await webhook.post(URL, content=body, headers=headers)).status_code == 200
    assert stored(sqlite_engine) == 1 and queued == [event["id"]] * 3
    process_stripe_event(sqlite_engine, event["id"])
    body, headers = se.signed(event)
    assert (await webhook.post(URL, content=body, headers=headers)).status_code == 200
    assert stored(sqlite_engine) == 1 and len(queued) == 3


async def test_an_unknown_event_type_is_stored_and_acknowledged(webhook, sqlite_engine, queued):
    event = se.stripe_event("radar.early_fraud_warning.created", {"id": "issfr_1"})
    body, headers = se.signed(event)
    assert (await webhook.post(URL, content=body, headers=headers)).status_code == 200
    assert stored(sqlite_engine) == 1
    assert process_stripe_event(sqlite_engine, event["id"]).startswith("ignored: PostForge does not use")


@pytest.mark.parametrize(
    "case",
    ["tampered body", "old timestamp", "wrong secret", "no header", "garbled header", "re-serialised JSON"],
)
async def test_an_unverifiable_delivery_is_refused_and_nothing_is_stored(
    webhook, sqlite_engine, queued, case
):
    event = an_event()
    body, headers = se.signed(event)
    if case == "tampered body":
        body = body.replace(b'"amount_total": 2900', b'"amount_total": 1')
        assert b'"amount_total": 1' in body
    elif case == "old timestamp":
        body, headers = se.signed(event, timestamp=int(time.time()) - 301)
    elif case == "wrong secret":
        body, headers = se.signed(event, secret=se.OTHER_SECRET)
    elif case == "no header":
        del headers["Stripe-Signature"]
    elif case == "garbled header":
        headers["Stripe-Signature"] = "t=abc,v1="
    elif case == "re-serialised JSON":  # the signature covers the exact bytes Stripe sent
        body = json.dumps(json.loads(body), indent=2).encode()
    response = await webhook.post(URL, content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "The Stripe signature is not valid."
    assert stored(sqlite_engine) == 0 and queued == []


async def test_the_tolerance_comes_from_the_settings(sqlite_engine, queued):
    config = StripeWebhookConfig(
        secret=se.SECRET, tolerance_seconds=3600, source=sqlite_engine, enqueue=queued.append
    )
    async with client_for(config) as client:
        body, headers = se.signed(an_event(), timestamp=int(time.time()) - 1800)
        assert (await client.post(URL, content=body, headers=headers)).status_code == 200


async def test_a_signed_body_that_is_not_an_event_is_refused(webhook, sqlite_engine):
    for body_text in ('{"hello": "world"}', "[1, 2]", "not json"):
        body, headers = se.signed(body_text)
        response = await webhook.post(URL, content=body, headers=headers)
        assert response.status_code == 400, body_text
    assert stored(sqlite_engine) == 0


async def test_an_oversized_body_is_refused_unread(webhook, sqlite_engine):
    body = b"{" + b" " * (stripe_webhooks.MAX_BODY_BYTES + 10) + b"}"
    response = await webhook.post(URL, content=body, headers={"Stripe-Signature": "t=1,v1=x"})
    assert response.status_code == 413
    assert stored(sqlite_engine) == 0


async def test_without_a_secret_the_route_answers_503(sqlite_engine, queued):
    config = StripeWebhookConfig(
        secret="", tolerance_seconds=300, source=sqlite_engine, enqueue=queued.append
    )
    async with client_for(config) as client:
        body, headers = se.signed(an_event())
        response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 503
    assert stored(sqlite_engine) == 0


async def test_a_failing_enqueue_still_acknowledges_the_stored_event(sqlite_engine):
    def broken(event_id: str) -> None:
        raise ConnectionError("broker down")

    config = StripeWebhookConfig(
        secret=se.SECRET, tolerance_seconds=300, source=sqlite_engine, enqueue=broken
    )
    async with client_for(config) as client:
        body, headers = se.signed(an_event())
        assert (await client.post(URL, content=body, headers=headers)).status_code == 200
    assert stored(sqlite_engine) == 1  # the sweep re-queues it


@pytest.mark.parametrize("tolerance", [0, -1])
def test_a_tolerance_that_would_switch_the_age_check_off_is_refused(tolerance):
    body, headers = se.signed(an_event(), timestamp=int(time.time()) - 10 * 365 * 86400)
    with pytest.raises(ValueError, match="tolerance"):
        stripe_webhooks.verify_stripe_webhook(
            se.SECRET, body, headers["Stripe-Signature"], tolerance=tolerance
        )


async def test_a_refused_delivery_is_logged_with_the_senders_address(
    sqlite_engine, queued, caplog, monkeypatch
):
    monkeypatch.setenv("TRUSTED_PROXIES", "1")
    get_settings.cache_clear()
    config = StripeWebhookConfig(
        secret=se.SECRET, tolerance_seconds=300, source=sqlite_engine, enqueue=queued.append
    )
    app = Starlette(routes=[stripe_webhook_route(lambda: config)])
    transport = httpx.ASGITransport(app=app, client=("10.0.0.2", 40000))  # the load balancer
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            body, headers = se.signed(an_event(), secret=se.OTHER_SECRET)
            headers["X-Forwarded-For"] = "203.0.113.7"
            with caplog.at_level("WARNING"):
                assert (await client.post(URL, content=body, headers=headers)).status_code == 400
    finally:
        get_settings.cache_clear()
    assert "Stripe webhook refused from 203.0.113.7" in caplog.text


def test_which_secret_signs_events_in_each_mode(tmp_path):
    sandbox = load_settings(environment="embedded", data_dir=tmp_path)
    assert webhook_secret(sandbox).startswith(SANDBOX_SECRET_PREFIX)
    configured = load_settings(environment="embedded", data_dir=tmp_path, stripe_webhook_secret=se.SECRET)
    assert webhook_secret(configured) == se.SECRET
    stripe_without_secret = load_settings(
        environment="embedded", data_dir=tmp_path, stripe_secret_key="sk_test_x"
    )
    assert webhook_secret(stripe_without_secret) == ""  # real Stripe needs its own endpoint secret


def test_the_sandbox_secret_is_random_per_install_and_kept_under_the_data_dir(tmp_path):
    """Not derived from SECRET_KEY, whose development default is printed in the source."""
    here = load_settings(environment="embedded", data_dir=tmp_path / "here")
    secret = webhook_secret(here)
    stored = tmp_path / "here" / SANDBOX_SECRET_FILE
    assert stored.read_text().strip() == secret
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert len(secret) >= len(SANDBOX_SECRET_PREFIX) + 40
    assert webhook_secret(load_settings(environment="embedded", data_dir=tmp_path / "here")) == secret
    assert webhook_secret(here.model_copy(update={"secret_key": "k" * 40})) == secret  # not from SECRET_KEY
    elsewhere = load_settings(environment="embedded", data_dir=tmp_path / "elsewhere")
    assert webhook_secret(elsewhere) != secret  # same public SECRET_KEY, another install, another secret


async def test_an_event_signed_with_a_secret_derived_from_the_dev_secret_key_is_refused(
    tmp_path, sqlite_engine, queued
):
    """What anyone could compute from the public development SECRET_KEY must not grant credits."""
    sandbox = load_settings(environment="embedded", data_dir=tmp_path)
    assert sandbox.secret_key == DEV_SECRET_KEY
    guessed = (
        SANDBOX_SECRET_PREFIX
        + hmac.new(DEV_SECRET_KEY.encode(), b"postforge stripe sandbox webhook", hashlib.sha256).hexdigest()
    )
    config = StripeWebhookConfig(
        secret=webhook_secret(sandbox), tolerance_seconds=300, source=sqlite_engine, enqueue=queued.append
    )
    async with client_for(config) as client:
        body, headers = se.signed(an_event(), secret=guessed)
        response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 400
    assert stored(sqlite_engine) == 0 and queued == []


def test_the_enqueue_port_reports_instead_of_raising():
    try:
        register_enqueuer(None)
        assert enqueue_stripe_event("evt_1") is False
        seen: list[str] = []
        register_enqueuer(seen.append)
        assert enqueue_stripe_event("evt_2") is True and seen == ["evt_2"]

        def broken(event_id: str) -> None:
            raise ConnectionError("down")

        register_enqueuer(broken)
        assert enqueue_stripe_event("evt_3") is False
    finally:
        register_enqueuer(None)

"""The sandbox checkout plays Stripe: its signed events go through the real webhook route and worker path."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.applications import Starlette

from postforge.api.stripe_webhook import StripeWebhookConfig, stripe_webhook_route
from postforge.models import Payment, PaymentStatus, Role, StripeEvent
from postforge.services.kernel.errors import NotFound, PermissionDenied, ValidationFailed
from postforge.services.ledger import credits
from postforge.services.payments import billing, stripe_sandbox
from postforge.services.payments.stripe_webhooks import process_stripe_event, webhook_secret
from postforge.settings import Settings, load_settings
from tests.support.factories import make_membership, make_user, make_workspace


def sandbox_settings(data_dir: Path) -> Settings:
    """No Stripe key, not production: the sandbox checkout, with its secret under `data_dir`."""
    return load_settings(environment="embedded", stripe_secret_key="", data_dir=data_dir)


@dataclass
class Desk:
    engine: Engine
    settings: Settings
    workspace_id: int
    admin_id: int
    viewer_id: int
    outsider_id: int


@pytest.fixture
def desk(sqlite_engine: Engine, tmp_path: Path) -> Desk:
    with Session(sqlite_engine) as session:
        billing.seed_plans(session)
        admin, viewer, outsider = (make_user(session, name=n) for n in ("Admin", "Viewer", "Outsider"))
        workspace = make_workspace(session, owner=admin)
        make_membership(session, workspace, admin, role=Role.ADMIN)
        make_membership(session, workspace, viewer, role=Role.VIEWER)
        own = make_workspace(session, owner=outsider)
        make_membership(session, own, outsider, role=Role.ADMIN)
        session.commit()
        return Desk(
            sqlite_engine, sandbox_settings(tmp_path / "data"), workspace.id, admin.id, viewer.id, outsider.id
        )


def open_checkout(desk: Desk, plan_code: str = "pack-popular") -> str:
    with Session(desk.engine) as session:
        started = billing.start_checkout(
            session,
            actor_id=desk.admin_id,
            workspace_id=desk.workspace_id,
            plan_code=plan_code,
            settings=desk.settings,
        )
        session.commit()
        return started.checkout_session_id


@pytest.fixture
def post(desk: Desk) -> Iterator:
    """Send signed sandbox events to the real route (with the server's own secret), then process them."""
    config = StripeWebhookConfig(
        secret=webhook_secret(desk.settings),
        tolerance_seconds=300,
        source=desk.engine,
        enqueue=lambda _id: None,
    )
    app = Starlette(routes=[stripe_webhook_route(lambda: config)])

    async def send(events: list[stripe_sandbox.SignedEvent]) -> list[str]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
            for event in events:
                response = await client.post(
                    "/api/stripe/webhook", content=event.body, headers={"Stripe-Signature": event.signature}
                )
                assert response.status_code == 200, response.text
        return [process_stripe_event(desk.engine, event.id) for event in events]

    return send


def events(desk: Desk, session_id: str, outcome: str = stripe_sandbox.PAY, settings: Settings | None = None):
    with Session(desk.engine) as session:
        return stripe_sandbox.sandbox_payment_events(
            session,
            actor_id=desk.admin_id,
            checkout_session_id=session_id,
            outcome=outcome,
            settings=settings or desk.settings,
        )


def balance(desk: Desk) -> int:
    with Session(desk.engine) as session:
        report = credits.check_invariant(session, desk.workspace_id)
        assert report.ok
        return report.balance


def status(desk: Desk, session_id: str) -> str:
    with Session(desk.engine) as session:
        return str(
            session.exec(select(Payment.status).where(Payment.checkout_session_id == session_id)).one()
        )


async def test_paying_in_the_sandbox_grants_the_pack_through_the_webhook(desk, post):
    cs = open_checkout(desk)
    with Session(desk.engine) as session:
        shown = stripe_sandbox.sandbox_checkout(
            session, actor_id=desk.admin_id, checkout_session_id=cs, settings=desk.settings
        )
    assert (shown.plan_name, shown.amount, shown.credits, shown.open) == ("Popular", "$29.00", 50, True)

    delivery = events(desk, cs)
    assert [e.type for e in delivery.now] == ["checkout.session.completed"] and delivery.later == []
    assert await post(delivery.now) == ["granted 50 credits"]
    assert balance(desk) == 50 and status(desk, cs) == "paid"
    with pytest.raises(ValidationFailed, match="already completed"):
        events(desk, cs)


async def test_a_delayed_sandbox_payment_settles_with_its_follow_up_event(desk, post):
    cleared, declined = open_checkout(desk), open_checkout(desk)
    delivery = events(desk, cleared, stripe_sandbox.DELAYED_SUCCESS)
    assert await post(delivery.now) == ["checkout completed; waiting for the payment to clear"]
    assert balance(desk) == 0
    assert await post(delivery.later) == ["granted 50 credits"]

    refused = events(desk, declined, stripe_sandbox.DELAYED_FAILURE)
    await post(refused.now)
    assert await post(refused.later) == ["payment failed; no credits granted"]
    assert (status(desk, cleared), status(desk, declined), balance(desk)) == ("paid", "failed", 50)


async def test_a_sandbox_subscription_sets_the_tier_grants_the_month_and_cancels(desk, post):
    cs = open_checkout(desk, "tier-business")
    delivery = events(desk, cs)
    assert [e.type for e in delivery.now] == [
        "checkout.session.completed",
        "customer.subscription.created",
        "invoice.paid",
    ]
    assert await post(delivery.now) == [
        "subscribed; granted 400 credits",
        "subscription active (Business)",
        "monthly credits already granted",
    ]
    with Session(desk.engine) as session:
        tier = billing.current_subscription(session, actor_id=desk.admin_id, workspace_id=desk.workspace_id)
    assert (tier.plan.name, tier.status, tier.limit("max_accounts")) == ("Business", "active", 50)
    assert tier.current_period_end is not None
    assert balance(desk) == 400

    with Session(desk.engine) as session:
        cancel = stripe_sandbox.sandbox_cancel_events(
            session, actor_id=desk.admin_id, workspace_id=desk.workspace_id, settings=desk.settings
        )
    assert await post(cancel) == ["subscription canceled (Business)"]
    with Session(desk.engine) as session:
        assert billing.workspace_tier(session, desk.workspace_id).plan.name == "Free"
        with pytest.raises(NotFound):
            stripe_sandbox.sandbox_cancel_events(
                session, actor_id=desk.admin_id, workspace_id=desk.workspace_id, settings=desk.settings
            )
    assert balance(desk) == 400  # credits already granted stay


def test_only_the_workspaces_billing_admins_can_pay_a_sandbox_checkout(desk):
    cs = open_checkout(desk)
    with Session(desk.engine) as session:
        for who in (desk.viewer_id, desk.outsider_id):
            with pytest.raises(PermissionDenied):
                stripe_sandbox.sandbox_payment_events(
                    session, actor_id=who, checkout_session_id=cs, settings=desk.settings
                )
        with pytest.raises(NotFound):
            stripe_sandbox.sandbox_checkout(
                session,
                actor_id=desk.admin_id,
                checkout_session_id="cs_test_real_one",
                settings=desk.settings,
            )
        assert session.exec(select(StripeEvent)).all() == []
    assert status(desk, cs) == "pending"


def test_the_sandbox_is_off_when_stripe_is_configured(desk):
    cs = open_checkout(desk)
    live = load_settings(
        environment="embedded", stripe_secret_key="sk_test_x", stripe_webhook_secret="whsec_x"
    )
    with pytest.raises(ValidationFailed, match="switched off"):
        events(desk, cs, settings=live)


async def test_sandbox_events_signed_with_another_servers_key_are_refused(desk, post, tmp_path):
    cs = open_checkout(desk)
    foreign = sandbox_settings(tmp_path / "another-install")
    delivery = events(desk, cs, settings=foreign)
    with pytest.raises(AssertionError, match="signature"):
        await post(delivery.now)
    assert balance(desk) == 0 and status(desk, cs) == PaymentStatus.PENDING

"""Plans and checkout: the real `stripe` library against a local fake of the Stripe API.

Shows what the Checkout Session is created with (price from the plan, metadata, URLs, an
idempotency key), the pending payment it leaves, the customer portal, the sandbox and production
switches, and that a refusal changes nothing.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from postforge import routes
from postforge.models import Payment, PaymentStatus, PricingPlan, Role, Workspace
from postforge.services.kernel.errors import Conflict, PermissionDenied, ValidationFailed
from postforge.services.ledger import credits
from postforge.services.payments import billing
from postforge.services.payments.stripe_gateway import PaymentProviderError, create_checkout_session
from postforge.services.payments.stripe_webhooks import process_stripe_event, record_stripe_event
from postforge.settings import Settings, load_settings
from tests.fakes.server import serve
from tests.fakes.stripe_api import FakeStripeAPI, parse_form
from tests.support import stripe_events as se
from tests.support.factories import (
    make_membership,
    make_payment,
    make_subscription,
    make_user,
    make_workspace,
)

APP = "https://postforge.example"


@pytest.fixture(scope="module")
def stripe_api() -> Iterator[tuple[FakeStripeAPI, str]]:
    api = FakeStripeAPI()
    with serve(api.app) as base_url:
        yield api, base_url


@pytest.fixture
def api(stripe_api) -> FakeStripeAPI:
    fake, _ = stripe_api
    fake.requests.clear()
    return fake


@pytest.fixture
def stripe_settings(stripe_api) -> Settings:
    _, base_url = stripe_api
    return load_settings(
        environment="test", stripe_secret_key="sk_test_fake", stripe_api_base=base_url, app_url=APP
    )


@dataclass
class Team:
    engine: Engine
    workspace_id: int
    admin_id: int
    editor_id: int


@pytest.fixture
def team(sqlite_engine: Engine) -> Team:
    with Session(sqlite_engine) as session:
        billing.seed_plans(session)
        admin, editor = make_user(session, name="Admin"), make_user(session, name="Editor")
        workspace = make_workspace(session, owner=admin, name="Team")
        make_membership(session, workspace, admin, role=Role.ADMIN)
        make_membership(session, workspace, editor, role=Role.EDITOR)
        session.commit()
        return Team(sqlite_engine, workspace.id, admin.id, editor.id)


def buy(team: Team, settings: Settings, plan_code: str = "pack-popular", **kwargs) -> billing.CheckoutStart:
    with Session(team.engine) as session:
        started = billing.start_checkout(
            session,
            actor_id=team.admin_id,
            workspace_id=team.workspace_id,
            plan_code=plan_code,
            settings=settings,
            **kwargs,
        )
        session.commit()
        return started


def payments(team: Team) -> list[Payment]:
    with Session(team.engine) as session:
        return list(session.exec(select(Payment).order_by(Payment.id)).all())


# --- plans ---------------------------------------------------------------------------------------


def test_the_standard_plans_are_seeded_once_and_edits_survive(sqlite_engine):
    with Session(sqlite_engine) as session:
        assert billing.seed_plans(session) == 6
        popular = session.exec(select(PricingPlan).where(PricingPlan.code == "pack-popular")).one()
        popular.price_cents = 2500  # an administrator's change
        session.add(popular)
        session.commit()
        assert billing.seed_plans(session) == 0
        session.commit()
        packs = billing.list_plans(session, kind="credit_pack")
        tiers = billing.list_plans(session, kind="subscription")
    assert [(p.name, p.credits, p.price_label, p.is_popular) for p in packs] == [
        ("Starter", 20, "$15.00", False),
        ("Popular", 50, "$25.00", True),
        ("Pro", 150, "$69.00", False),
    ]
    assert [(t.name, t.credits, t.price_label, t.features["max_accounts"]) for t in tiers] == [
        ("Free", 0, "$0.00", 3),
        ("Pro", 100, "$19.00", 10),
        ("Business", 400, "$49.00", 50),
    ]


def test_an_inactive_plan_is_not_listed_nor_sold(team, stripe_settings, api):
    with Session(team.engine) as session:
        starter = session.exec(select(PricingPlan).where(PricingPlan.code == "pack-starter")).one()
        starter.is_active = False
        session.add(starter)
        session.commit()
        assert "pack-starter" not in [p.code for p in billing.list_plans(session)]
    with pytest.raises(ValidationFailed, match="not on offer"):
        buy(team, stripe_settings, "pack-starter")
    with pytest.raises(ValidationFailed, match="not on offer"):
        buy(team, stripe_settings, "pack-popular'; --")
    assert payments(team) == [] and api.requests == []


# --- checkout with Stripe --------------------------------------------------------------------------


def test_a_pack_checkout_is_created_from_the_plan_with_metadata_urls_and_a_key(team, stripe_settings, api):
    started = buy(team, stripe_settings)

    assert started.external and started.checkout_session_id.startswith("cs_test_")
    assert started.url.endswith(f"/c/pay/{started.checkout_session_id}")
    [request] = api.requests
    assert request.authorization == "Bearer sk_test_fake"
    assert request.idempotency_key and request.idempotency_key.startswith("postforge-checkout-")
    params = request.params
    assert params["mode"] == "payment"
    assert params["line_items"] == [
        {
            "price_data": {
                "currency": "usd",
                "unit_amount": "2900",
                "product_data": {"name": "PostForge Popular", "description": "50 credits"},
            },
            "quantity": "1",
        }
    ]
    expected_meta = {
        "workspace_id": str(team.workspace_id),
        "plan_code": "pack-popular",
        "user_id": str(team.admin_id),
    }
    assert params["metadata"].items() >= expected_meta.items()
    assert params["payment_intent_data"]["metadata"] == params["metadata"]
    assert params["success_url"] == f"{APP}{routes.CHECKOUT_SUCCESS}?session_id={{CHECKOUT_SESSION_ID}}"
    assert params["cancel_url"] == f"{APP}{routes.CHECKOUT_CANCEL}?session_id={{CHECKOUT_SESSION_ID}}"
    assert params["client_reference_id"] == str(team.workspace_id)
    assert params["customer_creation"] == "always"

    [pending] = payments(team)
    assert (pending.checkout_session_id, pending.status, pending.amount_cents, pending.credits) == (
        started.checkout_session_id,
        PaymentStatus.PENDING,
        2900,
        50,
    )
    assert (pending.workspace_id, pending.user_id, pending.plan_name) == (
        team.workspace_id,
        team.admin_id,
        "Popular",
    )

    buy(team, stripe_settings)  # a second click is a second checkout, under a key of its own
    assert len({r.idempotency_key for r in api.requests}) == 2


def test_a_repeated_idempotency_key_gets_the_same_session(stripe_settings, api):
    params = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {"currency": "usd", "unit_amount": 100, "product_data": {"name": "x"}},
                "quantity": 1,
            }
        ],
        "success_url": f"{APP}/ok",
        "cancel_url": f"{APP}/no",
    }
    first = create_checkout_session(stripe_settings, params, idempotency_key="postforge-checkout-same")
    again = create_checkout_session(stripe_settings, params, idempotency_key="postforge-checkout-same")
    assert first == again


def test_a_subscription_checkout_is_recurring_and_carries_its_metadata_to_the_subscription(
    team, stripe_settings, api
):
    with Session(team.engine) as session:
        business = session.exec(select(PricingPlan).where(PricingPlan.code == "tier-business")).one()
        business.stripe_price_id = "price_business_monthly"
        session.add(business)
        session.commit()
    api.prices["price_business_monthly"] = (4900, "usd")
    buy(team, stripe_settings, "tier-pro", base_url="http://localhost:3000/")
    pro = api.requests[-1].params
    assert pro["mode"] == "subscription"
    assert pro["line_items"][0]["price_data"]["recurring"] == {"interval": "month"}
    assert pro["subscription_data"]["metadata"]["plan_code"] == "tier-pro"
    assert "payment_intent_data" not in pro and "customer_creation" not in pro
    assert pro["success_url"].startswith(f"http://localhost:3000{routes.CHECKOUT_SUCCESS}?")

    buy(team, stripe_settings, "tier-business")  # a configured Stripe price is used as it is
    assert api.requests[-1].params["line_items"] == [{"price": "price_business_monthly", "quantity": "1"}]


def test_a_known_customer_is_reused(team, stripe_settings, api):
    with Session(team.engine) as session:
        workspace = session.get(Workspace, team.workspace_id)
        make_payment(session, workspace, stripe_customer_id="cus_known", status=PaymentStatus.PAID)
        session.commit()
    buy(team, stripe_settings)
    params = api.requests[-1].params
    assert params["customer"] == "cus_known" and "customer_creation" not in params


def test_refusals_change_nothing(team, stripe_settings, api):
    with Session(team.engine) as session, pytest.raises(PermissionDenied, match="Only workspace admins"):
        billing.start_checkout(
            session,
            actor_id=team.editor_id,
            workspace_id=team.workspace_id,
            plan_code="pack-popular",
            settings=stripe_settings,
        )
    with pytest.raises(ValidationFailed, match="free"):
        buy(team, stripe_settings, "tier-free")
    api.fail_next(402, "card_declined", "Your card was declined.")
    with pytest.raises(PaymentProviderError, match="Nothing was charged"):
        buy(team, stripe_settings)
    api.fail_next(500, times=3)  # the first try and both of the library's retries
    with pytest.raises(PaymentProviderError):
        buy(team, stripe_settings)
    assert payments(team) == []


def test_a_server_error_is_retried_under_the_same_idempotency_key(team, stripe_settings, api):
    api.fail_next(500)
    started = buy(team, stripe_settings)
    keys = [r.idempotency_key for r in api.requests]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert [p.checkout_session_id for p in payments(team)] == [started.checkout_session_id]


def test_a_workspace_with_a_subscription_cannot_start_a_second(team, stripe_settings, api):
    with Session(team.engine) as session:
        workspace = session.get(Workspace, team.workspace_id)
        make_subscription(session, workspace, plan_code="tier-pro")
        session.commit()
    with pytest.raises(Conflict):
        buy(team, stripe_settings, "tier-business")
    buy(team, stripe_settings, "pack-starter")  # packs are still for sale
    assert len(payments(team)) == 1


def test_the_customer_portal_opens_for_a_workspace_that_paid_before(team, stripe_settings, api):
    with Session(team.engine) as session:
        with pytest.raises(ValidationFailed, match="no customer"):
            billing.portal_url(
                session, actor_id=team.admin_id, workspace_id=team.workspace_id, settings=stripe_settings
            )
        workspace = session.get(Workspace, team.workspace_id)
        make_subscription(session, workspace, stripe_customer_id="cus_portal")
        url = billing.portal_url(
            session, actor_id=team.admin_id, workspace_id=team.workspace_id, settings=stripe_settings
        )
    assert "/p/session/" in url
    request = api.requests[-1]
    assert request.path == "/v1/billing_portal/sessions"
    assert request.params == {"customer": "cus_portal", "return_url": f"{APP}{routes.BILLING}"}


# --- sandbox and production switches --------------------------------------------------------------


def test_without_a_key_the_checkout_is_the_in_app_sandbox(team, api):
    sandbox = load_settings(environment="embedded", stripe_secret_key="", app_url=APP)
    assert billing.checkout_mode(sandbox) == "sandbox"
    started = buy(team, sandbox)
    assert started.checkout_session_id.startswith(billing.SANDBOX_SESSION_PREFIX)
    assert started.url == f"{routes.SANDBOX_CHECKOUT}?session_id={started.checkout_session_id}"
    assert not started.external
    assert api.requests == []  # nothing left the machine
    assert [p.status for p in payments(team)] == [PaymentStatus.PENDING]
    with Session(team.engine) as session, pytest.raises(ValidationFailed, match="sandbox"):
        billing.portal_url(session, actor_id=team.admin_id, workspace_id=team.workspace_id, settings=sandbox)


def test_production_without_a_key_sells_nothing(team, api):
    # (Valid production settings also need PostgreSQL, Redis and keys; the rule is what matters.)
    settings = load_settings(environment="test").model_copy(update={"environment": "production"})
    assert billing.checkout_mode(settings) == "disabled"
    with pytest.raises(ValidationFailed, match="not set up"):
        buy(team, settings)
    assert payments(team) == []


def test_the_fake_parses_stripes_form_encoding():
    assert parse_form("a[b][0][c]=1&a[b][0][d]=x&a[b][1][c]=2&m=p") == {
        "a": {"b": [{"c": "1", "d": "x"}, {"c": "2"}]},
        "m": "p",
    }


def test_a_stripe_checkout_is_granted_by_its_signed_completion_event(team, stripe_settings, api):
    """The whole Stripe-mode round trip: session at the fake API, then Stripe's event for that session."""
    started = buy(team, stripe_settings)
    session_object = api.sessions[started.checkout_session_id]
    paid = {
        **session_object,
        "status": "complete",
        "payment_status": "paid",
        "payment_intent": "pi_test_round_trip",
        "customer": "cus_test_round_trip",
    }
    event = se.stripe_event("checkout.session.completed", paid)
    with Session(team.engine) as session:
        record_stripe_event(session, event)
        session.commit()
    assert process_stripe_event(team.engine, event["id"]) == "granted 50 credits"
    with Session(team.engine) as session:
        report = credits.check_invariant(session, team.workspace_id)
        status = billing.checkout_status(
            session, actor_id=team.admin_id, checkout_session_id=started.checkout_session_id
        )
    assert report.ok and report.balance == 50
    assert (status.status, status.balance, status.credits, status.amount) == ("paid", 50, 50, "$29.00")
    buy(team, stripe_settings, "pack-starter")  # the next checkout reuses the customer Stripe created
    assert api.requests[-1].params["customer"] == "cus_test_round_trip"

"""The billing pages' state: who may buy, what the browser is sent to, what a non-admin sees.

Event arguments are client-controlled: a viewer's "Buy" or an outsider's checkout id must change
nothing and show nothing.
"""

import time

import pytest
import reflex as rx
from sqlmodel import Session, select

from postforge import routes
from postforge.db import get_engine
from postforge.models import Payment, Role
from postforge.services.identity import accounts_auth
from postforge.services.kernel.errors import ServiceError
from postforge.services.payments import billing, stripe_sandbox
from postforge.settings import get_settings
from postforge.state import billing as billing_state
from postforge.state.billing import BillingState, CheckoutState
from postforge.state.shell import ShellState
from tests.fakes.hostile import hostile_server, trickle
from tests.support.factories import make_membership, make_user, make_workspace


@pytest.fixture
def app_env() -> dict[str, str]:
    return {
        "STRIPE_SECRET_KEY": "",
        "ENVIRONMENT": "test",
    }


@pytest.fixture
def tokens(app_database: str) -> dict[str, str]:
    with Session(get_engine()) as session:
        billing.seed_plans(session)
        admin, viewer = make_user(session, name="Admin"), make_user(session, name="Viewer")
        workspace = make_workspace(session, owner=admin, name="Shop")
        make_membership(session, workspace, admin, role=Role.ADMIN)
        make_membership(session, workspace, viewer, role=Role.VIEWER)
        found = {
            user.name: accounts_auth.create_session(session, user, workspace_id=workspace.id)
            for user in (admin, viewer)
        }
        session.commit()
        return found


async def signed_in(token: str) -> rx.State:
    root = rx.State()
    shell = await root.get_state(ShellState)
    shell.session_token = token
    await shell.load_shell()
    return root


async def drain(generator) -> list:
    return [event async for event in generator if event is not None]


def redirect_target(event) -> str:
    """Where an `rx.redirect` event sends the browser."""
    assert event.handler.fn.__qualname__ == "_redirect", event
    return dict((name._js_expr, value._var_value) for name, value in event.args)["path"]


def payments() -> list[Payment]:
    with Session(get_engine()) as session:
        return list(session.exec(select(Payment)).all())


async def test_an_admin_is_sent_to_the_sandbox_checkout(tokens):
    root = await signed_in(tokens["Admin"])
    state = await root.get_state(BillingState)
    await state.load_plans()
    assert [card.name for card in state.packs] == ["Starter", "Popular", "Pro"]
    assert [card.popular for card in state.packs] == [False, True, False]
    assert [card.current for card in state.tiers] == [True, False, False]  # Free until subscribed

    events = await drain(state.buy("pack-popular"))
    [pending] = payments()
    assert (
        redirect_target(events[-1]) == f"{routes.SANDBOX_CHECKOUT}?session_id={pending.checkout_session_id}"
    )


async def test_a_viewer_can_neither_buy_nor_see_the_history(tokens):
    root = await signed_in(tokens["Viewer"])
    state = await root.get_state(BillingState)
    events = await drain(state.buy("pack-popular"))
    assert payments() == []
    assert "Only workspace admins can manage billing" in str(events[-1])
    assert state.buying == ""

    await state.load_billing()
    assert state.allowed is False and state.payments == [] and state.total == 0


async def test_the_success_page_without_a_checkout_says_so(tokens):
    root = await signed_in(tokens["Admin"])
    state = await root.get_state(CheckoutState)
    assert await state.start() is None
    assert state.phase == "unknown" and "billing page" in state.message


@pytest.mark.parametrize(
    ("status", "completed", "phase"),
    [
        ("pending", False, "waiting"),  # no word from Stripe yet
        ("pending", True, "clearing"),  # checkout done, a delayed payment method still clearing
        ("paid", True, "paid"),
        ("partially_refunded", True, "paid"),
        ("failed", True, "failed"),
        ("expired", False, "failed"),
    ],
)
async def test_the_success_page_tells_each_state_of_the_payment_apart(status, completed, phase):
    state = await rx.State().get_state(CheckoutState)
    state._apply(
        billing.CheckoutStatus(
            checkout_session_id="cs_x",
            workspace_id=1,
            plan_name="Popular",
            kind="credit_pack",
            credits=50,
            amount="$29.00",
            status=status,
            checkout_completed=completed,
            balance=60,
        )
    )
    assert state.phase == phase
    assert (state.plan_name, state.credits, state.balance) == ("Popular", 50, 60)


async def test_the_sandbox_webhook_call_is_given_up_at_its_deadline(monkeypatch) -> None:
    """A server that trickles its answer does not hold the web app's event for ever."""
    monkeypatch.setattr(billing_state, "SANDBOX_WEBHOOK_DEADLINE_SECONDS", 1.0)
    event = stripe_sandbox.SignedEvent(
        id="evt_1", type="checkout.session.completed", body="{}", signature="t=1"
    )
    with hostile_server(
        trickle(b'{"received": true, "padding": "' + b"p" * 60 + b'"}', interval=0.5)
    ) as server:
        monkeypatch.setenv("API_URL", server.url)
        get_settings.cache_clear()
        started = time.monotonic()
        with pytest.raises(ServiceError, match="could not reach this server's webhook"):
            await billing_state.send_to_webhook([event])
        assert time.monotonic() - started < 15
    get_settings.cache_clear()

"""The admin console through the Reflex state: event arguments and the tab's own values are
client-controlled, so every console handler must refuse anyone but a system admin, whatever it is
sent, change nothing, and leave no admin data in the tab.

The handlers are discovered: every event of every console state is called as a member, as a signed-in
admin who was just demoted (the tab still points at another user's pages), and as a visitor.
"""

import inspect
from dataclasses import dataclass

import pytest
import reflex as rx
from reflex.istate.data import HeaderData, ReflexURL, RouterData
from sqlmodel import Session, select

import postforge.postforge  # noqa: F401 — every page and state registered, as in the running app
from postforge import routes
from postforge.db import get_engine
from postforge.models import AuditLog, DestinationStatus, PostStatus, Role, TransactionType, User
from postforge.services.identity import accounts_auth
from postforge.services.infra import client_address
from postforge.services.ledger import credits
from postforge.services.payments import billing, stripe_webhooks
from postforge.state.admin_console import (
    AdminAuditState,
    AdminPaymentsState,
    AdminPlansState,
    AdminPublishingState,
    AdminUsersState,
    AdminUserState,
    AdminWorkspacesState,
    AdminWorkspaceState,
    ConsoleState,
    PlanItem,
)
from postforge.state.auth import AuthState
from postforge.state.pages import AdminState
from postforge.state.settings import SettingsState
from postforge.state.shell import ShellState
from tests.support.factories import (
    make_destination,
    make_membership,
    make_post,
    make_social_account,
    make_stripe_event,
    make_user,
    make_workspace,
)
from tests.unit.services.admin_console.conftest import fingerprint

CONSOLE_STATES = [
    AdminState,
    AdminUsersState,
    AdminUserState,
    AdminWorkspacesState,
    AdminWorkspaceState,
    AdminPublishingState,
    AdminPaymentsState,
    AdminPlansState,
    AdminAuditState,
]


@dataclass
class People:
    admin_token: str
    member_token: str
    demoted_token: str
    victim: int
    victim_email: str
    victim_workspace: int
    victim_destination: int
    victim_token: str


@pytest.fixture
def people(app_database) -> People:
    with Session(get_engine(), expire_on_commit=False) as session:
        admin = make_user(session, email="root@example.com", is_admin=True)
        demoted = make_user(session, email="former@example.com", is_admin=True)
        member = make_user(session, email="mallory@example.com")
        victim = make_user(session, email="ada@example.com")
        space = make_workspace(session, owner=victim, name="Ada's space", is_personal=True)
        make_membership(session, space, victim, role=Role.ADMIN)
        credits.grant(
            session,
            space.id,
            amount=10,
            type=TransactionType.BONUS,
            description="Welcome",
            idempotency_key="w",
        )
        post = make_post(session, space, content="Ada's failed post", status=PostStatus.FAILED)
        account = make_social_account(session, space)
        destination = make_destination(session, post, account, status=DestinationStatus.FAILED)
        tokens = [accounts_auth.create_session(session, user) for user in (admin, member, demoted, victim)]
        session.commit()
        return People(
            tokens[0], tokens[1], tokens[2], victim.id, victim.email, space.id, destination.id, tokens[3]
        )


def console_events() -> list[tuple[type, str]]:
    events = []
    for cls in CONSOLE_STATES:
        for name, handler in cls.event_handlers.items():
            # Reflex's own handlers (setvar, hydration) are not the console's.
            if not handler.is_background and handler.fn.__module__.startswith("postforge."):
                events.append((cls, name))
    return sorted(events, key=lambda pair: (pair[0].__name__, pair[1]))


def test_the_walk_finds_every_console_handler() -> None:
    names = {f"{cls.__name__}.{name}" for cls, name in console_events()}
    for expected in (
        "AdminState.load",
        "AdminUsersState.search",
        "AdminUserState.suspend",
        "AdminUserState.delete",
        "AdminUserState.send_password_reset",
        "AdminWorkspaceState.adjust",
        "AdminWorkspaceState.change_plan",
        "AdminAuditState.filter",
        "AdminPublishingState.retry",
        "AdminPublishingState.answer_review",
    ):
        assert expected in names
    # Every console state is a ConsoleState: they share the one admin check.
    assert all(issubclass(cls, ConsoleState) for cls in CONSOLE_STATES)
    found = {sub for sub in ConsoleState.get_substates()} | {
        deeper for sub in ConsoleState.get_substates() for deeper in sub.get_substates()
    }
    assert found == set(CONSOLE_STATES)


def hostile_arguments(handler, people: People) -> list:
    """What a tampering browser would send: the victim's ids, a valid confirmation, a credit gift."""
    form = {
        "query": "ada",
        "reason": "because",
        "confirm_email": people.victim_email,
        "amount": "1000",
        "plan": "tier-business",
        "action": "any",
        "actor": "",
        "target_type": "user",
        "target_id": str(people.victim),
    }
    arguments = []
    for parameter in list(inspect.signature(handler.fn).parameters.values())[1:]:
        if parameter.annotation in (dict, "dict"):
            arguments.append(form)
        elif parameter.annotation in (bool, "bool"):
            arguments.append(True)
        elif parameter.annotation in (int, "int"):
            arguments.append(people.victim_destination)
        else:
            arguments.append("delete")
    return arguments


async def tab_of(token: str, cls: type, people: People) -> tuple[rx.State, ConsoleState]:
    root = rx.State()
    root.router = RouterData(url=ReflexURL(f"http://localhost:3000{routes.ADMIN_USER}?id={people.victim}"))
    (await root.get_state(AuthState)).session_token = token
    state = await root.get_state(cls)
    # The tab already points at the victim (an admin opened these pages before being demoted).
    if isinstance(state, AdminUserState):
        state.user_id_shown = people.victim
    if isinstance(state, AdminWorkspaceState):
        state.workspace_id_shown = people.victim_workspace
    if isinstance(state, AdminPublishingState):
        state.chosen_id = people.victim_destination
    if isinstance(state, AdminPlansState):  # the edit form of a plan, as an admin opened it
        state.editing = PlanItem(
            code="tier-pro",
            kind="subscription",
            name="Pro",
            price="19.00",
            price_label="$19.00",
            credits=100,
            stripe_price_id="",
            max_accounts="10",
            storage_mb="",
            seats="",
            is_active=True,
        )
    return root, state


def redirect_paths(answer) -> list[str]:
    """The paths of the `rx.redirect`s among a handler's answer."""
    paths = []
    for item in answer if isinstance(answer, list) else [answer]:
        arguments = {str(name): value._var_value for name, value in getattr(item, "args", ())}
        if {"path", "external", "replace"} <= set(arguments):
            paths.append(str(arguments["path"]))
    return paths


# What a console tab holds when it shows nothing (ids included: a refused tab forgets its target).
EMPTY = {
    "allowed": False,
    "dialog": "",
    "rows": [],
    "entries": [],
    "email": "",
    "members": [],
    "memberships": [],
    "sessions": [],
    "ledger": [],
    "credits": 0,
    "users": 0,
    "components": [],
    "user_id_shown": 0,
    "workspace_id_shown": 0,
    "accounts": [],
    "chosen_id": 0,
    "editing": None,
}


def shows_nothing(state: ConsoleState) -> bool:
    return all(getattr(state, name) == empty for name, empty in EMPTY.items() if hasattr(state, name))


@pytest.mark.parametrize("who", ["member", "demoted admin", "visitor"])
async def test_every_console_handler_refuses_anyone_but_a_system_admin(people, who) -> None:
    with Session(get_engine()) as session:
        demoted = session.exec(select(User).where(User.email == "former@example.com")).one()
        demoted.is_admin = False
        session.commit()
    token = {"member": people.member_token, "demoted admin": people.demoted_token, "visitor": ""}[who]
    before = fingerprint(get_engine())

    let_through = []
    for cls, name in console_events():
        _root, state = await tab_of(token, cls, people)
        handler = cls.event_handlers[name]
        answer = handler.fn(state, *hostile_arguments(handler, people))
        if inspect.isawaitable(answer):
            answer = await answer
        expected = [routes.NOT_FOUND] if token else []
        if not shows_nothing(state):
            let_through.append(f"{cls.__name__}.{name}: the tab shows admin data")
        # These only show or hide a confirmation (the confirmed action is a separate event).
        if name not in ("open_dialog", "set_dialog_open", "ask_review", "edit"):
            refused = (
                redirect_paths(answer) == expected
                if token
                else answer is AuthState.require_login or redirect_paths(answer) == []
            )
            if not refused or answer is None:
                let_through.append(f"{cls.__name__}.{name}: answered {answer!r}")

    assert let_through == [], "\n".join(let_through)
    assert fingerprint(get_engine()) == before


async def test_an_admin_adjusts_credits_and_the_audit_row_keeps_the_tab_s_address(
    people, monkeypatch
) -> None:
    # Behind one trusted proxy: the address it saw is the client's.
    monkeypatch.setattr(client_address, "configured_proxies", lambda: client_address.TrustedProxies(hops=1))
    root, state = await tab_of(people.admin_token, AdminWorkspaceState, people)
    root.router = RouterData(
        url=ReflexURL(f"http://localhost:3000{routes.ADMIN_WORKSPACE}?id={people.victim_workspace}"),
        headers=HeaderData.from_router_data({"headers": {"x-forwarded-for": "203.0.113.50"}}),
    )
    assert await state.load() is None
    assert state.allowed and state.credits == 10

    state.open_dialog("adjust")
    answer = await state.adjust({"amount": "ten", "reason": "gift"})
    assert state.error == "Enter a whole number of credits, like 10 or -5." and state.dialog == "adjust"
    assert answer is not None
    await state.adjust({"amount": "+5", "reason": "Outage refund"})

    assert (state.credits, state.error, state.dialog) == (15, "", "")
    assert [row.amount for row in state.ledger][:1] == ["+5"]
    with Session(get_engine()) as session:
        (row,) = session.exec(select(AuditLog)).all()
    assert (row.action, row.details["reason"]) == ("workspace.credits_adjust", "Outage refund")
    assert row.ip_address == "203.0.113.50"


async def test_an_admin_finds_and_suspends_a_user_whose_sessions_then_end(people) -> None:
    _root, users_page = await tab_of(people.admin_token, AdminUsersState, people)
    await users_page.search({"query": "ADA"})
    assert [row.email for row in users_page.rows] == [people.victim_email]

    _root, user_page = await tab_of(people.admin_token, AdminUserState, people)
    await user_page.load()
    assert user_page.email == people.victim_email and len(user_page.sessions) == 1
    await user_page.suspend({"reason": "spam"})
    assert user_page.suspended and user_page.sessions == []

    _root, audit_page = await tab_of(people.admin_token, AdminAuditState, people)
    await audit_page.filter(
        {"action": "user.suspend", "actor": "root@", "target_type": "any", "target_id": ""}
    )
    assert [(e.action, e.reason) for e in audit_page.entries] == [("Suspended the account", "spam")]
    await audit_page.filter({"action": "any", "actor": "", "target_type": "any", "target_id": "7"})
    assert audit_page.error == "Say whether the id is a user's, a workspace's, a post's or an event's."


async def test_an_admin_retries_a_failed_publish_from_the_console(people) -> None:
    _root, state = await tab_of(people.admin_token, AdminPublishingState, people)
    await state.load()
    assert [row.id for row in state.rows] == [people.victim_destination]
    await state.retry(people.victim_destination)
    assert state.rows == [] and state.error == ""
    with Session(get_engine()) as session:
        (row,) = session.exec(select(AuditLog)).all()
    assert (row.action, row.details["after"]) == ("post.retry", {"status": "pending"})


async def test_an_admin_queues_a_stuck_stripe_event_again(people, monkeypatch) -> None:
    queued = []
    monkeypatch.setattr(stripe_webhooks, "_enqueuer", queued.append)
    with Session(get_engine()) as session:
        make_stripe_event(session, event_id="evt_stuck", attempts=20, error="boom")
        session.commit()
    _root, state = await tab_of(people.admin_token, AdminPaymentsState, people)
    await state.load()
    assert [(e.kind, e.id) for e in state.events] == [("stripe", "evt_stuck")]
    await state.process_again("stripe", "evt_stuck")
    assert queued == ["evt_stuck"] and state.error == ""
    await state.process_again("stripe", "evt_gone")
    assert state.error == "That event is not stored here."


async def test_an_admin_edits_a_plan_and_a_bad_price_keeps_the_form_open(people) -> None:
    with Session(get_engine()) as session:
        billing.seed_plans(session)
        session.commit()
    _root, state = await tab_of(people.admin_token, AdminPlansState, people)
    await state.load()
    state.edit("tier-pro")
    assert state.dialog == "plan" and state.editing.name == "Pro"
    form = {"name": "Pro", "price": "19.999", "credits": "100", "max_accounts": "10", "is_active": "on"}
    await state.save(form)
    assert state.error.startswith("Price") and state.dialog == "plan"
    await state.save({**form, "price": "21"})
    assert state.dialog == "" and next(r for r in state.rows if r.code == "tier-pro").price_label == "$21.00"


async def test_the_member_s_workspace_admins_see_what_a_system_admin_did_on_settings(people) -> None:
    admin_root, console = await tab_of(people.admin_token, AdminWorkspaceState, people)
    admin_root.router = RouterData(
        url=ReflexURL(f"http://localhost:3000{routes.ADMIN_WORKSPACE}?id={people.victim_workspace}")
    )
    await console.load()
    await console.adjust({"amount": "5", "reason": "Sorry for the outage"})
    assert console.error == "" and console.credits == 15

    root = rx.State()
    shell = await root.get_state(ShellState)
    shell.session_token = people.victim_token
    await shell.load_shell()
    settings = await root.get_state(SettingsState)
    await settings.load()
    assert [(a.action, a.change, a.reason) for a in settings.console_actions] == [
        ("Adjusted credits", "credits: 10 → 15", "Sorry for the outage")
    ]

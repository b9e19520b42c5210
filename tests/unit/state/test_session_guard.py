"""Every state event re-checks its session: a revoked, expired or signed-out browser gets nothing.

The handlers are discovered, like the tenancy test's services: every event of every PostForge state
class is sent with a session that was just revoked, and each must be refused (the tab is sent to
the sign-in page) without its handler running and without a row changing. A new handler is covered
the moment it exists; only the explicitly public ones (sign-in, registration, reset) are let through.
"""

from datetime import timedelta

import pytest
import reflex as rx
import sqlalchemy as sa
from reflex.istate.data import ReflexURL, RouterData
from reflex.state import StateUpdate
from reflex_base.event import Event
from reflex_base.utils import format
from sqlmodel import Session, SQLModel

import postforge.postforge  # noqa: F401 — every page and state registered, as in the running app
from postforge import routes
from postforge.db import get_engine
from postforge.models import Role, UserSession, utcnow
from postforge.services.identity import accounts_auth
from postforge.state import background
from postforge.state.auth import AuthState
from postforge.state.auth_forms import SignInState
from postforge.state.live import LiveState
from postforge.state.session_guard import SessionGuard, handler_of, needs_session, still_signed_in
from postforge.state.shell import ShellState
from tests.support.factories import make_membership, make_user, make_workspace


def postforge_states(state_class=rx.State):
    for sub in state_class.get_substates():
        if sub.__module__.startswith("postforge."):
            yield sub
        yield from postforge_states(sub)


def every_event() -> list[tuple[type, str]]:
    return sorted(
        ((cls, name) for cls in postforge_states() for name in cls.event_handlers),
        key=lambda pair: (pair[0].__name__, pair[1]),
    )


PROTECTED = [(cls, name) for cls, name in every_event() if needs_session(cls, name)]
PUBLIC = [(cls, name) for cls, name in every_event() if not needs_session(cls, name)]


@pytest.fixture
def alice(app_database: str) -> dict:
    with Session(get_engine()) as session:
        user = make_user(session, name="Alice")
        space = make_workspace(session, name="A")
        make_membership(session, space, user, role=Role.ADMIN)
        token = accounts_auth.create_session(session, user, workspace_id=space.id)
        session.commit()
        return {"id": user.id, "workspace": space.id, "token": token}


async def signed_in_root(token: str) -> rx.State:
    root = rx.State()
    shell = await root.get_state(ShellState)
    shell.session_token = token
    await shell.load_shell()
    assert shell.user_id, "the session works before it is revoked"
    return root


def revoke_everywhere(user_id: int) -> None:
    with Session(get_engine()) as session:
        accounts_auth.sign_out_everywhere(session, user_id)
        session.commit()


def fingerprint() -> dict[str, list]:
    """Every row of every table: what 'nothing changed' means."""
    with get_engine().connect() as connection:
        return {
            table.name: sorted(map(tuple, connection.execute(sa.select(table)).all()), key=repr)
            for table in SQLModel.metadata.sorted_tables
        }


def event_for(cls: type, name: str) -> Event:
    return Event(name=format.format_event_handler(cls.event_handlers[name]), payload={})


def redirects_to_sign_in(update: StateUpdate) -> bool:
    return any(
        event.name == "_redirect" and str(event.payload.get("path", "")).startswith(routes.SIGN_IN)
        for event in update.events
    )


def test_the_walk_finds_the_app_s_handlers() -> None:
    names = {f"{cls.__name__}.{name}" for cls, name in PROTECTED}
    # A sample across pages, including background events and the ones the review named.
    for expected in (
        "SettingsState.sign_out_everywhere",
        "AdminState.load",
        "BillingState.buy",
        "BillingState.open_portal",
        "CalendarState.move",
        "SlotsState.add",
        "CreditsState.load",
        "DashboardState.load",
        "NotificationsState.mark_all_read",
        "PostsState.open_details",
        "LiveState.poll",
        "CheckoutState.watch",
        "BillingState.refresh_tier",
        "GenerateState.run_generation",
        "ShellState.load_shell",
    ):
        assert expected in names
    assert len(PROTECTED) > 150


def test_only_the_sign_in_side_is_public() -> None:
    public = {f"{cls.__name__}.{name}" for cls, name in PUBLIC}
    assert {"AuthState.require_login", "AuthState.sign_out", "SignInState.submit"} <= public
    allowed_states = {
        "AuthState",
        "SignInState",
        "RegisterState",
        "ForgotPasswordState",
        "ResetPasswordState",
        "AuthCompleteState",
        "VerifyEmailState",
    }
    assert {name.split(".")[0] for name in public} - {"OutboxState"} <= allowed_states, public
    # The dev outbox checks for a system admin itself, so that everyone else meets its 404.
    assert {name for name in public if name.startswith("OutboxState.")} == {"OutboxState.load"}


def test_the_running_app_installs_the_guard() -> None:
    from postforge.postforge import app

    assert any(isinstance(middleware, SessionGuard) for middleware in app._middlewares)


async def test_every_protected_event_of_a_revoked_session_is_refused_and_changes_nothing(alice) -> None:
    root = await signed_in_root(alice["token"])
    revoke_everywhere(alice["id"])
    before = fingerprint()
    guard = SessionGuard()

    let_through = []
    for cls, name in PROTECTED:
        update = await guard.preprocess(None, root, event_for(cls, name))
        if update is None or not redirects_to_sign_in(update):
            let_through.append(f"{cls.__name__}.{name}")
        auth = await root.get_state(AuthState)
        assert auth.user_id == 0 and not auth.is_admin, "the tab forgets who it was"

    assert let_through == []
    assert fingerprint() == before


async def test_an_expired_session_and_a_signed_out_tab_are_refused_too(alice) -> None:
    root = await signed_in_root(alice["token"])
    with Session(get_engine()) as session:
        row = session.exec(sa.select(UserSession)).scalars().one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
        session.commit()
    update = await SessionGuard().preprocess(None, root, event_for(ShellState, "load_shell"))
    assert update is not None and redirects_to_sign_in(update)

    anonymous = rx.State()
    update = await SessionGuard().preprocess(None, anonymous, event_for(ShellState, "load_shell"))
    assert update is not None and redirects_to_sign_in(update)


async def test_a_live_session_reaches_every_handler(alice) -> None:
    root = await signed_in_root(alice["token"])
    guard = SessionGuard()
    refused = [
        f"{cls.__name__}.{name}"
        for cls, name in PROTECTED
        if await guard.preprocess(None, root, event_for(cls, name)) is not None
    ]
    assert refused == []


async def test_public_events_run_without_a_session(alice) -> None:
    anonymous = rx.State()
    guard = SessionGuard()
    for cls, name in PUBLIC:
        assert await guard.preprocess(None, anonymous, event_for(cls, name)) is None, f"{cls.__name__}.{name}"


async def test_the_refusal_sends_the_tab_back_here_after_signing_in(alice) -> None:
    root = rx.State()
    root.router = RouterData(url=ReflexURL("http://localhost:3000/calendar?view=week"))
    update = await SessionGuard().preprocess(None, root, event_for(ShellState, "load_shell"))
    assert update is not None
    (redirect,) = [event for event in update.events if event.name == "_redirect"]
    assert redirect.payload["path"] == f"{routes.SIGN_IN}?next=%2Fcalendar%3Fview%3Dweek"


async def test_a_handler_reuses_the_guard_s_check_within_one_event(alice, monkeypatch) -> None:
    root = await signed_in_root(alice["token"])
    calls = []
    real = accounts_auth.resolve_session
    monkeypatch.setattr(accounts_auth, "resolve_session", lambda *a, **k: calls.append(1) or real(*a, **k))
    await SessionGuard().preprocess(None, root, event_for(ShellState, "load_shell"))
    shell = await root.get_state(ShellState)
    await shell.load_shell()
    assert len(calls) == 1, "one session lookup per foreground event"


async def test_a_background_event_re_checks_on_every_round(alice) -> None:
    root = await signed_in_root(alice["token"])
    live = await root.get_state(LiveState)
    await SessionGuard().preprocess(None, root, event_for(LiveState, "poll"))  # a background event
    assert await still_signed_in(live)
    revoke_everywhere(alice["id"])
    assert not await still_signed_in(live), "no cached answer carries into the poller's next round"


def test_handler_of_resolves_event_names() -> None:
    cls, name = handler_of(format.format_event_handler(ShellState.event_handlers["load_shell"]))
    assert (cls, name) == (ShellState, "load_shell")
    assert handler_of("no.such.state.handler") is None
    assert handler_of("nothing") is None
    assert not needs_session(SignInState, "submit")


# --- Background events: one run per tab ---------------------------------------------------------


async def test_a_background_event_runs_once_per_booking_whatever_the_client_sends(alice) -> None:
    root = await signed_in_root(alice["token"])
    live = await root.get_state(LiveState)
    assert background.claim(live, "poll") is None, "never booked: a forged event does nothing"
    await live.start()
    first = background.claim(live, "poll")
    assert first
    assert background.claim(live, "poll") is None, "a second copy of the same event does nothing"
    assert background.is_current(live, "poll", first)

    await live.start()  # the next page load supersedes it
    second = background.claim(live, "poll")
    assert second and second != first
    assert not background.is_current(live, "poll", first), "the old poller stops at its next look"

    background.cancel(live, "poll")
    assert not background.is_current(live, "poll", second)

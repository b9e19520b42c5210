"""Tenancy through the Reflex state: event arguments are client-controlled, so each handler must
refuse a workspace its user does not belong to, and a viewer's writes, whatever the browser sends."""

import pytest
import reflex as rx
from sqlmodel import Session, select

from postforge.db import get_engine
from postforge.models import Invite, Membership, Role, UserSession
from postforge.services.identity import accounts_auth
from postforge.state.settings import SettingsState
from postforge.state.shell import ShellState
from tests.support.factories import make_membership, make_user, make_workspace


@pytest.fixture
def world(app_database: str):
    """Two workspaces: Alice admins A (Victor views A); Bob admins B."""
    with Session(get_engine()) as session:
        alice, bob, victor = (make_user(session, name=n) for n in ("Alice", "Bob", "Victor"))
        space_a, space_b = make_workspace(session, name="A"), make_workspace(session, name="B")
        make_membership(session, space_a, alice, role=Role.ADMIN)
        make_membership(session, space_a, victor, role=Role.VIEWER)
        make_membership(session, space_b, bob, role=Role.ADMIN)
        tokens = {
            user.name: accounts_auth.create_session(session, user, workspace_id=space_a.id)
            for user in (alice, victor)
        }
        tokens["Bob"] = accounts_auth.create_session(session, bob, workspace_id=space_b.id)
        session.commit()
        return {"A": space_a.id, "B": space_b.id, "tokens": tokens, "bob": bob.id}


async def _signed_in(token: str) -> tuple[ShellState, SettingsState]:
    root = rx.State()
    shell = await root.get_state(ShellState)
    shell.session_token = token
    await shell.load_shell()
    return shell, await root.get_state(SettingsState)


async def test_switching_to_a_workspace_of_another_team_is_refused(world) -> None:
    shell, _settings = await _signed_in(world["tokens"]["Alice"])
    assert shell.workspace_id == world["A"]

    await shell.switch_workspace(str(world["B"]))

    with Session(get_engine()) as session:
        alices_browser = session.exec(select(UserSession).where(UserSession.user_id == shell.user_id)).one()
    assert alices_browser.workspace_id == world["A"]
    await shell.load_shell()
    assert shell.workspace_id == world["A"], "Alice must stay in her own workspace"


async def test_a_viewer_cannot_invite_or_change_roles_through_the_state(world) -> None:
    shell, settings = await _signed_in(world["tokens"]["Victor"])
    assert shell.workspace_role == "viewer"

    settings.invite_email, settings.invite_role = "mallory@example.org", "admin"
    await settings.invite()
    assert settings.error  # a refusal message for the viewer
    await settings.change_role(shell.user_id, "admin")

    with Session(get_engine()) as session:
        assert session.exec(select(Invite)).all() == []
        roles = {m.user_id: m.role for m in session.exec(select(Membership)).all()}
    assert roles[shell.user_id] == Role.VIEWER


async def test_a_stale_or_tampered_token_loads_nothing(world) -> None:
    token = world["tokens"]["Alice"]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    shell, _settings = await _signed_in(tampered)
    assert shell.user_id == 0
    assert shell.workspace_id == 0
    assert shell.credits == 0

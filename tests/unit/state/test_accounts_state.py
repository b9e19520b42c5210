"""The accounts page's state: connecting through the dialog, nothing typed lost on an error,
viewers and foreign accounts refused whatever the browser sends, and the OAuth hand-off."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import reflex as rx
from cryptography.fernet import Fernet
from reflex.istate.data import ReflexURL, RouterData
from sqlmodel import Session, select

from postforge import routes
from postforge.db import get_engine
from postforge.models import AccountStatus, OAuthAttempt, Role, SocialAccount
from postforge.services.channels import account_connect
from postforge.services.identity import accounts_auth
from postforge.state.accounts import AccountsState
from postforge.state.shell import ShellState
from tests.support.factories import make_membership, make_social_account, make_user, make_workspace
from tests.support.platform_doubles import use_adapters


@pytest.fixture
def app_env() -> dict[str, str]:
    return {
        "APP_URL": "https://postforge.example",
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "LINKEDIN_CLIENT_ID": "pf-linkedin",
        "LINKEDIN_AUTH_BASE": "https://linkedin.example",
    }


@pytest.fixture
def app_database(app_database: str) -> Iterator[str]:
    with use_adapters():
        yield app_database


@pytest.fixture
def world(app_database: str):
    """Team A: Alice (admin), Eddie (editor), Victor (viewer); Bob admins B, which has an account."""
    with Session(get_engine()) as session:
        alice, eddie, victor, bob = (make_user(session, name=n) for n in ("Alice", "Eddie", "Victor", "Bob"))
        space_a, space_b = make_workspace(session, name="A"), make_workspace(session, name="B")
        make_membership(session, space_a, alice, role=Role.ADMIN)
        make_membership(session, space_a, eddie, role=Role.EDITOR)
        make_membership(session, space_a, victor, role=Role.VIEWER)
        make_membership(session, space_b, bob, role=Role.ADMIN)
        foreign = make_social_account(session, space_b, handle="@bobs", display_name="Bob's")
        tokens = {
            u.name: accounts_auth.create_session(session, u, workspace_id=space_a.id)
            for u in (alice, eddie, victor)
        }
        session.commit()
        return {"A": space_a.id, "B": space_b.id, "tokens": tokens, "foreign": foreign.id}


async def signed_in(token: str) -> AccountsState:
    root = rx.State()
    shell = await root.get_state(ShellState)
    shell.session_token = token
    await shell.load_shell()
    state = await root.get_state(AccountsState)
    await state.load()
    return state


def accounts() -> list[SocialAccount]:
    with Session(get_engine()) as session:
        return list(session.exec(select(SocialAccount).order_by(SocialAccount.id)).all())


async def test_an_editor_connects_a_sandbox_account_and_a_refusal_keeps_what_was_typed(world) -> None:
    state = await signed_in(world["tokens"]["Eddie"])
    assert [p.platform for p in state.platforms] == ["sandbox", "mastodon", "bluesky", "linkedin"]
    state.open_connect()
    state.choose("sandbox")
    state.set_sandbox_name("Acme")
    state.set_sandbox_handle("@not valid")
    await state.connect_sandbox()
    assert (state.error_field, state.dialog_open) == ("handle", True)
    assert (state.sandbox_name, state.sandbox_handle) == ("Acme", "@not valid")
    assert state.general_error == ""  # shown beside the field, not above the form

    state.set_sandbox_handle("@acme")
    await state.connect_sandbox()
    assert (state.error, state.dialog_open) == ("", False)
    assert [(a.handle, a.status) for a in state.accounts] == [("@acme", "connected")]
    assert state.accounts[0].initial == "A"


async def test_a_viewer_and_a_foreign_account_are_refused_through_the_state(world) -> None:
    state = await signed_in(world["tokens"]["Victor"])
    state.choose("sandbox")
    state.set_sandbox_name("Sneaky")
    state.set_sandbox_handle("@sneaky")
    await state.connect_sandbox()
    assert "Viewers can't connect" in state.general_error
    state.chosen, state.instance_url = "linkedin", ""
    assert await state.start_oauth() is not None
    assert state.connect_binding == ""

    alice = await signed_in(world["tokens"]["Alice"])
    alice.ask_disconnect(world["foreign"], "@bobs")  # an id from another workspace, sent by the browser
    await alice.disconnect()
    assert [(a.handle, a.status) for a in accounts()] == [("@bobs", AccountStatus.CONNECTED)]
    with Session(get_engine()) as session:
        assert session.exec(select(OAuthAttempt)).all() == []


async def test_starting_an_oauth_connect_binds_the_browser_and_sends_it_to_the_platform(world) -> None:
    state = await signed_in(world["tokens"]["Eddie"])
    state.open_connect()
    state.choose("linkedin")
    redirect = await state.start_oauth()

    url = str(redirect.args[0][1]) if hasattr(redirect, "args") else ""
    assert "https://linkedin.example/oauth/v2/authorization" in url
    assert state.connect_binding  # the cookie the callback route reads
    assert not state.dialog_open  # back from the platform, the page shows no stale dialog
    cookie = AccountsState.get_fields()["connect_binding"].default
    assert (cookie.name, cookie.path, cookie.max_age) == (
        routes.CONNECT_COOKIE,
        routes.CONNECT_COOKIE_PATH,
        600,
    )
    with Session(get_engine()) as session:
        attempt = session.exec(select(OAuthAttempt)).one()
    assert attempt.provider == "linkedin" and attempt.workspace_id == world["A"]
    assert state.connect_binding not in attempt.nonce


async def test_reconnect_reruns_the_sandbox_form_and_disconnect_updates_the_card(world) -> None:
    state = await signed_in(world["tokens"]["Eddie"])
    state.choose("sandbox")
    state.set_sandbox_name("Acme")
    state.set_sandbox_handle("acme")
    await state.connect_sandbox()
    account_id = state.accounts[0].id

    state.dialog_open = False
    await state.reconnect(account_id)
    assert (state.dialog_open, state.chosen, state.sandbox_name, state.sandbox_handle) == (
        True,
        "sandbox",
        "Acme",
        "@acme",
    )

    state.ask_disconnect(account_id, "@acme")
    await state.disconnect()
    assert [a.status for a in state.accounts] == ["disconnected"]


async def test_back_from_the_platform_the_page_shows_the_outcome_to_its_user_only(world) -> None:
    state = await signed_in(world["tokens"]["Eddie"])
    state.choose("linkedin")
    redirect = await state.start_oauth()
    authorize_url = str(redirect.args[0][1]).strip('"')
    platform_state = parse_qs(urlsplit(authorize_url).query)["state"][0]
    with Session(get_engine()) as session, pytest.raises(account_connect.ConnectRefused) as refusal:
        account_connect.complete_oauth(
            session,
            state=platform_state,
            code="",
            browser_state=state.connect_binding,
            error="access_denied",
            error_description="The member cancelled",
        )
    back = "https://postforge.example" + refusal.value.redirect_path

    async def arrive(token: str, url: str) -> AccountsState:
        root = rx.State()
        root.router = RouterData(url=ReflexURL(url))
        shell = await root.get_state(ShellState)
        shell.session_token = token
        await shell.load_shell()
        page = await root.get_state(AccountsState)
        await page.load()
        return page

    eddie = await arrive(world["tokens"]["Eddie"], back)
    assert "access was denied (The member cancelled)" in eddie.notice
    alice = await arrive(world["tokens"]["Alice"], back)  # same workspace, not her attempt
    assert "could not be finished" in alice.notice and "cancelled" not in alice.notice
    forged = await arrive(world["tokens"]["Eddie"], "https://postforge.example/accounts?connect=You+owe+us")
    assert forged.notice.startswith("That connection could not be finished")


async def test_the_app_password_is_used_to_connect_but_never_sent_to_the_browser(world, monkeypatch) -> None:
    seen: dict = {}

    def connect_bluesky(session, **fields):
        seen.update(fields)
        return account_connect.ConnectResult([1], ["@ada.bsky.social"], "/accounts")

    monkeypatch.setattr(account_connect, "connect_bluesky", connect_bluesky)
    state = await signed_in(world["tokens"]["Eddie"])
    state.open_connect()
    state.choose("bluesky")
    state.set_bsky_identifier("ada.bsky.social")
    state.set_bsky_password("abcd-efgh-ijkl-mnop")

    sent_to_the_browser = await state._get_resolved_delta()
    assert "abcd-efgh-ijkl-mnop" not in json.dumps(sent_to_the_browser, default=str)
    assert "abcd-efgh-ijkl-mnop" not in json.dumps(state.dict(), default=str)

    await state.connect_bluesky()
    assert seen["app_password"] == "abcd-efgh-ijkl-mnop"
    assert seen["identifier"] == "ada.bsky.social"
    assert state.dialog_open is False
    state.open_connect()
    state.choose("bluesky")
    await state.connect_bluesky()
    assert seen["app_password"] == ""  # used once: a second connect needs it typed again

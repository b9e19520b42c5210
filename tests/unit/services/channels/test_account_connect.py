"""Connecting social accounts: OAuth round trips over real HTTP, app passwords, the sandbox,
reconnects that keep the row and its refresh token, plan limits, disconnects and tenancy."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlmodel import Session, SQLModel, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from postforge.models import (
    AccountStatus,
    DestinationStatus,
    OAuthAttempt,
    Platform,
    PlatformApp,
    Post,
    PostDestination,
    PostStatus,
    Role,
    SocialAccount,
    Workspace,
    utcnow,
)
from postforge.services.channels import account_connect as connect
from postforge.services.channels import account_tokens
from postforge.services.channels.account_connect import ConnectRefused
from postforge.services.infra import token_crypto
from postforge.services.kernel.errors import NotFound, PermissionDenied, ValidationFailed
from postforge.settings import get_settings
from tests.fakes.hostile import hostile_server, trickle
from tests.fakes.oauth_platform import FakeMember, FakeOAuthPlatform
from tests.fakes.server import serve
from tests.support.factories import (
    make_destination,
    make_membership,
    make_post,
    make_social_account,
    make_subscription,
    make_user,
    make_workspace,
)
from tests.support.platform_doubles import use_adapters

APP_URL = "https://postforge.example"


@pytest.fixture(scope="module")
def platform_server() -> Iterator[tuple[FakeOAuthPlatform, str]]:
    platform = FakeOAuthPlatform()
    with serve(platform.app) as base_url:
        yield platform, base_url


@pytest.fixture
def platform(platform_server, monkeypatch) -> Iterator[FakeOAuthPlatform]:
    fake, base_url = platform_server
    fake.faults.clear()
    fake.issue_refresh_tokens, fake.require_pkce = True, True
    fake.member = FakeMember()
    fake.authorize_requests.clear()
    fake.token_requests.clear()
    fake.registered_apps.clear()
    fake.base_url = base_url
    for name, value in {
        "APP_URL": APP_URL,
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "LINKEDIN_CLIENT_ID": fake.client_id,
        "LINKEDIN_CLIENT_SECRET": fake.client_secret,
        "LINKEDIN_AUTH_BASE": base_url,
        "LINKEDIN_API_BASE": base_url,
        "SANDBOX_PLATFORM_ENABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with use_adapters():
        yield fake
    get_settings.cache_clear()


@dataclass
class World:
    workspace: int
    admin: int
    editor: int
    viewer: int
    outsider: int
    other_workspace: int


@pytest.fixture
def world(engine, platform) -> World:
    with Session(engine, expire_on_commit=False) as session:
        admin, editor, viewer, outsider = (make_user(session, name=n) for n in ("Ada", "Ed", "Vi", "Otto"))
        space, other = make_workspace(session, name="Team"), make_workspace(session, name="Other")
        make_membership(session, space, admin, role=Role.ADMIN)
        make_membership(session, space, editor, role=Role.EDITOR)
        make_membership(session, space, viewer, role=Role.VIEWER)
        make_membership(session, other, outsider, role=Role.ADMIN)
        session.commit()
        return World(space.id, admin.id, editor.id, viewer.id, outsider.id, other.id)


def callback(platform: str = "linkedin") -> str:
    return connect.callback_url(platform)


def begin(engine, world: World, platform: str = "linkedin", **kwargs) -> tuple[str, str]:
    kwargs.setdefault("user_id", world.editor)
    with Session(engine) as session:
        url, browser_state = connect.begin_oauth(
            session,
            workspace_id=world.workspace,
            platform=platform,
            redirect_uri=callback(platform),
            **kwargs,
        )
        session.commit()
    return url, browser_state


def authorize_at_platform(url: str) -> dict[str, str]:
    """The browser at the platform: it approves (or not) and is sent back with code and state."""
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def finish(engine, back: dict[str, str], browser_state: str, **kwargs):
    with Session(engine, expire_on_commit=False) as session:
        return connect.complete_oauth(
            session,
            state=back.get("state", ""),
            code=back.get("code", ""),
            browser_state=browser_state,
            error=back.get("error"),
            error_description=back.get("error_description", ""),
            **kwargs,
        )


def connect_linkedin(engine, world: World, **kwargs) -> int:
    url, browser_state = begin(engine, world, **kwargs)
    result = finish(engine, authorize_at_platform(url), browser_state)
    assert len(result.account_ids) == 1
    return result.account_ids[0]


def _workspace(session: Session, world: World) -> Workspace:
    return session.get(Workspace, world.workspace)


def account(engine, account_id: int) -> SocialAccount:
    with Session(engine, expire_on_commit=False) as session:
        return session.get(SocialAccount, account_id)


# --- OAuth round trip ---------------------------------------------------------------------------


def test_an_editor_connects_a_linkedin_account_through_the_platform_with_pkce(engine, world, platform):
    url, browser_state = begin(engine, world)
    back = authorize_at_platform(url)
    result = finish(engine, back, browser_state, platform="linkedin")

    asked = platform.authorize_requests[-1]
    assert asked["code_challenge_method"] == "S256" and asked["redirect_uri"] == callback()
    assert asked["scope"] == "openid profile w_member_social"
    assert platform.token_requests[-1]["code_verifier"]  # the fake checked it against the challenge
    row = account(engine, result.account_ids[0])
    assert (row.platform, row.platform_account_id) == (Platform.LINKEDIN, "urn:li:person:member-ada")
    assert (row.handle, row.display_name, row.avatar_url) == (
        "Ada Lovelace",
        "Ada Lovelace",
        "https://media.example/ada.png",
    )
    assert row.status == AccountStatus.CONNECTED and row.connected_by_id == world.editor
    credentials = account_tokens.credentials_for(row)
    assert credentials.access_token in platform._tokens
    assert credentials.refresh_token
    assert timedelta(days=59) < row.token_expires_at - utcnow() <= timedelta(days=60)
    assert result.redirect_path.startswith("/accounts?connect=")
    with Session(engine) as session:
        stored = session.exec(select(OAuthAttempt)).one()
        assert back["state"] not in stored.state and browser_state not in stored.nonce  # digests only
        outcome = connect.connect_outcome(
            session, user_id=world.editor, workspace_id=world.workspace, attempt_id=stored.id
        )
        assert outcome.ok and outcome.account_ids == result.account_ids
        assert "Ada Lovelace" in outcome.message
        # Someone else in the workspace does not get to read this user's result.
        assert (
            connect.connect_outcome(
                session, user_id=world.admin, workspace_id=world.workspace, attempt_id=stored.id
            )
            is None
        )


def test_a_callback_in_another_browser_or_a_replay_or_a_late_one_connects_nothing(engine, world, platform):
    url, browser_state = begin(engine, world)
    back = authorize_at_platform(url)

    for wrong in ("", "someone-elses-browser"):
        with pytest.raises(ConnectRefused, match="did not start in this browser") as refusal:
            finish(engine, back, wrong)
        assert refusal.value.redirect_path == "/accounts?connect=failed"
    with pytest.raises(ConnectRefused, match="unknown"):
        finish(engine, {**back, "state": "forged"}, browser_state)
    with pytest.raises(ConnectRefused, match="unknown"):  # the callback of another platform's route
        finish(engine, back, browser_state, platform="x")

    finish(engine, back, browser_state)  # the right browser still can
    with pytest.raises(ConnectRefused, match="already used"):
        finish(engine, back, browser_state)

    url, browser_state = begin(engine, world)
    back = authorize_at_platform(url)
    with Session(engine) as session:
        for attempt in session.exec(select(OAuthAttempt)).all():
            attempt.expires_at = utcnow() - timedelta(seconds=1)
            session.add(attempt)
        session.commit()
    with pytest.raises(ConnectRefused, match="expired"):
        finish(engine, back, browser_state)
    with Session(engine) as session:
        assert len(session.exec(select(SocialAccount)).all()) == 1


def test_the_platforms_refusal_and_the_adapters_failure_become_clear_messages(engine, world, platform):
    platform.deny_next()
    url, browser_state = begin(engine, world)
    back = authorize_at_platform(url)
    assert back["error"] == "access_denied"
    with pytest.raises(ConnectRefused, match=r"access was denied \(The member declined") as refusal:
        finish(engine, back, browser_state)
    attempt_id = int(refusal.value.redirect_path.rsplit("=", 1)[1])
    with Session(engine) as session:
        outcome = connect.connect_outcome(
            session, user_id=world.editor, workspace_id=world.workspace, attempt_id=attempt_id
        )
    assert not outcome.ok and "access was denied" in outcome.message

    url, browser_state = begin(engine, world)
    platform.faults.fail_next("userinfo", status=500, body={"message": "Internal error", "status": 500})
    with pytest.raises(ConnectRefused, match=r"LinkedIn did not return the profile \(500: Internal error\)"):
        finish(engine, authorize_at_platform(url), browser_state)

    url, browser_state = begin(engine, world)
    platform.faults.fail_next(
        "token",
        status=400,
        body={"error": "invalid_grant", "error_description": "Authorization code expired"},
    )
    with pytest.raises(ConnectRefused, match=r"refused the authorization code \(Authorization code expired"):
        finish(engine, authorize_at_platform(url), browser_state)
    with Session(engine) as session:
        assert session.exec(select(SocialAccount)).all() == []


def test_a_reconnect_updates_the_same_row_and_keeps_the_refresh_token_the_platform_did_not_resend(
    engine, world, platform
):
    account_id = connect_linkedin(engine, world)
    first = account_tokens.credentials_for(account(engine, account_id))
    with Session(engine) as session:
        row = session.get(SocialAccount, account_id)
        account_tokens.mark_needs_reconnect(row, "The token was revoked.")
        session.add(row)
        post = make_post(session, _workspace(session, world), status=PostStatus.PUBLISHED)
        make_destination(
            session, post, row, status=DestinationStatus.PUBLISHED, platform_post_id="urn:li:share:1"
        )
        session.commit()

    platform.issue_refresh_tokens = False
    new_id = connect_linkedin(engine, world, reconnect_account_id=account_id)

    assert new_id == account_id
    renewed = account(engine, account_id)
    again = account_tokens.credentials_for(renewed)
    assert again.access_token != first.access_token
    assert again.refresh_token == first.refresh_token  # never erased by a platform that sent none
    assert renewed.status == AccountStatus.CONNECTED and renewed.last_error == ""
    with Session(engine) as session:
        assert len(session.exec(select(SocialAccount)).all()) == 1
        cards = connect.list_account_cards(session, user_id=world.viewer, workspace_id=world.workspace)
    assert cards[0].published_count == 1  # history kept


def test_a_reconnect_as_another_member_of_the_platform_is_refused(engine, world, platform):
    account_id = connect_linkedin(engine, world)
    platform.member = FakeMember(id="member-bob", name="Bob")
    with pytest.raises(
        ConnectRefused, match="You signed in to LinkedIn as Bob, but this card is Ada Lovelace"
    ):
        connect_linkedin(engine, world, reconnect_account_id=account_id)
    with Session(engine) as session:
        assert [a.platform_account_id for a in session.exec(select(SocialAccount)).all()] == [
            "urn:li:person:member-ada"
        ]


def test_the_plans_account_limit_is_enforced_and_reconnecting_takes_no_extra_place(engine, world, platform):
    account_id = connect_linkedin(engine, world)
    with Session(engine) as session:
        for n in range(2):
            connect.connect_sandbox(
                session,
                user_id=world.editor,
                workspace_id=world.workspace,
                name=f"Feed {n}",
                handle=f"@feed{n}",
            )
        session.commit()
        with pytest.raises(
            ConnectRefused, match="The Free plan connects up to 3 accounts and this workspace has 3"
        ):
            connect.connect_sandbox(
                session, user_id=world.editor, workspace_id=world.workspace, name="One more", handle="@more"
            )
    with pytest.raises(ConnectRefused, match="Free plan"):
        begin(engine, world)
    # A needs-reconnect account still holds its place; reconnecting it is allowed.
    with Session(engine) as session:
        row = session.get(SocialAccount, account_id)
        account_tokens.mark_needs_reconnect(row, "expired")
        session.add(row)
        session.commit()
    assert connect_linkedin(engine, world, reconnect_account_id=account_id) == account_id
    # A paid tier has more room.
    with Session(engine) as session:
        make_subscription(session, _workspace(session, world), plan_code="tier-pro")
        connect.connect_sandbox(
            session, user_id=world.editor, workspace_id=world.workspace, name="One more", handle="@more"
        )
        session.commit()
        assert len(session.exec(select(SocialAccount)).all()) == 4


def test_mastodon_registers_one_app_per_instance_and_connects_through_it(engine, world, platform):
    instance = platform.base_url
    url, browser_state = begin(engine, world, "mastodon", instance_url=instance + "/")
    begin(engine, world, "mastodon", instance_url=instance)  # a second connect reuses the app
    assert len(platform.registered_apps) == 1
    assert platform.registered_apps[0]["redirect_uris"] == callback("mastodon")
    result = finish(engine, authorize_at_platform(url), browser_state)

    row = account(engine, result.account_ids[0])
    host = urlsplit(instance).netloc
    assert (row.handle, row.instance_url, row.settings) == (f"@ada@{host}", instance, {"max_characters": 500})
    with Session(engine) as session:
        app = session.exec(select(PlatformApp)).one()
    assert app.client_id == platform.registered_apps[0]["client_id"]
    assert token_crypto.decrypt(app.client_secret_enc) == platform._clients[app.client_id]
    assert platform._clients[app.client_id] not in app.client_secret_enc


def test_a_mastodon_server_that_is_no_address_or_refuses_is_reported_beside_the_field(
    engine, world, platform
):
    for typed, message in [
        ("", "Enter your Mastodon server"),
        ("not a server", "not a Mastodon server address"),
        ("http://mastodon.example", "must use https"),
    ]:
        with pytest.raises(ValidationFailed, match=message) as refusal:
            begin(engine, world, "mastodon", instance_url=typed)
        assert refusal.value.field == "instance_url"
    platform.faults.fail_next("apps", status=503, body={"error": "Service Unavailable"})
    with pytest.raises(ValidationFailed, match=r"refused to register PostForge \(503") as refusal:
        begin(engine, world, "mastodon", instance_url=platform.base_url)
    assert refusal.value.field == "instance_url"
    assert connect.normalize_instance_url("@ada@Mastodon.Social") == "https://mastodon.social"


def test_viewers_and_outsiders_cannot_connect_and_unconfigured_platforms_are_not_offered(
    engine, world, platform, monkeypatch
):
    for user in (world.viewer, world.outsider):
        with pytest.raises(PermissionDenied):
            begin(engine, world, user_id=user)
    with Session(engine) as session, pytest.raises(PermissionDenied, match="Viewers can't connect"):
        connect.connect_sandbox(
            session, user_id=world.viewer, workspace_id=world.workspace, name="V", handle="@v"
        )
    with pytest.raises(ValidationFailed, match="can't be connected") as refusal:
        begin(engine, world, "x")  # no X client id configured
    assert refusal.value.field == "platform"
    with pytest.raises(ValidationFailed, match="connected another way"):
        begin(engine, world, "bluesky")

    offered = {o.platform: o for o in connect.available_platforms()}
    assert list(offered) == ["sandbox", "mastodon", "bluesky", "linkedin"]
    assert (offered["linkedin"].connect_kind, offered["mastodon"].needs_instance) == ("oauth", True)
    assert offered["bluesky"].connect_kind == "password" and offered["sandbox"].connect_kind == "builtin"
    monkeypatch.setenv("SANDBOX_PLATFORM_ENABLED", "false")
    monkeypatch.setenv("LINKEDIN_CLIENT_ID", "")
    get_settings.cache_clear()
    assert [o.platform for o in connect.available_platforms()] == ["mastodon", "bluesky"]


# --- Bluesky --------------------------------------------------------------------------------------


@pytest.fixture
def bluesky(platform, monkeypatch) -> Iterator[dict]:
    """A tiny com.atproto.server.createSession: one account, its app password."""
    seen: dict = {"requests": []}

    async def create_session(request: Request) -> JSONResponse:
        body = await request.json()
        seen["requests"].append(body)
        if body.get("identifier") not in ("ada.bsky.social", "did:plc:ada123") or body.get("password") != (
            "abcd-efgh-ijkl-mnop"
        ):
            return JSONResponse(
                {"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
                status_code=401,
            )
        return JSONResponse(
            {
                "did": "did:plc:ada123",
                "handle": "ada.bsky.social",
                "accessJwt": f"access-{len(seen['requests'])}",
                "refreshJwt": f"refresh-{len(seen['requests'])}",
                "active": True,
            }
        )

    app = Starlette(
        routes=[Route("/xrpc/com.atproto.server.createSession", create_session, methods=["POST"])]
    )
    with serve(app) as base_url:
        monkeypatch.setenv("BLUESKY_SERVICE_URL", base_url)
        get_settings.cache_clear()
        seen["base_url"] = base_url
        yield seen


def test_a_bluesky_account_connects_with_an_app_password_that_is_never_stored(engine, world, bluesky):
    with Session(engine, expire_on_commit=False) as session:
        result = connect.connect_bluesky(
            session,
            user_id=world.editor,
            workspace_id=world.workspace,
            identifier=" @Ada.bsky.social ",
            app_password="abcd-efgh-ijkl-mnop",
        )
        session.commit()
        again = connect.connect_bluesky(  # a reconnect: same DID, same row, new session
            session,
            user_id=world.editor,
            workspace_id=world.workspace,
            identifier="did:plc:ada123",
            app_password="abcd-efgh-ijkl-mnop",
        )
        session.commit()
        everything = repr([session.execute(select(table)).all() for table in SQLModel.metadata.sorted_tables])
    assert again.account_ids == result.account_ids
    assert bluesky["requests"][0] == {"identifier": "ada.bsky.social", "password": "abcd-efgh-ijkl-mnop"}
    row = account(engine, result.account_ids[0])
    assert (row.platform_account_id, row.handle, row.instance_url) == (
        "did:plc:ada123",
        "@ada.bsky.social",
        bluesky["base_url"],
    )
    assert account_tokens.credentials_for(row).refresh_token == "refresh-2"
    assert "abcd-efgh-ijkl-mnop" not in everything


def test_bluesky_input_problems_are_reported_per_field_and_a_refusal_carries_the_hint(engine, world, bluesky):
    def attempt(identifier: str, password: str, service_url: str = ""):
        with Session(engine) as session:
            return connect.connect_bluesky(
                session,
                user_id=world.editor,
                workspace_id=world.workspace,
                identifier=identifier,
                app_password=password,
                service_url=service_url,
            )

    cases = [
        ("", "abcd-efgh-ijkl-mnop", "", "identifier", "Enter your Bluesky handle"),
        ("ada", "abcd-efgh-ijkl-mnop", "", "identifier", "is a domain name"),
        ("did:nope", "abcd-efgh-ijkl-mnop", "", "identifier", "DID looks like"),
        ("ada.bsky.social", "  ", "", "app_password", "Enter an app password"),
        ("ada.bsky.social", "abcd-efgh-ijkl-mnop", "ftp://pds", "service_url", "not a PDS address"),
    ]
    for identifier, password, service, field, message in cases:
        with pytest.raises(ValidationFailed, match=message) as refusal:
            attempt(identifier, password, service)
        assert refusal.value.field == field
    assert bluesky["requests"] == []  # nothing was sent for input we could tell was wrong

    with pytest.raises(
        ConnectRefused, match="Invalid identifier or password Bluesky app passwords look like"
    ) as no:
        attempt("ada.bsky.social", "my main password")
    assert no.value.field == "app_password"
    with pytest.raises(ConnectRefused, match=r"Invalid identifier or password$"):
        attempt("ada.bsky.social", "wxyz-wxyz-wxyz-wxyz")  # already app-password shaped: no hint


# --- sandbox, disconnect, cards -------------------------------------------------------------------


def test_the_sandbox_account_validates_its_inputs_and_the_same_handle_is_the_same_account(
    engine, world, platform
):
    with Session(engine) as session:
        for name, handle, field in [
            ("", "@acme", "name"),
            ("Acme", "@ac me", "handle"),
            ("Acme", "", "handle"),
        ]:
            with pytest.raises(ValidationFailed) as refusal:
                connect.connect_sandbox(
                    session, user_id=world.editor, workspace_id=world.workspace, name=name, handle=handle
                )
            assert refusal.value.field == field
        first = connect.connect_sandbox(
            session, user_id=world.editor, workspace_id=world.workspace, name="Acme", handle="acme"
        )
        second = connect.connect_sandbox(
            session, user_id=world.admin, workspace_id=world.workspace, name="Acme Inc", handle="@acme"
        )
        session.commit()
    assert first.account_ids == second.account_ids and first.names == ["@acme"]
    assert account(engine, first.account_ids[0]).display_name == "Acme Inc"


def test_disconnect_erases_tokens_fails_waiting_posts_and_keeps_history(engine, world, platform):
    account_id = connect_linkedin(engine, world)
    with Session(engine, expire_on_commit=False) as session:
        space = _workspace(session, world)
        row = session.get(SocialAccount, account_id)
        other = make_social_account(session, space, handle="@other")
        waiting = make_post(
            session, space, status=PostStatus.SCHEDULED, scheduled_at=utcnow() + timedelta(days=1)
        )
        pending = make_destination(session, waiting, row, status=DestinationStatus.PENDING)
        elsewhere = make_destination(session, waiting, other, status=DestinationStatus.PENDING)
        queued_post = make_post(session, space, status=PostStatus.PUBLISHING)
        queued = make_destination(session, queued_post, row, status=DestinationStatus.QUEUED)
        busy_post = make_post(session, space, status=PostStatus.PUBLISHING)
        busy = make_destination(session, busy_post, row, status=DestinationStatus.PUBLISHING)
        done_post = make_post(session, space, status=PostStatus.PUBLISHED)
        done = make_destination(
            session, done_post, row, status=DestinationStatus.PUBLISHED, platform_post_id="urn:li:share:9"
        )
        session.commit()

    with Session(engine) as session:
        with pytest.raises(PermissionDenied):
            connect.disconnect(session, user_id=world.viewer, account_id=account_id)
        with pytest.raises(PermissionDenied):
            connect.disconnect(session, user_id=world.outsider, account_id=account_id)
        with pytest.raises(NotFound):
            connect.disconnect(session, user_id=world.editor, account_id=999_999)
        assert connect.disconnect(session, user_id=world.editor, account_id=account_id) == 2
        session.commit()

    with Session(engine) as session:
        row = session.get(SocialAccount, account_id)
        assert row.status == AccountStatus.DISCONNECTED
        assert (row.access_token_enc, row.refresh_token_enc, row.token_expires_at) == (None, None, None)
        state = {d.id: (d.status, d.last_error) for d in session.exec(select(PostDestination)).all()}
        assert state[pending.id][0] == state[queued.id][0] == DestinationStatus.FAILED
        assert "Ada Lovelace was disconnected before this was published" in state[pending.id][1]
        assert state[elsewhere.id][0] == DestinationStatus.PENDING
        assert state[busy.id][0] == DestinationStatus.PUBLISHING  # left to finish
        assert state[done.id][0] == DestinationStatus.PUBLISHED
        assert session.get(Post, queued_post.id).status == PostStatus.FAILED
        assert session.get(Post, waiting.id).status == PostStatus.PUBLISHING  # one failed, one still waits
        cards = connect.list_account_cards(session, user_id=world.viewer, workspace_id=world.workspace)
    card = next(c for c in cards if c.id == account_id)
    assert (card.status, card.status_label, card.scheduled_count, card.published_count) == (
        "disconnected",
        "Disconnected",
        1,
        1,
    )


def test_cards_warn_before_access_that_cannot_renew_itself_runs_out(engine, world, platform):
    platform.issue_refresh_tokens = False
    platform.access_token_lifetime = 5 * 24 * 3600 + 600
    try:
        account_id = connect_linkedin(engine, world)
    finally:
        platform.access_token_lifetime = 60 * 24 * 3600
    with Session(engine) as session:
        cards = connect.list_account_cards(session, user_id=world.viewer, workspace_id=world.workspace)
        with pytest.raises(PermissionDenied):
            connect.list_account_cards(session, user_id=world.outsider, workspace_id=world.workspace)
    card = cards[0]
    assert (card.id, card.platform_label, card.connect_kind, card.status_label) == (
        account_id,
        "LinkedIn",
        "oauth",
        "Connected",
    )
    assert card.expiry_hint == "Access expires in 5 days: reconnect before then."
    row = account(engine, account_id)
    assert connect.expiry_hint(row, now=row.token_expires_at - timedelta(hours=3)).startswith(
        "Access expires in 3 hours"
    )
    assert "expired" in connect.expiry_hint(row, now=row.token_expires_at + timedelta(minutes=1))
    assert connect.expiry_hint(row, now=row.token_expires_at - timedelta(days=30)) == ""


# --- the outbound policy --------------------------------------------------------------------------

TOKEN = b'{"access_token": "tok", "token_type": "Bearer", "expires_in": 3600, "scope": "' + b"s" * 60 + b'"}'


def _state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


def test_a_token_endpoint_that_trickles_its_answer_is_given_up_at_the_deadline(
    engine, world, platform, monkeypatch
):
    monkeypatch.setattr(connect, "TOKEN_EXCHANGE_TIMEOUT_SECONDS", 1.0)
    with hostile_server(trickle(TOKEN, interval=0.5)) as server:  # forty seconds for the whole answer
        monkeypatch.setenv("LINKEDIN_AUTH_BASE", server.url)
        get_settings.cache_clear()
        url, browser_state = begin(engine, world)
        started = time.monotonic()
        with pytest.raises(ConnectRefused, match="could not be reached"):
            finish(engine, {"state": _state_of(url), "code": "the-code"}, browser_state)
        assert time.monotonic() - started < 15


def test_in_production_a_mastodon_token_exchange_with_a_private_address_is_refused_unsent(
    engine, world, platform, monkeypatch
):
    monkeypatch.setenv("OUTBOUND_ALLOW_PRIVATE_HOSTS", "false")
    get_settings.cache_clear()
    with hostile_server(trickle(TOKEN)) as server:
        instance = f"https://localhost:{server.port}"
        with Session(engine) as session:  # registered earlier, when the name still looked public
            session.add(
                PlatformApp(
                    platform=Platform.MASTODON,
                    instance_url=instance,
                    redirect_uri=callback("mastodon"),
                    client_id="pf-client",
                    client_secret_enc=token_crypto.encrypt("pf-secret"),
                )
            )
            session.commit()
        url, browser_state = begin(engine, world, "mastodon", instance_url=instance)
        with pytest.raises(ConnectRefused, match="private or local network"):
            finish(engine, {"state": _state_of(url), "code": "the-code"}, browser_state)
        assert server.connections == 0


def test_what_the_platform_says_in_a_refusal_is_shown_short_and_plain(engine, world, platform):
    url, browser_state = begin(engine, world)
    description = "<script>alert(1)</script>\x1b[2J\u202eBad things" + " happened" * 100
    back = {"state": _state_of(url), "error": "server_error", "error_description": description}
    with pytest.raises(ConnectRefused) as refusal:
        finish(engine, back, browser_state)
    message = refusal.value.message
    assert not any(c in message for c in "<>\x1b\u202e")
    assert "alert(1) [2J Bad things happened" in message
    assert len(message) < 300


def test_a_pds_typed_without_a_scheme_is_https_and_one_that_answers_nothing_is_named_beside_its_field(
    engine, world, bluesky
):
    assert connect.normalize_service_url("bsky.social") == "https://bsky.social"
    assert connect.normalize_service_url(" PDS.example.com:2583 ") == "https://pds.example.com:2583"
    real_bluesky = {Platform.BLUESKY: "postforge.platforms.bluesky:BlueskyAdapter"}
    with use_adapters(real_bluesky), Session(engine) as session, pytest.raises(ConnectRefused) as refusal:
        connect.connect_bluesky(
            session,
            user_id=world.editor,
            workspace_id=world.workspace,
            identifier="ada.bsky.social",
            app_password="my main password",
            service_url="pds.example.invalid",
        )
    assert refusal.value.field == "service_url"
    assert refusal.value.message.startswith("pds.example.invalid does not answer as a Bluesky server")
    assert "try again" not in refusal.value.message and "app password" not in refusal.value.message

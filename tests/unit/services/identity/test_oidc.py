"""OIDC / OAuth sign-in: real round trips through the callback route against a local fake provider.

The PostForge routes run in-process (httpx ASGI transport); authlib talks real HTTP to the fake
provider served by uvicorn on 127.0.0.1. Each refusal must be a clear HTML page with status 400
that creates nothing.
"""

import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from starlette.applications import Starlette

from postforge.api.oauth import OAuthRouteConfig, oauth_routes, state_cookie_name
from postforge.models import (
    AuthIdentity,
    CreditTransaction,
    OAuthAttempt,
    User,
    UserSession,
    Workspace,
    utcnow,
)
from postforge.services.identity import accounts_auth, oidc
from postforge.services.identity.accounts_auth import resolve_session
from postforge.services.identity.oidc import (
    configured_providers,
    exchange_handoff,
    generic_oidc_provider,
    github_provider,
    providers_from_settings,
    safe_next_path,
)
from postforge.services.kernel.errors import ValidationFailed
from tests.fakes.hostile import MiB, endless, hostile_server, trickle
from tests.fakes.oidc_provider import FakeOIDCProvider, FakeUser
from tests.fakes.server import serve
from tests.support.factories import make_user

API_URL = "http://testserver"
APP_URL = "http://app.test"


@pytest.fixture
def fake() -> FakeOIDCProvider:
    return FakeOIDCProvider(client_id="postforge", client_secret="s3cret-for-tests")


@pytest.fixture
def issuer(fake: FakeOIDCProvider) -> Iterator[str]:
    oidc._metadata_cache.clear()
    with serve(fake.app) as base_url:
        yield base_url
    oidc._metadata_cache.clear()


@pytest.fixture
def route_config(sqlite_engine: Engine, fake: FakeOIDCProvider, issuer: str) -> OAuthRouteConfig:
    credentials = {"client_id": fake.client_id, "client_secret": fake.client_secret}
    providers = {
        "oidc": generic_oidc_provider(issuer=issuer, **credentials),
        "github": github_provider(web_base=issuer, api_base=f"{issuer}/api", **credentials),
    }
    return OAuthRouteConfig(providers=providers, api_url=API_URL, app_url=APP_URL, source=sqlite_engine)


@pytest.fixture
async def browser(route_config: OAuthRouteConfig) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=oauth_routes(lambda: route_config))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=API_URL) as client:
        yield client


async def to_provider_and_back(
    browser: httpx.AsyncClient, provider: str = "oidc", next_path: str = "/posts"
) -> str:
    """Start a sign-in and let the fake provider approve it; returns the callback URL it redirects to."""
    start = await browser.get(f"/api/auth/oidc/{provider}/start", params={"next": next_path})
    assert start.status_code == 303, start.text
    async with httpx.AsyncClient() as network:
        approval = await network.get(start.headers["location"])
    assert approval.status_code == 302, approval.text
    return approval.headers["location"]


def handoff_code(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    target = urlsplit(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{APP_URL}/auth/complete"
    return parse_qs(target.query)["code"][0]


def next_path(response: httpx.Response) -> str:
    return parse_qs(urlsplit(response.headers["location"]).query)["next"][0]


def redeem(engine: Engine, code: str) -> str:
    """What the /auth/complete page does: trade the code for a session token."""
    with Session(engine, expire_on_commit=False) as session:
        token = exchange_handoff(session, code, user_agent="test-browser", ip="127.0.0.1")
        session.commit()
    return token


def user_id_of(engine: Engine, token: str) -> int:
    with Session(engine) as session:
        context = resolve_session(session, token)
    assert context is not None
    return context.user_id


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            model.__tablename__: session.exec(select(func.count()).select_from(model)).one()
            for model in (User, Workspace, CreditTransaction, AuthIdentity, UserSession)
        }


def assert_refused(response: httpx.Response, message: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "Sign-in failed" in response.text and message in response.text
    assert "Traceback" not in response.text
    assert f'href="{APP_URL}/sign-in"' in response.text


NOTHING = {"users": 0, "workspaces": 0, "credit_transactions": 0, "auth_identities": 0, "sessions": 0}


# --- the happy paths -------------------------------------------------------------------------------


async def test_a_full_oidc_round_trip_signs_a_new_user_in(browser, fake, sqlite_engine, issuer):
    callback_url = await to_provider_and_back(browser, next_path="/posts?page=2")
    callback = await browser.get(callback_url)
    code = handoff_code(callback)

    # Discovery, PKCE S256, state and nonce went to the provider; the verifier came back on /token.
    authorize = fake.authorize_requests[0]
    assert authorize["code_challenge_method"] == "S256" and authorize["code_challenge"]
    assert authorize["nonce"] and authorize["state"] and authorize["scope"] == "openid email profile"
    assert authorize["redirect_uri"] == f"{API_URL}/api/auth/oidc/oidc/callback"
    assert fake.token_requests[0]["code_verifier"]
    # The state cookie is gone once used.
    assert state_cookie_name(authorize["state"]) not in browser.cookies
    assert counts(sqlite_engine) == {
        **NOTHING,
        "users": 1,
        "workspaces": 1,
        "credit_transactions": 1,
        "auth_identities": 1,
    }

    token = redeem(sqlite_engine, code)

    assert next_path(callback) == "/posts?page=2"
    with Session(sqlite_engine) as session:
        context = resolve_session(session, token)
        workspace = session.exec(select(Workspace)).one()
        identity = session.exec(select(AuthIdentity)).one()
        stored = session.exec(select(UserSession)).one()
    assert context is not None and context.email == "ada@example.com" and context.name == "Ada Lovelace"
    assert (identity.provider, identity.issuer, identity.subject) == ("oidc", issuer, "fake-user-1")
    assert workspace.credits == 10
    assert stored.user_agent == "test-browser" and stored.token_hash != token


async def test_the_handoff_code_works_once(browser, sqlite_engine):
    code = handoff_code(await browser.get(await to_provider_and_back(browser)))
    redeem(sqlite_engine, code)

    with pytest.raises(ValidationFailed, match="expired or was already used"):
        redeem(sqlite_engine, code)
    with pytest.raises(ValidationFailed, match="expired or was already used"):
        redeem(sqlite_engine, "made-up-code")
    assert counts(sqlite_engine)["sessions"] == 1


async def test_an_expired_handoff_code_is_refused(browser, sqlite_engine):
    code = handoff_code(await browser.get(await to_provider_and_back(browser)))
    with Session(sqlite_engine) as session:
        handoff = session.exec(select(OAuthAttempt).where(OAuthAttempt.purpose == "handoff")).one()
        handoff.expires_at = utcnow() - timedelta(seconds=1)
        session.add(handoff)
        session.commit()

    with pytest.raises(ValidationFailed, match="expired"):
        redeem(sqlite_engine, code)
    assert counts(sqlite_engine)["sessions"] == 0


async def test_signing_in_twice_is_the_same_user(browser, sqlite_engine):
    first = redeem(sqlite_engine, handoff_code(await browser.get(await to_provider_and_back(browser))))
    second = redeem(sqlite_engine, handoff_code(await browser.get(await to_provider_and_back(browser))))

    assert user_id_of(sqlite_engine, first) == user_id_of(sqlite_engine, second) and first != second
    assert counts(sqlite_engine) == {
        **NOTHING,
        "users": 1,
        "workspaces": 1,
        "credit_transactions": 1,
        "auth_identities": 1,
        "sessions": 2,
    }


async def test_a_verified_email_signs_into_the_existing_account(browser, sqlite_engine):
    with Session(sqlite_engine, expire_on_commit=False) as session:
        existing = make_user(session, email="ada@example.com")
        session.commit()

    token = redeem(sqlite_engine, handoff_code(await browser.get(await to_provider_and_back(browser))))

    assert user_id_of(sqlite_engine, token) == existing.id
    assert counts(sqlite_engine)["users"] == 1 and counts(sqlite_engine)["auth_identities"] == 1


async def test_a_github_round_trip_uses_the_verified_primary_email(browser, fake, sqlite_engine, issuer):
    fake.user = FakeUser(github_id=777, login="grace", name="", email="grace@example.com")

    token = redeem(
        sqlite_engine, handoff_code(await browser.get(await to_provider_and_back(browser, "github")))
    )

    assert "nonce" not in fake.authorize_requests[0]  # plain OAuth 2: no id_token to carry one
    assert fake.authorize_requests[0]["code_challenge_method"] == "S256"
    assert fake.token_requests[0]["client_secret"] == fake.client_secret  # client_secret_post
    with Session(sqlite_engine) as session:
        user = session.get(User, user_id_of(sqlite_engine, token))
        identity = session.exec(select(AuthIdentity)).one()
    assert user.email == "grace@example.com" and user.name == "grace"
    assert (identity.provider, identity.issuer, identity.subject) == ("github", issuer, "777")


async def test_rotated_provider_keys_are_fetched_again(browser, fake, sqlite_engine):
    redeem(sqlite_engine, handoff_code(await browser.get(await to_provider_and_back(browser))))
    fake.rotate_keys()  # our cached key set no longer holds the signing key

    token = redeem(sqlite_engine, handoff_code(await browser.get(await to_provider_and_back(browser))))

    assert user_id_of(sqlite_engine, token)


async def test_an_sso_sign_in_takes_an_unverified_registration_away_from_its_registrant(
    browser, sqlite_engine
):
    """Someone registered ada@example.com with a password of their choosing and never verified it;
    then Ada signs in with a provider that vouches for the address."""
    with Session(sqlite_engine, expire_on_commit=False) as session:
        squatter = accounts_auth.register(
            session, email="ada@example.com", password="Squatters-pass-93", name="Not Ada"
        )
        squatters_browser = accounts_auth.create_session(session, squatter)
        session.commit()

    token = redeem(sqlite_engine, handoff_code(await browser.get(await to_provider_and_back(browser))))

    assert user_id_of(sqlite_engine, token) == squatter.id
    with Session(sqlite_engine) as session:
        assert resolve_session(session, squatters_browser) is None, "the registrant's session must end"
        with pytest.raises(ValidationFailed, match="incorrect"):
            accounts_auth.authenticate(session, email="ada@example.com", password="Squatters-pass-93")
        assert session.get(User, squatter.id).email_verified_at is not None


async def test_another_issuer_with_the_same_subject_does_not_reach_the_old_account(
    browser, route_config, sqlite_engine
):
    ada = user_id_of(
        sqlite_engine,
        redeem(sqlite_engine, handoff_code(await browser.get(await to_provider_and_back(browser)))),
    )
    # The operator points OIDC_ISSUER at another provider, whose user happens to have the same `sub`.
    other = FakeOIDCProvider(client_id="postforge", client_secret="s3cret-for-tests")
    other.user = FakeUser(sub="fake-user-1", email="mallory@example.net", name="Mallory")
    with serve(other.app) as other_issuer:
        credentials = {"client_id": other.client_id, "client_secret": other.client_secret}
        moved = OAuthRouteConfig(
            providers={"oidc": generic_oidc_provider(issuer=other_issuer, **credentials)},
            api_url=API_URL,
            app_url=APP_URL,
            source=sqlite_engine,
        )
        app = Starlette(routes=oauth_routes(lambda: moved))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=API_URL) as client:
            mallory = user_id_of(
                sqlite_engine,
                redeem(sqlite_engine, handoff_code(await client.get(await to_provider_and_back(client)))),
            )

    assert mallory != ada
    with Session(sqlite_engine) as session:
        assert session.get(User, mallory).email == "mallory@example.net"
        issuers = {(i.issuer, i.subject) for i in session.exec(select(AuthIdentity)).all()}
    assert issuers == {(route_config.providers["oidc"].issuer, "fake-user-1"), (other_issuer, "fake-user-1")}


# --- refusals ----------------------------------------------------------------------------------------


async def test_a_mismatched_state_is_refused(browser, sqlite_engine):
    callback_url = await to_provider_and_back(browser)
    parts = urlsplit(callback_url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    tampered = f"{parts.path}?{urlencode({**query, 'state': query['state'][:-2] + 'xx'})}"

    assert_refused(await browser.get(tampered), "state mismatch")
    assert counts(sqlite_engine) == NOTHING


async def test_a_callback_in_another_browser_is_refused(browser, route_config, sqlite_engine):
    """Login CSRF: a callback URL sent to a victim must not sign the victim in."""
    callback_url = await to_provider_and_back(browser)
    app = Starlette(routes=oauth_routes(lambda: route_config))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=API_URL) as victim:
        assert_refused(await victim.get(callback_url), "did not start in this browser")
    assert counts(sqlite_engine) == NOTHING


async def test_a_replayed_state_is_refused(browser, sqlite_engine):
    callback_url = await to_provider_and_back(browser)
    state = parse_qs(urlsplit(callback_url).query)["state"][0]
    handoff_code(await browser.get(callback_url))
    before = counts(sqlite_engine)
    # The attacker replays the whole callback, cookie included.
    replay = await browser.get(callback_url, headers={"Cookie": f"{state_cookie_name(state)}={state}"})

    assert_refused(replay, "already used")
    assert counts(sqlite_engine) == before


async def test_a_replayed_code_is_refused(browser, fake, sqlite_engine):
    first = await to_provider_and_back(browser)
    used_code = parse_qs(urlsplit(first).query)["code"][0]
    handoff_code(await browser.get(first))
    before = counts(sqlite_engine)

    # A fresh attempt (valid state and cookie) carrying the code that was already exchanged.
    second = urlsplit(await to_provider_and_back(browser))
    fresh_state = parse_qs(second.query)["state"][0]
    replay = f"{second.path}?{urlencode({'code': used_code, 'state': fresh_state})}"

    assert_refused(await browser.get(replay), "refused the sign-in code (invalid_grant)")
    assert counts(sqlite_engine) == before


async def test_an_expired_attempt_is_refused(browser, sqlite_engine):
    callback_url = await to_provider_and_back(browser)
    with Session(sqlite_engine) as session:
        attempt = session.exec(select(OAuthAttempt)).one()
        attempt.expires_at = utcnow() - timedelta(seconds=1)
        session.add(attempt)
        session.commit()

    assert_refused(await browser.get(callback_url), "expired")
    assert counts(sqlite_engine) == NOTHING


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("expired_id_token", "has expired"),
        ("wrong_signing_key", "bad signature"),
        ("wrong_nonce", "nonce mismatch"),
    ],
)
async def test_a_bad_id_token_is_refused(browser, fake, sqlite_engine, fault, message):
    setattr(fake.faults, fault, True)

    assert_refused(await browser.get(await to_provider_and_back(browser)), message)
    assert counts(sqlite_engine) == NOTHING


async def test_an_unverified_email_is_not_linked_to_an_existing_account(browser, fake, sqlite_engine):
    with Session(sqlite_engine) as session:
        make_user(session, email="ada@example.com")
        session.commit()
    fake.user = FakeUser(email_verified=False)
    before = counts(sqlite_engine)

    assert_refused(await browser.get(await to_provider_and_back(browser)), "is not verified")
    assert counts(sqlite_engine) == before
    with Session(sqlite_engine) as session:
        assert session.exec(select(OAuthAttempt).where(OAuthAttempt.purpose == "handoff")).first() is None


async def test_a_disabled_account_is_not_signed_in(browser, sqlite_engine):
    with Session(sqlite_engine) as session:
        make_user(session, email="ada@example.com", is_active=False)
        session.commit()

    assert_refused(await browser.get(await to_provider_and_back(browser)), "account is disabled")
    with Session(sqlite_engine) as session:
        assert session.exec(select(OAuthAttempt).where(OAuthAttempt.purpose == "handoff")).first() is None
    assert counts(sqlite_engine)["sessions"] == 0


async def test_a_suspended_account_is_told_so_and_not_signed_in(browser, sqlite_engine):
    with Session(sqlite_engine) as session:
        make_user(session, email="ada@example.com", is_active=False, suspended_at=utcnow())
        session.commit()

    assert_refused(await browser.get(await to_provider_and_back(browser)), "account is suspended")
    assert counts(sqlite_engine)["sessions"] == 0


async def test_a_github_account_without_a_verified_primary_email_is_refused(browser, fake, sqlite_engine):
    fake.user = FakeUser(email_verified=False)

    assert_refused(await browser.get(await to_provider_and_back(browser, "github")), "is not verified")
    assert counts(sqlite_engine) == NOTHING


async def test_a_denied_consent_shows_the_reason_plain(browser, sqlite_engine):
    callback_url = await to_provider_and_back(browser)
    state = parse_qs(urlsplit(callback_url).query)["state"][0]
    denied = f"/api/auth/oidc/oidc/callback?{urlencode({'state': state, 'error': '<script>x</script>'})}"

    response = await browser.get(denied)

    assert_refused(response, "did not sign you in")
    # The provider's words arrive plain: markup stripped before the page (which escapes anyway).
    assert "<script>" not in response.text and "&lt;script" not in response.text
    assert "did not sign you in (x)" in response.text
    assert counts(sqlite_engine) == NOTHING


async def test_an_unknown_provider_is_a_404_page(browser):
    assert_refused(await browser.get("/api/auth/oidc/nope/start"), "not available", status=404)
    assert_refused(
        await browser.get("/api/auth/oidc/nope/callback?state=x&code=y"), "not available", status=404
    )


async def test_an_unreachable_provider_is_a_502_page(sqlite_engine):
    with serve(Starlette()) as base_url:
        pass  # the port is free again: nothing listens there now
    config = OAuthRouteConfig(
        providers={"oidc": generic_oidc_provider(issuer=base_url, client_id="c", client_secret="s")},
        api_url=API_URL,
        app_url=APP_URL,
        source=sqlite_engine,
    )
    app = Starlette(routes=oauth_routes(lambda: config))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=API_URL) as client:
        assert_refused(await client.get("/api/auth/oidc/oidc/start"), "could not be reached", status=502)
    with Session(sqlite_engine) as session:
        assert session.exec(select(OAuthAttempt)).first() is None


async def test_a_discovery_document_for_another_issuer_is_refused(sqlite_engine, fake, issuer):
    fake.faults.foreign_issuer = True
    provider = generic_oidc_provider(issuer=issuer, client_id="c", client_secret="s")
    with pytest.raises(oidc.ProviderUnavailable, match="does not match its issuer"):
        await oidc.begin_sign_in(sqlite_engine, provider, redirect_uri=f"{API_URL}/cb")


# --- small rules -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ("/posts?page=2", "/posts?page=2"),
        ("/calendar", "/calendar"),
        ("", "/dashboard"),
        ("//evil.example/x", "/dashboard"),
        ("https://evil.example/", "/dashboard"),
        ("/\\evil.example", "/dashboard"),
        ("javascript:alert(1)", "/dashboard"),
        ("posts", "/dashboard"),
    ],
)
def test_only_paths_on_this_site_are_returned_to(asked, expected):
    assert safe_next_path(asked) == expected


def test_configured_providers_come_from_settings():
    settings = SimpleNamespace(
        oidc_issuer="https://id.example.com/",
        oidc_client_id="pf",
        oidc_client_secret="x",
        oidc_label="Company SSO",
        google_client_id="g-id",
        google_client_secret="g-secret",
        github_client_id="",
        github_client_secret="",
        github_web_base="https://github.com",
        github_api_base="https://api.github.com",
    )

    providers = providers_from_settings(settings)

    assert [p.name for p in configured_providers(settings)] == list(providers) == ["oidc", "google"]
    assert providers["oidc"].issuer == "https://id.example.com" and providers["oidc"].label == "Company SSO"
    assert providers["google"].issuer == "https://accounts.google.com"


@pytest.mark.parametrize(
    "make",
    [
        lambda: generic_oidc_provider(issuer="", client_id="c", client_secret="s"),
        lambda: github_provider(client_id="", client_secret="s"),
    ],
)
def test_an_incomplete_provider_configuration_is_refused(make):
    with pytest.raises(ValueError, match="needs"):
        make()


# --- the outbound policy ------------------------------------------------------------------------------

DISCOVERY = b'{"issuer": "https://elsewhere.example", "padding": "' + b"p" * 60 + b'"}'


async def test_a_provider_trickling_its_discovery_document_is_given_up_at_the_deadline(
    sqlite_engine, monkeypatch
):
    monkeypatch.setattr(oidc, "HTTP_TIMEOUT_SECONDS", 1.0)
    oidc._metadata_cache.clear()
    with hostile_server(trickle(DISCOVERY, interval=0.5)) as server:  # forty seconds in all
        provider = generic_oidc_provider(issuer=server.url, client_id="c", client_secret="s")
        started = time.monotonic()
        with pytest.raises(oidc.ProviderUnavailable, match="could not be reached"):
            await oidc.begin_sign_in(sqlite_engine, provider, redirect_uri=f"{API_URL}/cb")
        assert time.monotonic() - started < 15


async def test_an_endless_discovery_document_is_cut_off_at_the_size_cap(sqlite_engine, monkeypatch):
    oidc._metadata_cache.clear()
    with hostile_server(endless()) as server:
        provider = generic_oidc_provider(issuer=server.url, client_id="c", client_secret="s")
        with pytest.raises(oidc.ProviderUnavailable, match="could not be reached"):
            await oidc.begin_sign_in(sqlite_engine, provider, redirect_uri=f"{API_URL}/cb")
        assert server.bytes_sent < 20 * MiB

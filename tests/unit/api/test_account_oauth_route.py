"""The connect callback route: cookie-bound, one-time, and always a redirect to the accounts page."""

# ruff: noqa: F811 — the fixtures are imported from the service tests and used as arguments
from __future__ import annotations

from urllib.parse import urlsplit

from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from postforge import routes
from postforge.api.account_oauth import ConnectRouteConfig, account_oauth_routes
from postforge.models import AccountStatus, SocialAccount
from postforge.services.channels import account_connect as connect
from tests.unit.services.channels.test_account_connect import (  # noqa: F401 — fixtures
    APP_URL,
    authorize_at_platform,
    begin,
    platform,
    platform_server,
    world,
)


def client_for(engine) -> TestClient:
    app = Starlette(routes=account_oauth_routes(lambda: ConnectRouteConfig(app_url=APP_URL, engine=engine)))
    return TestClient(app, base_url=APP_URL, follow_redirects=False)


def test_the_callback_connects_the_account_and_sends_the_browser_to_its_result(engine, world, platform):
    url, browser_state = begin(engine, world)
    back = authorize_at_platform(url)
    browser = client_for(engine)
    browser.cookies.set(routes.CONNECT_COOKIE, browser_state, path=routes.CONNECT_COOKIE_PATH)

    response = browser.get("/api/accounts/connect/linkedin/callback", params=back)

    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == APP_URL and location.path == "/accounts"
    attempt_id = int(location.query.removeprefix("connect="))
    assert response.headers["cache-control"] == "no-store"
    assert f'{routes.CONNECT_COOKIE}=""' in response.headers["set-cookie"]  # the binding is spent
    with Session(engine) as session:
        row = session.exec(select(SocialAccount)).one()
        assert row.status == AccountStatus.CONNECTED
        outcome = connect.connect_outcome(
            session, user_id=world.editor, workspace_id=world.workspace, attempt_id=attempt_id
        )
    assert outcome.ok and outcome.account_ids == [row.id]

    replay = browser.get("/api/accounts/connect/linkedin/callback", params=back)
    assert replay.headers["location"] == APP_URL + "/accounts?connect=failed"


def test_without_the_cookie_or_with_a_refusal_the_page_gets_no_account_and_no_stack_trace(
    engine, world, platform
):
    url, browser_state = begin(engine, world)
    back = authorize_at_platform(url)
    stranger = client_for(engine)  # another browser: no cookie
    response = stranger.get("/api/accounts/connect/linkedin/callback", params=back)
    assert response.status_code == 303
    assert response.headers["location"] == APP_URL + "/accounts?connect=failed"

    browser = client_for(engine)
    browser.cookies.set(routes.CONNECT_COOKIE, browser_state, path=routes.CONNECT_COOKIE_PATH)
    denied = browser.get(
        "/api/accounts/connect/linkedin/callback",
        params={
            "state": back["state"],
            "error": "access_denied",
            "error_description": "Cancelled by the member",
        },
    )
    location = urlsplit(denied.headers["location"])
    attempt_id = int(location.query.removeprefix("connect="))
    with Session(engine) as session:
        outcome = connect.connect_outcome(
            session, user_id=world.editor, workspace_id=world.workspace, attempt_id=attempt_id
        )
        assert session.exec(select(SocialAccount)).all() == []
    assert not outcome.ok and "Cancelled by the member" in outcome.message

    junk = browser.get("/api/accounts/connect/nonsense/callback", params={"state": "x", "code": "y"})
    assert junk.status_code == 303 and junk.headers["location"].endswith("/accounts?connect=failed")

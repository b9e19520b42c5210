"""Helpers for platform adapter tests: one fake server per module with a fresh fake per test, and
the OAuth authorization-code dance an adapter's `OAuthClientConfig` describes, run with authlib
the way a web app runs it (authorize → redirect with code + state → token exchange)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client

from postforge.platforms.base import OAuthClientConfig

REDIRECT_URI = "https://postforge.example/accounts/oauth/callback"


class SwappableApp:
    """An ASGI app that forwards to `.app`, so one server can front a new fake in every test."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def authorize(
    config: OAuthClientConfig, *, redirect_uri: str = REDIRECT_URI
) -> tuple[OAuth2Client, str, str, str]:
    """Open the authorize URL as the user's browser would: (client, state, verifier, callback URL)."""
    client = OAuth2Client(
        client_id=config.client_id,
        client_secret=config.client_secret or None,
        scope=config.scope_separator.join(config.scopes),
        redirect_uri=redirect_uri,
        token_endpoint_auth_method=config.token_endpoint_auth_method,
        code_challenge_method="S256" if config.pkce else None,
    )
    verifier = generate_token(48) if config.pkce else ""
    url, state = client.create_authorization_url(
        config.authorize_url, code_verifier=verifier or None, **dict(config.extra_authorize_params)
    )
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    callback = answer.headers["location"]
    assert parse_qs(urlsplit(callback).query)["state"] == [state]
    return client, state, verifier, callback


def connect(config: OAuthClientConfig, *, redirect_uri: str = REDIRECT_URI) -> dict[str, Any]:
    """The whole dance; returns authlib's token dict (what the connect service hands the adapter)."""
    client, _state, verifier, callback = authorize(config, redirect_uri=redirect_uri)
    with client:
        token = client.fetch_token(
            config.token_url,
            authorization_response=callback,
            code_verifier=verifier or None,
            **dict(config.extra_token_params),
        )
    return dict(token)

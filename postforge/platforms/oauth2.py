"""The OAuth 2 steps the standard-dialect platforms share around the authorization-code flow
authlib runs (X, LinkedIn, YouTube; TikTok for its token answers).

Not an adapter, and not every OAuth platform: Mastodon registers PostForge per instance and keeps
its tokens for good, the Meta platforms trade tokens at their Graph endpoints (`meta_graph`), and
TikTok refreshes in its own dialect. For the standard dialect these functions hold what is the
same: reading a token endpoint's answer, reading the member's profile with a new token, and
renewing access with the refresh-token grant. Each adapter still says where its endpoints are, how
its client authenticates and how its error answers read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from postforge.platforms.base import (
    ConnectFailed,
    RefreshRevoked,
    RefreshUnavailable,
    TokenSet,
    bearer,
    error_message,
    json_object,
    send,
)


def token_set(token: Mapping[str, Any], *, scopes: str | None = None) -> TokenSet:
    """A token endpoint's answer (or authlib's token dict) as a TokenSet; `scopes`, when given,
    stands for the answer's `scope` (a platform that writes it differently normalises it first)."""
    return TokenSet(
        access_token=str(token["access_token"]),
        refresh_token=str(token["refresh_token"]) if token.get("refresh_token") else None,
        expires_at=expires_at(token),
        scopes=str(token.get("scope") or "") if scopes is None else scopes,
    )


def expires_at(token: Mapping[str, Any]) -> datetime | None:
    if token.get("expires_at"):  # authlib computes it when it fetched the token
        return datetime.fromtimestamp(float(token["expires_at"]), UTC)
    if token.get("expires_in"):
        return datetime.fromtimestamp(time.time() + float(token["expires_in"]), UTC)
    return None


def granted_access_token(token: Mapping[str, Any], label: str) -> Any:
    """The access token a finished authorization brought; ConnectFailed when it brought none."""
    access_token = token.get("access_token")
    if not access_token:
        raise ConnectFailed(f"{label} sent no access token; try connecting again.")
    return access_token


def read_profile(
    client: httpx.Client,
    url: str,
    access_token: str,
    *,
    label: str,
    describe: Callable[[httpx.Response], str] = error_message,
    **request: Any,
) -> dict[str, Any]:
    """GET the member's profile with the new token: the answer's JSON object, or ConnectFailed
    saying why not (`describe` reads the platform's error answers)."""
    response = send(client, "GET", url, headers=bearer(access_token), **request)
    if not isinstance(response, httpx.Response):
        raise ConnectFailed(f"Could not reach {label} to read your profile: {response.error}")
    if response.status_code != 200:
        raise ConnectFailed(
            f"{label} did not share your profile: {describe(response)}", http_status=response.status_code
        )
    return json_object(response)


def refresh_grant(
    client: httpx.Client,
    url: str,
    refresh_token: str,
    *,
    label: str,
    client_id: str,
    client_secret: str = "",
    describe: Callable[[httpx.Response], str] = error_message,
    **request: Any,
) -> dict[str, Any]:
    """POST the refresh-token grant; the token endpoint's answer, which carries an access token.

    `client_secret` goes in the form only when given (a client that authenticates with HTTP Basic
    passes `auth=` instead); `describe` reads a refusal. RefreshUnavailable when the platform can't be reached, is busy or
    answers without a token: the stored tokens stay as they are. RefreshRevoked when it refuses
    the refresh token: only a reconnect helps.
    """
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    if client_secret:
        data["client_secret"] = client_secret
    response = send(client, "POST", url, data=data, **request)
    if not isinstance(response, httpx.Response):
        raise RefreshUnavailable(f"Could not reach {label} to renew access: {response.error}")
    if response.status_code == 429 or response.status_code >= 500:
        raise RefreshUnavailable(f"{label} could not renew access now ({response.status_code}).")
    if response.status_code != 200:
        raise RefreshRevoked(
            f"{label} refused to renew access: {describe(response)}. Reconnect the account.",
            http_status=response.status_code,
        )
    body = json_object(response)
    if not body.get("access_token"):
        raise RefreshUnavailable(f"{label}'s renewal answer carried no access token.")
    return body

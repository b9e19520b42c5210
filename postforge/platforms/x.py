"""X (Twitter): posts through API v2 (`POST /2/tweets`) with an OAuth 2 user token.

Connecting is OAuth 2 authorization code with PKCE (S256). An app with a client secret is a
confidential client (HTTP Basic at the token endpoint); without one it is a public client.
`offline.access` brings a refresh token.

What makes X different:

* **No idempotency key.** X refuses identical text with 403 "duplicate content" but does not say
  which post it duplicates. After an `Unknown` (the engine's needs_review) a person who posts
  again and meets that 403 has, almost certainly, the post already: we answer `Rejected` with a
  message that says so, never `Published` (we have no id to show) and never a retry.
* **Tokens** live 2 hours and refresh tokens rotate: each refresh returns a new refresh token
  and retires the old one, so the new one must be stored (the engine does, under a lock).
* **Rate limits** come as `x-rate-limit-*` (15-minute window) and `x-user-limit-24hour-*` /
  `x-app-limit-24hour-*` (daily caps) headers, resets in epoch seconds, no Retry-After.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from postforge.models.social import Platform
from postforge.platforms.base import (
    AccountCredentials,
    AccountProfile,
    AuthExpired,
    ConnectedAccount,
    ConnectFailed,
    OAuthClientConfig,
    Outcome,
    PlatformAdapter,
    PostMetricsSnapshot,
    Published,
    PublishRequest,
    RateLimited,
    RateLimitPolicy,
    RefreshRevoked,
    RefreshUnavailable,
    Rejected,
    TokenSet,
    Unknown,
    classify_http_error,
    error_message,
    send,
)
from postforge.platforms.rules import text_problems

SCOPES = ("tweet.read", "tweet.write", "users.read", "offline.access")
DUPLICATE_MESSAGE = (
    "X reports that an identical post already exists on this account, so this one was probably "
    "published already (X does not say which post it is). Check the account; to post it again, "
    "change the text."
)
# When a 429 names no reset at all: X's shortest window.
DEFAULT_WAIT = timedelta(minutes=15)
# Each (remaining, reset) header pair that can be the reason for a 429.
_LIMIT_HEADERS = (
    ("x-rate-limit-remaining", "x-rate-limit-reset"),
    ("x-user-limit-24hour-remaining", "x-user-limit-24hour-reset"),
    ("x-app-limit-24hour-remaining", "x-app-limit-24hour-reset"),
)


class XAdapter(PlatformAdapter):
    platform = Platform.X
    label = "X"
    idempotent = False
    connect_kind = "oauth"
    # X documents 100 post creations per 15 minutes per user (tiers vary; see the notes).
    rate_limit = RateLimitPolicy(capacity=100, per_seconds=900)
    refresh_margin = timedelta(minutes=5)

    # -- publishing -----------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Outcome:
        if request.media:
            return Rejected(
                "PostForge posts text only to X for now; remove the media or post it on X.", http_status=None
            )
        problems = text_problems(Platform.X, request.text)
        if problems:
            return Rejected("; ".join(problems), http_status=422)
        with self.http() as client:
            response = send(
                client,
                "POST",
                f"{self.settings.x_api_base}/2/tweets",
                json={"text": request.text},
                headers={"Authorization": f"Bearer {request.account.access_token}"},
            )
        if not isinstance(response, httpx.Response):
            return response
        return _publish_outcome(response, request.account.handle)

    def fetch_metrics(self, account: AccountCredentials, platform_post_id: str) -> PostMetricsSnapshot | None:
        """The post's `public_metrics`; None when X won't say now (or the post is gone)."""
        if not (platform_post_id.isascii() and platform_post_id.isdigit()):
            return None  # X ids are numbers; anything else could change the path
        with self.http() as client:
            response = send(
                client,
                "GET",
                f"{self.settings.x_api_base}/2/tweets/{platform_post_id}",
                params={"tweet.fields": "public_metrics"},
                headers={"Authorization": f"Bearer {account.access_token}"},
            )
        if not isinstance(response, httpx.Response) or response.status_code != 200:
            return None
        # A deleted or hidden post is still a 200, with only `errors` (Not Found Error) and no `data`.
        data = _json(response).get("data")
        counts = data.get("public_metrics") if isinstance(data, dict) else None
        if not isinstance(counts, dict):
            return None
        return PostMetricsSnapshot(
            impressions=_count(counts.get("impression_count")),
            likes=_count(counts.get("like_count")),
            comments=_count(counts.get("reply_count")),
            shares=_sum(_count(counts.get("retweet_count")), _count(counts.get("quote_count"))),
        )

    # -- tokens ---------------------------------------------------------------------------------

    def can_refresh(self, account: AccountCredentials) -> bool:
        return bool(account.refresh_token)

    def refresh(self, account: AccountCredentials) -> TokenSet:
        if not account.refresh_token:
            raise RefreshRevoked("X gave this account no refresh token; reconnect the account.")
        client_id = self.settings.x_client_id
        if not client_id:
            raise RefreshUnavailable(_NOT_CONFIGURED)
        with self.http() as client:
            response = send(
                client,
                "POST",
                self._token_url(),
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": account.refresh_token,
                    "client_id": client_id,
                },
                auth=self._client_auth(),
            )
        if not isinstance(response, httpx.Response):
            raise RefreshUnavailable(f"Could not reach X to renew access: {response.error}")
        if response.status_code == 429 or response.status_code >= 500:
            raise RefreshUnavailable(f"X could not renew access now ({response.status_code}).")
        if response.status_code != 200:
            raise RefreshRevoked(
                f"X refused to renew access: {error_message(response)}. Reconnect the account.",
                http_status=response.status_code,
            )
        body = _json(response)
        if not body.get("access_token"):
            raise RefreshUnavailable("X's renewal answer carried no access token.")
        return token_set(body)

    def _client_auth(self) -> httpx.BasicAuth | None:
        """Confidential clients authenticate with HTTP Basic; public ones only name their client_id."""
        if self.settings.x_client_secret:
            return httpx.BasicAuth(self.settings.x_client_id, self.settings.x_client_secret)
        return None

    # -- connecting -----------------------------------------------------------------------------

    def oauth_client(self, *, instance_url: str = "", redirect_uri: str = "") -> OAuthClientConfig:
        settings = self.settings
        if not settings.x_client_id:
            raise ConnectFailed(_NOT_CONFIGURED)
        return OAuthClientConfig(
            authorize_url=f"{settings.x_auth_base}/i/oauth2/authorize",
            token_url=self._token_url(),
            client_id=settings.x_client_id,
            client_secret=settings.x_client_secret,
            scopes=SCOPES,
            pkce=True,
            token_endpoint_auth_method="client_secret_basic" if settings.x_client_secret else "none",
        )

    def complete_oauth(self, token: Mapping[str, Any], *, instance_url: str = "") -> list[ConnectedAccount]:
        access_token = token.get("access_token")
        if not access_token:
            raise ConnectFailed("X sent no access token; try connecting again.")
        with self.http() as client:
            response = send(
                client,
                "GET",
                f"{self.settings.x_api_base}/2/users/me",
                params={"user.fields": "profile_image_url"},
                headers={"Authorization": f"Bearer {access_token}"},
            )
        if not isinstance(response, httpx.Response):
            raise ConnectFailed(f"Could not reach X to read your profile: {response.error}")
        if response.status_code != 200:
            raise ConnectFailed(
                f"X did not share your profile: {x_message(response)}", http_status=response.status_code
            )
        user = _json(response).get("data") or {}
        if not user.get("id") or not user.get("username"):
            raise ConnectFailed("X's profile answer did not say who you are; try connecting again.")
        profile = AccountProfile(
            platform_account_id=str(user["id"]),
            handle=f"@{user['username']}",
            display_name=str(user.get("name") or user["username"]),
            avatar_url=str(user.get("profile_image_url") or ""),
        )
        return [ConnectedAccount(profile=profile, tokens=token_set(token))]

    def _token_url(self) -> str:
        return f"{self.settings.x_api_base}/2/oauth2/token"


_NOT_CONFIGURED = "X is not configured: set X_CLIENT_ID (and X_CLIENT_SECRET for a confidential client)"


def _publish_outcome(response: httpx.Response, handle: str) -> Outcome:
    status = response.status_code
    if status == 201:
        post_id = str((_json(response).get("data") or {}).get("id") or "")
        if not post_id:  # created, but we cannot say which post it is: a person must look
            return Unknown("X accepted the post but did not say which post it made.", status)
        return Published(post_id, url=post_url(handle, post_id))
    message = x_message(response)
    if status == 429:
        return RateLimited(x_retry_at(response.headers), error=f"X's rate limit is reached: {message}")
    if status == 401:
        return AuthExpired(f"X no longer accepts this account's token: {message}", http_status=status)
    if status == 403 and "duplicate content" in message.lower():
        return Rejected(DUPLICATE_MESSAGE, http_status=status)
    return classify_http_error(response, message)


def post_url(handle: str, post_id: str) -> str:
    username = handle.lstrip("@")
    return f"https://x.com/{username}/status/{post_id}" if username else f"https://x.com/i/status/{post_id}"


def x_message(response: httpx.Response) -> str:
    """The most specific message in X's problem+json: a parameter error's `message` first, then
    `detail`, then `title` (a 400's detail is only "One or more parameters … was invalid")."""
    body = _json(response)
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict) and errors[0].get("message"):
        return str(errors[0]["message"])
    for key in ("detail", "title"):
        if body.get(key):
            return str(body[key])
    return error_message(response) or f"X answered {response.status_code}."


def x_retry_at(headers: Mapping[str, str], *, now: datetime | None = None) -> datetime:
    """When to try again after a 429: the latest reset among the limits that are used up (the
    15-minute window, the user's or the app's 24-hour cap); else the window's reset."""
    now = now or datetime.now(UTC)
    lowered = {key.lower(): value.strip() for key, value in headers.items()}
    exhausted = [
        _epoch(lowered.get(reset, "")) for remaining, reset in _LIMIT_HEADERS if lowered.get(remaining) == "0"
    ]
    resets = [moment for moment in exhausted if moment is not None]
    if not resets:
        window = _epoch(lowered.get("x-rate-limit-reset", ""))
        resets = [window] if window is not None else [now + DEFAULT_WAIT]
    return max(max(resets), now)


def _epoch(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _sum(*counts: int | None) -> int | None:
    """Reposts and quotes both spread a post; None only when X reported neither."""
    known = [count for count in counts if count is not None]
    return sum(known) if known else None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def token_set(token: Mapping[str, Any]) -> TokenSet:
    """A token endpoint's answer (or authlib's token dict) as a TokenSet."""
    return TokenSet(
        access_token=str(token["access_token"]),
        refresh_token=str(token["refresh_token"]) if token.get("refresh_token") else None,
        expires_at=_expires_at(token),
        scopes=str(token.get("scope") or ""),
    )


def _expires_at(token: Mapping[str, Any]) -> datetime | None:
    if token.get("expires_at"):  # authlib computes it when it fetched the token
        return datetime.fromtimestamp(float(token["expires_at"]), UTC)
    if token.get("expires_in"):
        return datetime.fromtimestamp(time.time() + float(token["expires_in"]), UTC)
    return None

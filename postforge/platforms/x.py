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
* **Media** go up first through the v2 media endpoints: `initialize` (type, size, category),
  `append` in segments of at most 4 MB, `finalize`; a video is then processed (`STATUS`:
  pending → in_progress → succeeded | failed) before a post may carry it. Alt text is set with
  `POST /2/media/metadata`. Each uploaded file's id is checkpointed once finalized (with its
  expiry), so a retry reuses it; the post then names the ids in `media.media_ids`.
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
from postforge.platforms import media_upload, oauth2
from postforge.platforms.base import (
    AccountCredentials,
    AccountProfile,
    AuthExpired,
    ConnectedAccount,
    ConnectFailed,
    MediaItem,
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
    Transient,
    Unknown,
    bearer,
    classify_http_error,
    error_message,
    json_object,
    metric_count,
    metric_sum,
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

    # Media uploads: segment size, and the bounded wait for a video's processing.
    chunk_bytes = media_upload.DEFAULT_CHUNK_BYTES
    media_polls = 30
    media_poll_interval = 5.0

    def publish(self, request: PublishRequest) -> Outcome:
        problems = text_problems(Platform.X, request.text, media_count=len(request.media))
        if problems:
            return Rejected("; ".join(problems), http_status=422)
        body: dict[str, Any] = {"text": request.text}
        with self.http() as client:
            if request.media:
                media_ids = self._upload_all(client, request)
                if not isinstance(media_ids, list):
                    return media_ids
                body["media"] = {"media_ids": media_ids}
            response = send(
                client,
                "POST",
                f"{self.settings.x_api_base}/2/tweets",
                json=body,
                headers=bearer(request.account.access_token),
            )
        if not isinstance(response, httpx.Response):
            return response
        return _publish_outcome(response, request.account.handle)

    # -- media ----------------------------------------------------------------------------------

    def _upload_all(self, client: httpx.Client, request: PublishRequest) -> list[str] | Outcome:
        """Every file's X media id, uploading only what no earlier attempt left usable."""
        progress = media_upload.Progress(request, budget=media_upload.wait_budget(self.settings))
        media_ids: list[str] = []
        for position, item in enumerate(request.media, start=1):
            try:
                media_id = self._uploaded(client, request.account.access_token, progress, item, position)
            except media_upload.MediaUnreadable as error:
                return media_upload.unreadable(error)
            if not isinstance(media_id, str):
                return media_upload.upload_outcome(media_id)
            media_ids.append(media_id)
        return media_ids

    def _uploaded(
        self,
        client: httpx.Client,
        token: str,
        progress: media_upload.Progress,
        item: MediaItem,
        position: int,
    ) -> str | Outcome:
        saved = progress.uploaded(item, position)
        if not (
            isinstance(saved, dict) and saved.get("id") and float(saved.get("expires_at") or 0) > time.time()
        ):
            saved = self._upload(client, token, item)
            if not isinstance(saved, dict):
                return saved
            progress.remember(item, position, saved)
        if not saved.get("ready"):
            ready = self._wait_until_processed(
                client, token, str(saved["id"]), saved.get("processing"), progress.deadline
            )
            if ready is not None:
                return ready
            saved = {**saved, "ready": True}
            progress.remember(item, position, saved)
        if item.alt_text and not saved.get("alt") and not item.mime_type.startswith("video/"):
            described = self._describe(client, token, str(saved["id"]), item.alt_text)
            if described is not None:
                return described
            progress.remember(item, position, {**saved, "alt": True})
        return str(saved["id"])

    def _upload(self, client: httpx.Client, token: str, item: MediaItem) -> dict[str, Any] | Outcome:
        """initialize → append segments → finalize; the finalized upload's id, expiry and
        processing state (what is checkpointed)."""
        base = f"{self.settings.x_api_base}/2/media/upload"
        started = _media_call(
            client,
            "POST",
            f"{base}/initialize",
            token,
            json={
                "media_type": item.mime_type,
                "total_bytes": item.size_bytes,
                "media_category": media_category(item.mime_type),
            },
        )
        if not isinstance(started, dict):
            return started
        media_id = str(started.get("id") or "")
        if not (media_id.isascii() and media_id.isdigit()):
            return Transient("X did not return the new upload's id.")
        for index, block in enumerate(media_upload.chunks(item, self.chunk_bytes)):
            appended = _media_call(
                client,
                "POST",
                f"{base}/{media_id}/append",
                token,
                data={"segment_index": str(index)},
                files={"media": ("blob", block, "application/octet-stream")},
            )
            if not isinstance(appended, dict):
                return appended
        finished = _media_call(client, "POST", f"{base}/{media_id}/finalize", token)
        if not isinstance(finished, dict):
            return finished
        processing = finished.get("processing_info")
        state = str(processing.get("state") or "") if isinstance(processing, dict) else ""
        expires_after = float(
            finished.get("expires_after_secs") or started.get("expires_after_secs") or 86400
        )
        return {
            "id": media_id,
            "expires_at": time.time() + expires_after,
            "ready": state in ("", "succeeded"),
            "processing": processing if isinstance(processing, dict) else None,
        }

    def _wait_until_processed(
        self, client: httpx.Client, token: str, media_id: str, processing: Any, deadline: float | None
    ) -> Outcome | None:
        """None once X processed the file; Rejected when processing failed; Transient when it
        is still going after the bounded wait (the saved upload is polled again next time)."""
        first_wait = processing.get("check_after_secs") if isinstance(processing, dict) else None

        def check() -> Outcome | bool | None:
            status = _media_call(
                client,
                "GET",
                f"{self.settings.x_api_base}/2/media/upload",
                token,
                params={"command": "STATUS", "media_id": media_id},
            )
            if not isinstance(status, dict):
                return status
            info = status.get("processing_info")
            state = str(info.get("state") or "") if isinstance(info, dict) else ""
            if state in ("", "succeeded"):
                return True
            if state == "failed":
                error = info.get("error") if isinstance(info.get("error"), dict) else {}
                detail = str(error.get("message") or error.get("name") or "the file could not be processed")
                return Rejected(f"X could not process the media: {detail}")
            return None

        if isinstance(first_wait, int | float) and first_wait > 0:
            time.sleep(min(float(first_wait), self.media_poll_interval))
        found = media_upload.wait_for(
            check, polls=self.media_polls, interval=self.media_poll_interval, deadline=deadline
        )
        if found is None:
            return media_upload.still_processing(self.label)
        return None if found is True else found

    def _describe(self, client: httpx.Client, token: str, media_id: str, alt_text: str) -> Outcome | None:
        answer = _media_call(
            client,
            "POST",
            f"{self.settings.x_api_base}/2/media/metadata",
            token,
            json={"id": media_id, "metadata": {"alt_text": {"text": alt_text}}},
        )
        return None if isinstance(answer, dict) else answer

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
                headers=bearer(account.access_token),
            )
        if not isinstance(response, httpx.Response) or response.status_code != 200:
            return None
        # A deleted or hidden post is still a 200, with only `errors` (Not Found Error) and no `data`.
        data = json_object(response).get("data")
        counts = data.get("public_metrics") if isinstance(data, dict) else None
        if not isinstance(counts, dict):
            return None
        return PostMetricsSnapshot(
            impressions=metric_count(counts.get("impression_count")),
            likes=metric_count(counts.get("like_count")),
            comments=metric_count(counts.get("reply_count")),
            shares=metric_sum(
                metric_count(counts.get("retweet_count")), metric_count(counts.get("quote_count"))
            ),
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
            answer = oauth2.refresh_grant(
                client,
                self._token_url(),
                account.refresh_token,
                label=self.label,
                client_id=client_id,
                auth=self._client_auth(),
            )
        return oauth2.token_set(answer)

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
        access_token = oauth2.granted_access_token(token, self.label)
        with self.http() as client:
            me = oauth2.read_profile(
                client,
                f"{self.settings.x_api_base}/2/users/me",
                access_token,
                label=self.label,
                describe=x_message,
                params={"user.fields": "profile_image_url"},
            )
        user = me.get("data") or {}
        if not user.get("id") or not user.get("username"):
            raise ConnectFailed("X's profile answer did not say who you are; try connecting again.")
        profile = AccountProfile(
            platform_account_id=str(user["id"]),
            handle=f"@{user['username']}",
            display_name=str(user.get("name") or user["username"]),
            avatar_url=str(user.get("profile_image_url") or ""),
        )
        return [ConnectedAccount(profile=profile, tokens=oauth2.token_set(token))]

    def _token_url(self) -> str:
        return f"{self.settings.x_api_base}/2/oauth2/token"


_NOT_CONFIGURED = "X is not configured: set X_CLIENT_ID (and X_CLIENT_SECRET for a confidential client)"


def media_category(mime_type: str) -> str:
    """X's category for a post's file (a DM category uploads fine and then fails the post)."""
    if mime_type.startswith("video/"):
        return "tweet_video"
    if mime_type == "image/gif":
        return "tweet_gif"
    return "tweet_image"


def _media_call(
    client: httpx.Client, method: str, url: str, token: str, **kwargs: Any
) -> dict[str, Any] | Outcome:
    """One media endpoint call: its `data` object, or the outcome of its failure."""
    response = send(client, method, url, headers=bearer(token), **kwargs)
    if not isinstance(response, httpx.Response):
        return response
    if response.status_code in (200, 201, 202, 204):
        data = json_object(response).get("data")
        return data if isinstance(data, dict) else {}
    message = x_message(response)
    if response.status_code == 429:
        return RateLimited(
            x_retry_at(response.headers), error=f"X's media upload limit is reached: {message}"
        )
    if response.status_code == 401:
        return AuthExpired(f"X no longer accepts this account's token: {message}", http_status=401)
    if response.status_code == 400:
        return Rejected(f"X refused the media: {message}", http_status=400)
    return classify_http_error(response, message)


def _publish_outcome(response: httpx.Response, handle: str) -> Outcome:
    status = response.status_code
    if status == 201:
        post_id = str((json_object(response).get("data") or {}).get("id") or "")
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
    body = json_object(response)
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

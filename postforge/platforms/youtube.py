"""YouTube: one video per post, uploaded with the Data API's resumable protocol (`videos.insert`).

Connecting is Google OAuth 2 (web application, PKCE, `access_type=offline` so Google sends a
refresh token) with `youtube.upload` and `youtube.readonly`; the account is the signed-in user's
channel (`channels.list?mine=true`).

Publishing:

1. **Initiate** `POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status` with the
   video resource (title = the post's first line, ≤ 100 characters; description = the whole text;
   privacy and made-for-kids from the destination's options) → the session URI in `Location`.
   It is checkpointed before a byte is sent.
2. **Upload** in chunks (multiples of 256 KiB) read from `MediaItem.open()`, each
   `PUT <session>` with `Content-Range: bytes a-b/total`. `308 Resume Incomplete` + `Range:
   bytes=0-N` confirms what YouTube holds; the offset is checkpointed after each chunk.
3. **Done**: 200/201 with the video resource; its id is checkpointed, then a bounded look at
   `processingDetails` turns a failed or rejected upload into `Rejected`.

After a crash or a cut connection the retry asks the saved session where it stands (an empty
`PUT` with `Content-Range: bytes */total`): 308 → continue from YouTube's offset; 200/201 → the
video exists, published. A video is created only when its last byte lands, and the session answers
for it afterwards, so a retry never uploads a second video (`idempotent`). An expired session
(404/410) before the last chunk was sent starts a new one; after it, a person must look.

Quota: `videos.insert` has its own daily bucket per Google project (100 uploads), reset at
midnight Pacific time; a `quotaExceeded` / `uploadLimitExceeded` 403 waits until then.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx

from postforge.models.social import Platform
from postforge.platforms import oauth2
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
    retry_at_from_headers,
    send,
    upload_budget,
)
from postforge.platforms.rules import text_problems, youtube_title
from postforge.platforms.video_rules import video_problems

SCOPES = (
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube.readonly",
)
WATCH_URL = "https://www.youtube.com/watch?v={id}"
CHUNK_UNIT = 256 * 1024  # YouTube takes chunks in multiples of 256 KiB (the last one excepted)
# 4 MiB: few requests, little lost when one fails, and each well inside PLATFORM_HTTP_TIMEOUT_SECONDS.
CHUNK_BYTES = 16 * CHUNK_UNIT
PRIVACY = ("private", "unlisted", "public")
PACIFIC = ZoneInfo("America/Los_Angeles")
# Reasons in a 403 that mean "not now" rather than "never".
_DAILY_QUOTA = {"quotaExceeded", "uploadLimitExceeded", "dailyLimitExceeded"}
_SHORT_LIMITS = {"rateLimitExceeded", "userRateLimitExceeded"}
_NOT_CONFIGURED = "YouTube is not configured: set YOUTUBE_CLIENT_ID and YOUTUBE_CLIENT_SECRET"


class YouTubeOptionsError(ValueError):
    """A destination option YouTube would refuse; the message says which and why."""


def video_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The destination's choices, checked, with safe defaults: private (nothing goes public
    unless the author says so), and made-for-kids only when the author declared it — left out,
    YouTube applies the channel's own setting."""
    privacy = str(options.get("privacy_status") or "private")
    if privacy not in PRIVACY:
        raise YouTubeOptionsError(f"YouTube privacy must be one of {', '.join(PRIVACY)}; got {privacy!r}.")
    made_for_kids = options.get("made_for_kids")
    if made_for_kids is not None and not isinstance(made_for_kids, bool):
        raise YouTubeOptionsError("YouTube's made-for-kids choice must be yes or no.")
    category = str(options.get("category_id") or "")
    if category and not category.isdigit():
        raise YouTubeOptionsError(f"A YouTube category is a number; got {category!r}.")
    tags = options.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise YouTubeOptionsError("YouTube tags must be a list of words.")
    return {
        "privacy_status": privacy,
        "made_for_kids": made_for_kids,
        "category_id": category,
        "tags": [tag.strip() for tag in tags if tag.strip()],
        "notify_subscribers": options.get("notify_subscribers") is not False,
    }


def video_resource(text: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The `videos.insert` body for a post's text and its checked options."""
    snippet: dict[str, Any] = {"title": youtube_title(text), "description": text}
    if options["category_id"]:
        snippet["categoryId"] = options["category_id"]
    if options["tags"]:
        snippet["tags"] = options["tags"]
    status: dict[str, Any] = {"privacyStatus": options["privacy_status"]}
    if options["made_for_kids"] is not None:
        status["selfDeclaredMadeForKids"] = options["made_for_kids"]
    return {"snippet": snippet, "status": status}


class YouTubeAdapter(PlatformAdapter):
    platform = Platform.YOUTUBE
    label = "YouTube"
    idempotent = True  # the saved upload session answers for the one video it makes
    connect_kind = "oauth"
    # The project's videos.insert bucket holds 100 a day for every channel together.
    rate_limit = RateLimitPolicy(capacity=10, per_seconds=86400)
    refresh_margin = timedelta(minutes=5)  # Google access tokens live an hour

    chunk_bytes = CHUNK_BYTES
    upload_budget_seconds: float | None = None  # None: half the publish lease (`upload_budget`)
    polls = 3  # processing reads after the upload …
    poll_interval = 2.0  # … and the pause between them (a bounded wait, never open-ended)

    # -- publishing -----------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Outcome:
        problems = text_problems(Platform.YOUTUBE, request.text, media_count=len(request.media))
        problems += video_problems(Platform.YOUTUBE, request.media)
        if problems:
            return Rejected("; ".join(dict.fromkeys(problems)), http_status=422)
        try:
            options = video_options(request.options)
        except YouTubeOptionsError as error:
            return Rejected(str(error))
        item = request.media[0]
        if item.open is None:
            return Rejected("The video's file is not available to upload; attach it again.")
        token = request.account.access_token
        with self.http() as client:
            upload = _Upload(self, client, request, item, token)
            return upload.run(options)

    # -- metrics --------------------------------------------------------------------------------

    def fetch_metrics(self, account: AccountCredentials, platform_post_id: str) -> PostMetricsSnapshot | None:
        """Views, likes and comments of a video (`videos.list?part=statistics`); views stand in
        for impressions. None when YouTube won't say now or the video is gone."""
        if not platform_post_id or not platform_post_id.replace("-", "").replace("_", "").isalnum():
            return None
        with self.http() as client:
            response = send(
                client,
                "GET",
                f"{self.settings.youtube_api_base}/youtube/v3/videos",
                params={"part": "statistics", "id": platform_post_id},
                headers=bearer(account.access_token),
            )
        if not isinstance(response, httpx.Response) or response.status_code != 200:
            return None
        items = json_object(response).get("items")
        if not isinstance(items, list) or not items or not isinstance(items[0], dict):
            return None
        statistics = items[0].get("statistics")
        if not isinstance(statistics, dict):
            return None
        return PostMetricsSnapshot(
            impressions=_count(statistics.get("viewCount")),
            likes=_count(statistics.get("likeCount")),
            comments=_count(statistics.get("commentCount")),
        )

    # -- tokens ---------------------------------------------------------------------------------

    def can_refresh(self, account: AccountCredentials) -> bool:
        return bool(account.refresh_token)

    def refresh(self, account: AccountCredentials) -> TokenSet:
        if not account.refresh_token:
            raise RefreshRevoked("Google sent no refresh token for this channel; reconnect the account.")
        settings = self.settings
        if not (settings.youtube_client_id and settings.youtube_client_secret):
            raise RefreshUnavailable(_NOT_CONFIGURED)
        with self.http() as client:
            # A refusal is invalid_grant: revoked, expired (unverified apps' tokens last 7 days) or
            # the password changed.
            answer = oauth2.refresh_grant(
                client,
                self._token_url(),
                account.refresh_token,
                label="Google",
                client_id=settings.youtube_client_id,
                client_secret=settings.youtube_client_secret,
                describe=_google_error,
                headers={"Accept": "application/json"},
            )
        return token_set(answer)

    # -- connecting -----------------------------------------------------------------------------

    def oauth_client(self, *, instance_url: str = "", redirect_uri: str = "") -> OAuthClientConfig:
        settings = self.settings
        if not (settings.youtube_client_id and settings.youtube_client_secret):
            raise ConnectFailed(_NOT_CONFIGURED)
        return OAuthClientConfig(
            authorize_url=f"{settings.youtube_auth_base}/o/oauth2/v2/auth",
            token_url=self._token_url(),
            client_id=settings.youtube_client_id,
            client_secret=settings.youtube_client_secret,
            scopes=SCOPES,
            pkce=True,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 — a method name
            # offline: a refresh token; consent: Google sends it again on a reconnect too.
            extra_authorize_params={
                "access_type": "offline",
                "prompt": "consent",
                "include_granted_scopes": "true",
            },
        )

    def complete_oauth(self, token: Mapping[str, Any], *, instance_url: str = "") -> list[ConnectedAccount]:
        access_token = oauth2.granted_access_token(token, "Google")
        with self.http() as client:
            response = send(
                client,
                "GET",
                f"{self.settings.youtube_api_base}/youtube/v3/channels",
                params={"part": "snippet", "mine": "true"},
                headers=bearer(str(access_token)),
            )
        if not isinstance(response, httpx.Response):
            raise ConnectFailed(f"Could not reach YouTube to read your channel: {response.error}")
        if response.status_code != 200:
            raise ConnectFailed(
                f"YouTube did not share your channel: {error_message(response) or response.status_code}",
                http_status=response.status_code,
            )
        items = json_object(response).get("items")
        channel = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else None
        if channel is None or not channel.get("id"):
            raise ConnectFailed(
                "This Google account has no YouTube channel yet: create one on YouTube, then connect again."
            )
        snippet = channel.get("snippet") if isinstance(channel.get("snippet"), dict) else {}
        title = str(snippet.get("title") or "")
        thumbnails = snippet.get("thumbnails") if isinstance(snippet.get("thumbnails"), dict) else {}
        default = thumbnails.get("default") if isinstance(thumbnails.get("default"), dict) else {}
        profile = AccountProfile(
            platform_account_id=str(channel["id"]),
            handle=str(snippet.get("customUrl") or title or channel["id"]),
            display_name=title,
            avatar_url=str(default.get("url") or ""),
        )
        return [ConnectedAccount(profile=profile, tokens=token_set(token))]

    def _token_url(self) -> str:
        return f"{self.settings.youtube_oauth_base}/token"


class _Upload:
    """One publish: resume or start the session, send the rest, check the finished video."""

    def __init__(
        self,
        adapter: YouTubeAdapter,
        client: httpx.Client,
        request: PublishRequest,
        item: MediaItem,
        token: str,
    ) -> None:
        self.adapter = adapter
        self.client = client
        self.request = request
        self.item = item
        self.token = token
        self.total = item.size_bytes
        self.state: dict[str, Any] = dict(request.state)

    def run(self, options: Mapping[str, Any]) -> Outcome:
        if self.state.get("video_id"):
            return self._check_processing(str(self.state["video_id"]))
        offset: int | None = None
        if self._saved_session():
            resumed = self._resume()
            if resumed is not None and not isinstance(resumed, int):
                return resumed
            offset = resumed  # None: the session is gone, start a new one
        if offset is None:
            started = self._initiate(options)
            if started is not None:
                return started
            offset = 0
        return self._send_from(offset)

    # -- the session ----------------------------------------------------------------------------

    def _saved_session(self) -> bool:
        return bool(
            self.state.get("upload_url")
            and self.state.get("media_id") == self.item.media_id
            and self.state.get("size") == self.total
        )

    def _initiate(self, options: Mapping[str, Any]) -> Outcome | None:
        api = self.adapter.settings.youtube_api_base
        response = send(
            self.client,
            "POST",
            f"{api}/upload/youtube/v3/videos",
            params={
                "uploadType": "resumable",
                "part": "snippet,status",
                "notifySubscribers": "true" if options["notify_subscribers"] else "false",
            },
            json=video_resource(self.request.text, options),
            headers={
                **bearer(self.token),
                "X-Upload-Content-Length": str(self.total),
                "X-Upload-Content-Type": self.item.mime_type,
            },
        )
        if not isinstance(response, httpx.Response):
            # No video exists before its bytes do: whatever happened, starting again is safe.
            return response if not isinstance(response, Unknown) else Transient(response.error)
        if response.status_code != 200:
            return _failure(response)
        location = response.headers.get("location", "")
        if not _same_origin(location, api):
            return Transient("YouTube did not return an upload address PostForge can use.")
        self.state = {"upload_url": location, "media_id": self.item.media_id, "size": self.total, "offset": 0}
        self.request.checkpoint(dict(self.state))
        return None

    def _resume(self) -> int | Outcome | None:
        """Where the saved session stands: an offset, the finished video's outcome, or None when
        the session is gone and a new one may be started."""
        response = send(
            self.client,
            "PUT",
            self.state["upload_url"],
            content=b"",
            headers={**bearer(self.token), "Content-Range": f"bytes */{self.total}"},
        )
        if not isinstance(response, httpx.Response):
            return _not_created(response)  # asking creates nothing
        if response.status_code == 308:
            return _confirmed(response)
        if response.status_code in (200, 201):
            return self._finished(response)
        if response.status_code in (404, 410):
            if self.state.get("last_chunk_sent"):
                return Unknown(
                    "YouTube's upload session expired after the last part of the video was sent: "
                    "check the channel for the video before posting it again."
                )
            self.state = {}
            self.request.checkpoint({})
            return None
        return _failure(response)

    def _send_from(self, offset: int) -> Outcome:
        stream = self.item.open() if self.item.open else None
        if stream is None:
            return Rejected("The video's file is not available to upload; attach it again.")
        stop_at = time.monotonic() + upload_budget(self.adapter.settings, self.adapter.upload_budget_seconds)
        started = offset
        with stream:
            _skip(stream, offset)
            while offset < self.total:
                if offset > started and time.monotonic() > stop_at:
                    return Transient(
                        f"Uploaded {offset * 100 // self.total}% of the video to YouTube; "
                        "the next try continues from there."
                    )
                size = min(self.adapter.chunk_bytes, self.total - offset)
                chunk = stream.read(size)
                if len(chunk) != size:
                    return Rejected("The video's file is shorter than its recorded size; attach it again.")
                last = offset + size == self.total
                if last and not self.state.get("last_chunk_sent"):
                    # From here the video may exist even if no answer arrives.
                    self.state["last_chunk_sent"] = True
                    self.request.checkpoint(dict(self.state))
                response = send(
                    self.client,
                    "PUT",
                    self.state["upload_url"],
                    content=chunk,
                    headers={
                        **bearer(self.token),
                        "Content-Type": self.item.mime_type,
                        "Content-Range": f"bytes {offset}-{offset + size - 1}/{self.total}",
                    },
                )
                if not isinstance(response, httpx.Response):
                    return response if last else _not_created(response)
                if response.status_code in (200, 201):
                    return self._finished(response)
                if response.status_code != 308:
                    if response.status_code in (404, 410) and not last:
                        self.request.checkpoint({})
                        return Transient(
                            "YouTube's upload session expired; the next try starts a new upload."
                        )
                    outcome = _failure(response)
                    return outcome if last else _not_created(outcome)
                confirmed = _confirmed(response)
                if confirmed <= offset and size:
                    return Transient("YouTube did not take the last part of the video; the next try resumes.")
                if confirmed != offset + size:
                    stream.seek(confirmed)  # YouTube kept less than was sent: go back to its offset
                offset = confirmed
                self.state["offset"] = offset
                self.request.checkpoint(dict(self.state))
        return Unknown("YouTube took every byte of the video but did not confirm it.")

    # -- the finished video ---------------------------------------------------------------------

    def _finished(self, response: httpx.Response) -> Outcome:
        video = json_object(response)
        video_id = str(video.get("id") or "")
        if not video_id:
            return Unknown("YouTube finished the upload but did not say which video it made.")
        self.state = {"video_id": video_id}
        self.request.checkpoint(dict(self.state))
        refused = _refusal(video)
        if refused:
            return Rejected(refused)
        return self._check_processing(video_id)

    def _check_processing(self, video_id: str) -> Outcome:
        """A bounded look at YouTube's processing: a failed or rejected video is Rejected; one
        still processing is published (it exists and has its address)."""
        adapter = self.adapter
        for poll in range(max(adapter.polls, 1)):
            response = send(
                self.client,
                "GET",
                f"{adapter.settings.youtube_api_base}/youtube/v3/videos",
                params={"part": "status,processingDetails", "id": video_id},
                headers=bearer(self.token),
            )
            if not isinstance(response, httpx.Response) or response.status_code != 200:
                break  # the upload succeeded; reading its progress is optional
            items = json_object(response).get("items")
            video = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
            refused = _refusal(video)
            if refused:
                return Rejected(refused)
            details = (
                video.get("processingDetails") if isinstance(video.get("processingDetails"), dict) else {}
            )
            if details.get("processingStatus") != "processing":
                break
            if poll + 1 < adapter.polls:
                time.sleep(adapter.poll_interval)
        return Published(video_id, url=WATCH_URL.format(id=video_id))


def _refusal(video: Mapping[str, Any]) -> str:
    """Why YouTube failed or rejected an uploaded video, or ""."""
    status = video.get("status") if isinstance(video.get("status"), dict) else {}
    details = video.get("processingDetails") if isinstance(video.get("processingDetails"), dict) else {}
    upload = status.get("uploadStatus")
    if upload == "rejected":
        return f"YouTube rejected the video ({status.get('rejectionReason') or 'no reason given'})."
    if upload == "failed" or details.get("processingStatus") == "failed":
        reason = status.get("failureReason") or details.get("processingFailureReason") or "no reason given"
        return f"YouTube could not process the video ({reason}); check the file and upload it again."
    return ""


def _failure(response: httpx.Response) -> Outcome:
    """YouTube's error answers: daily quota → wait for midnight Pacific; the rest as usual."""
    reasons = _reasons(response)
    message = error_message(response) or f"YouTube answered {response.status_code}."
    if reasons & _DAILY_QUOTA:
        return RateLimited(
            next_pacific_midnight(),
            error=f"YouTube's daily upload quota is used up: {message}",
            http_status=403,
        )
    if reasons & _SHORT_LIMITS or response.status_code == 429:
        return RateLimited(retry_at_from_headers(response.headers), error=f"YouTube: {message}")
    if response.status_code == 401:
        return AuthExpired(f"YouTube no longer accepts this account's token: {message}", http_status=401)
    if response.status_code == 403 and "youtubeSignupRequired" in reasons:
        return Rejected("This Google account has no YouTube channel; create one, then reconnect.", 403)
    return classify_http_error(response, f"YouTube: {message}")


def _not_created(outcome: Outcome) -> Outcome:
    """Before the last chunk no video exists: an unclear answer is only a pause in the upload."""
    if isinstance(outcome, Unknown):
        return Transient(f"{outcome.error} The next try resumes the upload.", outcome.http_status)
    return outcome


def _reasons(response: httpx.Response) -> set[str]:
    error = json_object(response).get("error")
    errors = error.get("errors") if isinstance(error, dict) else None
    if not isinstance(errors, list):
        return set()
    return {str(item.get("reason")) for item in errors if isinstance(item, dict) and item.get("reason")}


def _confirmed(response: httpx.Response) -> int:
    """The bytes YouTube holds, from a 308's `Range: bytes=0-N` (none yet without the header)."""
    value = response.headers.get("range", "")
    _, _, last = value.partition("-")
    return int(last) + 1 if last.strip().isdigit() else 0


def _skip(stream: BinaryIO, offset: int) -> None:
    if not offset:
        return
    try:
        stream.seek(offset)
    except (AttributeError, OSError, ValueError):  # not seekable: read past what YouTube has
        left = offset
        while left:
            chunk = stream.read(min(left, CHUNK_BYTES))
            if not chunk:
                break
            left -= len(chunk)


def _same_origin(url: str, base: str) -> bool:
    """The session URI must be on the API's own host: the token is sent there."""
    target, expected = urlsplit(url), urlsplit(base)
    return bool(url) and (target.scheme, target.netloc) == (expected.scheme, expected.netloc)


def next_pacific_midnight(now: datetime | None = None) -> datetime:
    """When YouTube's daily quotas reset: the next midnight in California."""
    local = (now or datetime.now(UTC)).astimezone(PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=PACIFIC)
    return midnight.astimezone(UTC)


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _google_error(response: httpx.Response) -> str:
    return error_message(response) or str(response.status_code)


def token_set(token: Mapping[str, Any]) -> TokenSet:
    """Google's token answer (or authlib's dict) as a TokenSet; no refresh token in a refresh
    answer means "keep the stored one"."""
    return oauth2.token_set(token, scopes=" ".join(str(token.get("scope") or "").split()))

"""TikTok: one video per post through the Content Posting API's direct post (`video.publish`).

Connecting is TikTok Login Kit (OAuth 2 authorization code; TikTok names the client
`client_key`) with `user.info.basic` and `video.publish`; access tokens live 24 hours and are
renewed with the refresh token (a year, and TikTok may send a new one).

Publishing:

1. **Creator info** `POST /v2/post/publish/creator_info/query/`: the privacy levels this creator
   may use, the longest video they may post, and whether comments, duets and stitches are off
   for them. The destination's options are checked against it (TikTok refuses a privacy level not
   offered: `privacy_level_option_mismatch`).
2. **Init** `POST /v2/post/publish/video/init/` with `post_info` (caption, privacy, interaction
   switches, the brand disclosures TikTok requires) and `source_info` FILE_UPLOAD with TikTok's
   chunk arithmetic → `publish_id` and `upload_url`, checkpointed at once.
3. **Upload** each chunk with `PUT upload_url` and `Content-Range: bytes a-b/total`, in order; the
   count of chunks done is checkpointed after each.
4. **Status** `POST /v2/post/publish/status/fetch/` until `PUBLISH_COMPLETE` or `FAILED`, a
   bounded wait; still processing → Transient, and the retry only asks again.

A retry with a saved `publish_id` never starts another post: it asks TikTok how far that one got
(`PROCESSING_UPLOAD` → send the remaining chunks; processing → wait; complete → published; failed
→ rejected). Only an upload link that expired before the last chunk (nothing can be posted from
it) starts over.

Defaults are the safe ones: private (`SELF_ONLY`, also the only level an unaudited app may use),
interactions as the creator has them, no brand disclosure. Branded content cannot be private
(TikTok's rule), so that combination is refused before anything is sent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO
from urllib.parse import urlsplit

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
    json_object,
    retry_at_from_headers,
    send,
    upload_budget,
)
from postforge.platforms.rules import text_problems
from postforge.platforms.video_rules import video_problems

SCOPES = ("user.info.basic", "video.publish")
MiB = 1024 * 1024
# TikTok's media transfer rules: chunks of 5-64 MB, the last one carrying the remainder (up to
# 128 MB); a file under 5 MB goes whole; at most 1000 chunks, sent in order. The smallest chunk
# keeps each request (at most two chunks' worth) well inside PLATFORM_HTTP_TIMEOUT_SECONDS.
MIN_CHUNK = 5 * MiB
MAX_CHUNK = 64 * MiB
CHUNK_BYTES = MIN_CHUNK
MAX_CHUNKS = 1000
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
DONE = ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX")
# Errors that mean "not now" (TikTok's own words, in `error.code`).
_LATER = {"rate_limit_exceeded", "spam_risk_too_many_posts", "spam_risk_too_many_pending_share"}
_AUTH = {"access_token_invalid", "access_token_expired", "token_expired"}
_NOT_CONFIGURED = "TikTok is not configured: set TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET"


class TikTokOptionsError(ValueError):
    """A destination option TikTok would refuse; the message says which and why."""


@dataclass(frozen=True)
class CreatorInfo:
    username: str
    nickname: str
    avatar_url: str
    privacy_levels: tuple[str, ...]
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool
    max_duration_seconds: float | None


def chunk_plan(size: int, chunk_bytes: int = CHUNK_BYTES) -> tuple[int, int]:
    """(chunk_size, total_chunk_count) as TikTok wants them: a file up to one chunk goes whole;
    a larger one in `chunk_bytes` chunks, the remainder riding on the last (the floor rule)."""
    if size <= chunk_bytes:
        return size, 1
    count = size // chunk_bytes
    if count > MAX_CHUNKS:
        chunk_bytes = -(-size // MAX_CHUNKS)
        count = size // chunk_bytes
    return chunk_bytes, count


def check_option_values(options: Mapping[str, Any]) -> tuple[str, dict[str, bool]]:
    """The privacy level and yes/no switches of a destination's options, with safe defaults;
    what TikTok refuses whoever posts. Raises TikTokOptionsError."""
    privacy = str(options.get("privacy_level") or "SELF_ONLY")
    if privacy not in PRIVACY_LEVELS:
        raise TikTokOptionsError(
            f"TikTok privacy must be one of {', '.join(PRIVACY_LEVELS)}; got {privacy!r}."
        )
    switches = {}
    for key in (
        "brand_content_toggle",
        "brand_organic_toggle",
        "is_aigc",
        "disable_comment",
        "disable_duet",
        "disable_stitch",
    ):
        value = options.get(key, False)
        if not isinstance(value, bool):
            raise TikTokOptionsError(f"TikTok's {key} must be yes or no.")
        switches[key] = value
    if switches["brand_content_toggle"] and privacy == "SELF_ONLY":
        raise TikTokOptionsError("TikTok doesn't allow branded content to be private: choose who can see it.")
    cover = options.get("video_cover_timestamp_ms")
    if cover is not None and (not isinstance(cover, int) or isinstance(cover, bool) or cover < 0):
        raise TikTokOptionsError("TikTok's cover frame is a time in milliseconds from the start.")
    return privacy, switches


def post_info(text: str, options: Mapping[str, Any], creator: CreatorInfo) -> dict[str, Any]:
    """`post_info` for the init call: the destination's options checked against what TikTok
    allows this creator, with safe defaults. Raises TikTokOptionsError."""
    privacy, switches = check_option_values(options)
    if creator.privacy_levels and privacy not in creator.privacy_levels:
        offered = ", ".join(creator.privacy_levels)
        raise TikTokOptionsError(
            f"TikTok doesn't let @{creator.username} post with privacy {privacy}; choose one of {offered}."
        )
    info: dict[str, Any] = {
        "title": text,
        "privacy_level": privacy,
        # A creator who turned an interaction off keeps it off; otherwise the author decides.
        "disable_comment": creator.comment_disabled or switches["disable_comment"],
        "disable_duet": creator.duet_disabled or switches["disable_duet"],
        "disable_stitch": creator.stitch_disabled or switches["disable_stitch"],
        "brand_content_toggle": switches["brand_content_toggle"],
        "brand_organic_toggle": switches["brand_organic_toggle"],
        "is_aigc": switches["is_aigc"],
    }
    cover = options.get("video_cover_timestamp_ms")
    if isinstance(cover, int) and not isinstance(cover, bool) and cover >= 0:
        info["video_cover_timestamp_ms"] = cover
    return info


class TikTokAdapter(PlatformAdapter):
    platform = Platform.TIKTOK
    label = "TikTok"
    idempotent = True  # a saved publish_id is asked about, never posted again
    connect_kind = "oauth"
    # TikTok caps posts per creator per day (about 15) besides 6 inits a minute.
    rate_limit = RateLimitPolicy(capacity=15, per_seconds=86400)
    refresh_margin = timedelta(minutes=30)  # access tokens live 24 hours

    chunk_bytes = CHUNK_BYTES
    upload_budget_seconds: float | None = None  # None: half the publish lease (`upload_budget`)
    polls = 5  # status reads after the upload …
    poll_interval = 3.0  # … and the pause between them (a bounded wait, never open-ended)

    # -- publishing -----------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Outcome:
        problems = text_problems(Platform.TIKTOK, request.text, media_count=len(request.media))
        problems += video_problems(Platform.TIKTOK, request.media)
        if problems:
            return Rejected("; ".join(dict.fromkeys(problems)), http_status=422)
        item = request.media[0]
        if item.open is None:
            return Rejected("The video's file is not available to upload; attach it again.")
        with self.http() as client:
            return _Post(self, client, request, item).run()

    # -- tokens ---------------------------------------------------------------------------------

    def can_refresh(self, account: AccountCredentials) -> bool:
        return bool(account.refresh_token)

    def refresh(self, account: AccountCredentials) -> TokenSet:
        if not account.refresh_token:
            raise RefreshRevoked("TikTok sent no refresh token for this account; reconnect it.")
        settings = self.settings
        if not (settings.tiktok_client_key and settings.tiktok_client_secret):
            raise RefreshUnavailable(_NOT_CONFIGURED)
        with self.http() as client:
            response = send(
                client,
                "POST",
                self._token_url(),
                data={
                    "client_key": settings.tiktok_client_key,
                    "client_secret": settings.tiktok_client_secret,
                    "grant_type": "refresh_token",
                    "refresh_token": account.refresh_token,
                },
                headers={"Accept": "application/json"},
            )
        if not isinstance(response, httpx.Response):
            raise RefreshUnavailable(f"Could not reach TikTok to renew access: {response.error}")
        if response.status_code == 429 or response.status_code >= 500:
            raise RefreshUnavailable(f"TikTok could not renew access now ({response.status_code}).")
        body = json_object(response)
        if response.status_code != 200 or body.get("error") or not body.get("access_token"):
            detail = body.get("error_description") or body.get("error") or response.status_code
            raise RefreshRevoked(
                f"TikTok refused to renew access: {detail}. Reconnect the account.",
                http_status=response.status_code,
            )
        return token_set(body)

    # -- connecting -----------------------------------------------------------------------------

    def oauth_client(self, *, instance_url: str = "", redirect_uri: str = "") -> OAuthClientConfig:
        settings = self.settings
        if not (settings.tiktok_client_key and settings.tiktok_client_secret):
            raise ConnectFailed(_NOT_CONFIGURED)
        key = settings.tiktok_client_key
        return OAuthClientConfig(
            authorize_url=f"{settings.tiktok_auth_base}/v2/auth/authorize/",
            token_url=self._token_url(),
            client_id=key,
            client_secret=settings.tiktok_client_secret,
            scopes=SCOPES,
            # TikTok's PKCE is for desktop apps (hex-encoded challenge); a web app uses its secret.
            pkce=False,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 — a method name
            scope_separator=",",
            extra_authorize_params={"client_key": key},
            extra_token_params={"client_key": key},
        )

    def complete_oauth(self, token: Mapping[str, Any], *, instance_url: str = "") -> list[ConnectedAccount]:
        access_token = str(token.get("access_token") or "")
        if not access_token:
            raise ConnectFailed("TikTok sent no access token; try connecting again.")
        with self.http() as client:
            user = _api(
                client,
                "GET",
                f"{self.settings.tiktok_api_base}/v2/user/info/",
                access_token,
                params={"fields": "open_id,union_id,avatar_url,display_name"},
            )
            if not isinstance(user, dict):
                raise ConnectFailed(f"TikTok did not share your profile: {_reason(user)}")
            creator = _creator_info(client, self.settings.tiktok_api_base, access_token)
        if not isinstance(creator, CreatorInfo):
            raise ConnectFailed(
                f"TikTok did not allow posting for this account: {_reason(creator)}. "
                "Connect again and allow PostForge to post videos."
            )
        profile_user = user.get("user") if isinstance(user.get("user"), dict) else {}
        open_id = str(profile_user.get("open_id") or token.get("open_id") or "")
        if not open_id:
            raise ConnectFailed("TikTok's profile answer did not say who you are; try connecting again.")
        profile = AccountProfile(
            platform_account_id=open_id,
            handle=f"@{creator.username}"
            if creator.username
            else str(profile_user.get("display_name") or open_id),
            display_name=str(profile_user.get("display_name") or creator.nickname),
            avatar_url=str(profile_user.get("avatar_url") or creator.avatar_url),
        )
        return [ConnectedAccount(profile=profile, tokens=token_set(token))]

    def _token_url(self) -> str:
        return f"{self.settings.tiktok_api_base}/v2/oauth/token/"


class _Post:
    """One publish: resume what the saved publish_id says, or start a new one."""

    def __init__(
        self, adapter: TikTokAdapter, client: httpx.Client, request: PublishRequest, item: MediaItem
    ):
        self.adapter = adapter
        self.client = client
        self.request = request
        self.item = item
        self.api = adapter.settings.tiktok_api_base
        self.token = request.account.access_token
        self.state: dict[str, Any] = dict(request.state)

    def run(self) -> Outcome:
        if self.state.get("publish_id") and self.state.get("media_id") == self.item.media_id:
            status = self._status()
            if not isinstance(status, dict):
                return _asking_creates_nothing(status)
            if status.get("status") == "PROCESSING_UPLOAD" and not self.state.get("uploaded"):
                received = status.get("uploaded_bytes")
                if isinstance(received, int) and received >= 0:  # TikTok's count beats ours
                    chunk = max(int(self.state.get("chunk_size") or 1), 1)
                    self.state["chunks_done"] = min(received // chunk, int(self.state.get("chunks") or 0))
                return self._upload()
            return self._settle(status)
        return self._start()

    def _start(self) -> Outcome:
        creator = _creator_info(self.client, self.api, self.token)
        if not isinstance(creator, CreatorInfo):
            return creator
        problems = video_problems(Platform.TIKTOK, [self.item], max_seconds=creator.max_duration_seconds)
        if problems:
            return Rejected("; ".join(problems), http_status=422)
        try:
            info = post_info(self.request.text, self.request.options, creator)
        except TikTokOptionsError as error:
            return Rejected(str(error))
        size = self.item.size_bytes
        chunk, count = chunk_plan(size, self.adapter.chunk_bytes)
        body = {
            "post_info": info,
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": size,
                "chunk_size": chunk,
                "total_chunk_count": count,
            },
        }
        data = _api(self.client, "POST", f"{self.api}/v2/post/publish/video/init/", self.token, json=body)
        if not isinstance(data, dict):
            # Without a publish_id nothing can be posted: an unclear answer is safe to retry.
            return _asking_creates_nothing(data)
        publish_id, upload_url = str(data.get("publish_id") or ""), str(data.get("upload_url") or "")
        if not publish_id or not _upload_host_ok(upload_url, self.api):
            return Transient("TikTok did not return an upload address PostForge can use.")
        self.state = {
            "publish_id": publish_id,
            "upload_url": upload_url,
            "media_id": self.item.media_id,
            "chunk_size": chunk,
            "chunks": count,
            "chunks_done": 0,
            "username": creator.username,
        }
        self.request.checkpoint(dict(self.state))
        return self._upload()

    def _upload(self) -> Outcome:
        size, chunk, count = self.item.size_bytes, int(self.state["chunk_size"]), int(self.state["chunks"])
        done = int(self.state.get("chunks_done") or 0)
        stream = self.item.open() if self.item.open else None
        if stream is None:
            return Rejected("The video's file is not available to upload; attach it again.")
        stop_at = time.monotonic() + upload_budget(self.adapter.settings, self.adapter.upload_budget_seconds)
        with stream:
            _skip(stream, done * chunk)
            for index in range(done, count):
                if index > done and time.monotonic() > stop_at:
                    return Transient(
                        f"Uploaded {index} of {count} parts of the video to TikTok; "
                        "the next try continues from there."
                    )
                start = index * chunk
                end = size if index == count - 1 else start + chunk  # the last carries the remainder
                data = stream.read(end - start)
                if len(data) != end - start:
                    return Rejected("The video's file is shorter than its recorded size; attach it again.")
                response = send(
                    self.client,
                    "PUT",
                    self.state["upload_url"],
                    content=data,
                    headers={
                        "Content-Type": self.item.mime_type,
                        "Content-Range": f"bytes {start}-{end - 1}/{size}",
                    },
                )
                if not isinstance(response, httpx.Response):
                    return _asking_creates_nothing(response)  # the status says later what arrived
                if response.status_code not in (200, 201, 206):
                    return self._upload_refused(response)
                self.state["chunks_done"] = index + 1
                self.request.checkpoint(dict(self.state))
        self.state["uploaded"] = True
        self.request.checkpoint(dict(self.state))
        return self._wait()

    def _upload_refused(self, response: httpx.Response) -> Outcome:
        if response.status_code == 429:
            return RateLimited(
                retry_at_from_headers(response.headers), error="TikTok asked to slow the upload."
            )
        if response.status_code >= 500:
            return Transient(f"TikTok's upload answered {response.status_code}; the next try resumes.")
        # The upload link expired or was refused before the last chunk: nothing can be posted from it.
        self.request.checkpoint({})
        return Transient(
            f"TikTok refused the upload link ({response.status_code}); the next try starts a new upload."
        )

    def _wait(self) -> Outcome:
        adapter = self.adapter
        for poll in range(max(adapter.polls, 1)):
            status = self._status()
            if not isinstance(status, dict):
                return _asking_creates_nothing(status)
            if status.get("status") in DONE or status.get("status") == "FAILED":
                return self._settle(status)
            if poll + 1 < adapter.polls:
                time.sleep(adapter.poll_interval)
        return Transient("TikTok is still processing the video; the next try checks on it again.")

    def _settle(self, status: Mapping[str, Any]) -> Outcome:
        state = status.get("status")
        if state in DONE:
            return self._published(status)
        if state == "FAILED":
            reason = str(status.get("fail_reason") or "no reason given")
            if reason in _LATER:
                return RateLimited(
                    datetime.now(UTC) + timedelta(hours=24),
                    error=f"TikTok is holding back posts from this account for now ({reason}).",
                    http_status=None,
                )
            return Rejected(f"TikTok could not post the video ({reason}).")
        if state == "PROCESSING_UPLOAD" and self.state.get("uploaded"):
            return self._wait()
        return self._wait() if state else Unknown("TikTok answered the status without a status.")

    def _published(self, status: Mapping[str, Any]) -> Outcome:
        ids = status.get("publicaly_available_post_id") or status.get("publicly_available_post_id") or []
        post_id = str(ids[0]) if isinstance(ids, list) and ids else ""
        username = str(self.state.get("username") or self.request.account.handle or "").lstrip("@")
        if post_id:
            url = f"https://www.tiktok.com/@{username}/video/{post_id}" if username else ""
            return Published(post_id, url=url)
        # Moderation can take a while before the public id exists: the publish id names the post.
        return Published(
            str(self.state["publish_id"]), url=f"https://www.tiktok.com/@{username}" if username else ""
        )

    def _status(self) -> dict[str, Any] | Outcome:
        return _api(
            self.client,
            "POST",
            f"{self.api}/v2/post/publish/status/fetch/",
            self.token,
            json={"publish_id": self.state["publish_id"]},
        )


def _creator_info(client: httpx.Client, api: str, token: str) -> CreatorInfo | Outcome:
    data = _api(client, "POST", f"{api}/v2/post/publish/creator_info/query/", token, json={})
    if not isinstance(data, dict):
        return data
    levels = data.get("privacy_level_options")
    duration = data.get("max_video_post_duration_sec")
    return CreatorInfo(
        username=str(data.get("creator_username") or ""),
        nickname=str(data.get("creator_nickname") or ""),
        avatar_url=str(data.get("creator_avatar_url") or ""),
        privacy_levels=tuple(str(level) for level in levels) if isinstance(levels, list) else (),
        comment_disabled=data.get("comment_disabled") is True,
        duet_disabled=data.get("duet_disabled") is True,
        stitch_disabled=data.get("stitch_disabled") is True,
        max_duration_seconds=float(duration) if isinstance(duration, int | float) and duration > 0 else None,
    )


def _api(client: httpx.Client, method: str, url: str, token: str, **kwargs: Any) -> dict[str, Any] | Outcome:
    """One Open API call: its `data` object, or the outcome its `error` means."""
    response = send(
        client,
        method,
        url,
        headers={**bearer(token), "Content-Type": "application/json; charset=UTF-8"},
        **kwargs,
    )
    if not isinstance(response, httpx.Response):
        return response
    body = json_object(response)
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    code = str(error.get("code") or "")
    message = str(error.get("message") or "") or f"TikTok answered {response.status_code}."
    if response.status_code == 200 and code in ("", "ok"):
        data = body.get("data")
        return data if isinstance(data, dict) else {}
    if code in _LATER or response.status_code == 429:
        return RateLimited(
            retry_at_from_headers(response.headers), error=f"TikTok: {message} ({code or 429})"
        )
    if code in _AUTH or response.status_code == 401:
        return AuthExpired(f"TikTok no longer accepts this account's token: {message}", http_status=401)
    if response.status_code >= 500 or code == "internal_error":
        return Transient(f"TikTok: {message}", http_status=response.status_code)
    return classify_http_error(response, f"TikTok: {message} ({code})" if code else f"TikTok: {message}")


def _asking_creates_nothing(outcome: Outcome) -> Outcome:
    """Asking about a saved publish, or an upload TikTok can report on, posts nothing new."""
    if isinstance(outcome, Unknown):
        return Transient(
            f"{outcome.error} The next try asks TikTok where the post stands.", outcome.http_status
        )
    return outcome


def _reason(outcome: Outcome) -> str:
    return str(getattr(outcome, "error", "") or getattr(outcome, "reason", "") or "no answer")


def _upload_host_ok(url: str, api: str) -> bool:
    """TikTok uploads go to its own upload host (open-upload.tiktokapis.com) or the API's."""
    target, expected = urlsplit(url), urlsplit(api)
    if not url:
        return False
    if (target.scheme, target.netloc) == (expected.scheme, expected.netloc):
        return True
    host = (target.hostname or "").lower()
    return target.scheme == "https" and (host == "tiktokapis.com" or host.endswith(".tiktokapis.com"))


def _skip(stream: BinaryIO, offset: int) -> None:
    if not offset:
        return
    try:
        stream.seek(offset)
    except (AttributeError, OSError, ValueError):  # not seekable: read past what TikTok has
        left = offset
        while left:
            chunk = stream.read(min(left, CHUNK_BYTES))
            if not chunk:
                break
            left -= len(chunk)


def token_set(token: Mapping[str, Any]) -> TokenSet:
    """TikTok's token answer (or authlib's dict) as a TokenSet; scopes come comma-separated."""
    scopes = " ".join(part for part in str(token.get("scope") or "").replace(",", " ").split() if part)
    return oauth2.token_set(token, scopes=scopes)

"""LinkedIn: member posts through the versioned Posts API (`POST /rest/posts`).

Connecting is OAuth 2 (authorization code, confidential web app) with the OpenID scopes plus
`w_member_social`; the member's OpenID `sub` names the author, `urn:li:person:<sub>`.

What makes LinkedIn different from the other platforms:

* **No idempotency key.** A post whose answer never arrived may exist; the engine turns that
  `Unknown` into needs_review. Posting the same text again is refused with 422 "Content is a
  duplicate of urn:li:share:…", which we surface (with a link) instead of posting twice.
* **"little" text.** `commentary` is LinkedIn's little text format, where
  `\\ | { } @ [ ] ( ) < > # * _ ~` are markup. An unescaped one makes LinkedIn cut the post
  there and still answer 201, so `little_text` escapes every reserved character — except the
  `#` of a hashtag, which is a little HashtagElement and so stays clickable.
* **Tokens** live 60 days. Refresh tokens exist only for apps in LinkedIn's Marketing Developer
  Platform; everyone else reconnects, so `can_refresh` is true only when a refresh token was given.
* **Media** are registered, uploaded, then named in the post. An image:
  `POST /rest/images?action=initializeUpload` gives an upload URL and the image URN, and the
  whole file goes up in one PUT. A video: `POST /rest/videos?action=initializeUpload` with its
  size gives one upload URL per byte range; each range is PUT to its own URL, and
  `finalizeUpload` names the parts' ETags in order. LinkedIn then processes the file
  (`GET /rest/{images|videos}/{urn}`: PROCESSING → AVAILABLE, or PROCESSING_FAILED); the post
  carries `content.media` (one file) or `content.multiImage` (2-20 images). Each file's URN is
  checkpointed once uploaded, so a retry reuses it and never uploads it twice.
* **Throttling** is daily (members and apps), unpublished, and reset at midnight UTC; a 429 carries
  no reset header, so we wait until the next midnight UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

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
    retry_at_from_headers,
    send,
)
from postforge.platforms.rules import text_problems

SCOPES = ("openid", "profile", "email", "w_member_social")
RESTLI_PROTOCOL_VERSION = "2.0.0"
POST_URL = "https://www.linkedin.com/feed/update/{urn}/"

# The characters little text reserves for its elements and templates.
LITTLE_RESERVED = frozenset("\\|{}@[]()<>#*_~")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
# A hashtag: `#` not glued to a preceding letter or digit (`C#` is not one), then letters and
# digits with at least one letter (LinkedIn does not make `#2024` a hashtag). `_` is reserved in
# little text, so a hashtag ends before it; the rest is escaped and reads the same.
_HASHTAG = re.compile(r"(?<![^\W_])#(?=[^\W_]*[^\W\d_])[^\W_]+")
_DUPLICATE = re.compile(r"duplicate of (urn:li:(?:share|ugcPost|activity):\d+)", re.IGNORECASE)
_JAVA_EXCEPTION_PREFIX = re.compile(r"^(?:[\w$]+\.)+[\w$]*Exception:\s*")


def little_text(text: str) -> str:
    """`text` as little-format commentary that LinkedIn shows exactly as written.

    Every reserved character is backslash-escaped, so nothing is read as markup and nothing is
    truncated. Hashtags are the exception: `#word` is written as a HashtagElement so it stays a
    hashtag. Inside a URL everything is escaped (a `#fragment` is not a hashtag); LinkedIn shows
    the unescaped URL text.
    """
    pieces: list[str] = []
    position = 0
    for url in _URL.finditer(text):
        pieces.append(_escape_keeping_hashtags(text[position : url.start()]))
        pieces.append(_escape(url.group()))
        position = url.end()
    pieces.append(_escape_keeping_hashtags(text[position:]))
    return "".join(pieces)


def _escape_keeping_hashtags(segment: str) -> str:
    pieces: list[str] = []
    position = 0
    for hashtag in _HASHTAG.finditer(segment):
        pieces.append(_escape(segment[position : hashtag.start()]))
        pieces.append(hashtag.group())  # `#` + letters and digits: nothing in it needs escaping
        position = hashtag.end()
    pieces.append(_escape(segment[position:]))
    return "".join(pieces)


def _escape(segment: str) -> str:
    return "".join(f"\\{char}" if char in LITTLE_RESERVED else char for char in segment)


class LinkedInAdapter(PlatformAdapter):
    platform = Platform.LINKEDIN
    label = "LinkedIn"
    idempotent = False
    connect_kind = "oauth"
    # LinkedIn's member posting limits are daily and unpublished (about 150 a day is reported);
    # 100 a day keeps us under that with room for what the member posts by hand.
    rate_limit = RateLimitPolicy(capacity=100, per_seconds=86400)
    # Tokens last 60 days; refreshing (partners only) a day early is plenty.
    refresh_margin = timedelta(days=1)
    # The bounded wait for LinkedIn to process an uploaded file.
    media_polls = 20
    media_poll_interval = 3.0

    # -- publishing -----------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Outcome:
        problems = text_problems(Platform.LINKEDIN, request.text, media_count=len(request.media))
        if problems:
            return Rejected("; ".join(problems), http_status=422)
        body = _post_body(request.account.platform_account_id, request.text)
        with self.http() as client:
            if request.media:
                content = self._media_content(client, request)
                if not isinstance(content, dict):
                    return content
                body["content"] = content
            response = send(
                client,
                "POST",
                f"{self.settings.linkedin_api_base}/rest/posts",
                json=body,
                headers=self._rest_headers(request.account.access_token),
            )
        if not isinstance(response, httpx.Response):
            return response
        return self._publish_outcome(response)

    # -- media ----------------------------------------------------------------------------------

    def _media_content(self, client: httpx.Client, request: PublishRequest) -> dict[str, Any] | Outcome:
        progress = media_upload.Progress(request, budget=media_upload.wait_budget(self.settings))
        urns: list[str] = []
        for position, item in enumerate(request.media, start=1):
            try:
                urn = self._uploaded(client, request, progress, item, position)
            except media_upload.MediaUnreadable as error:
                return media_upload.unreadable(error)
            if not isinstance(urn, str):
                return media_upload.upload_outcome(urn)
            urns.append(urn)
        if len(urns) == 1:
            item = request.media[0]
            media: dict[str, Any] = {"id": urns[0]}
            if item.mime_type.startswith("video/"):
                media["title"] = ""
            elif item.alt_text:
                media["altText"] = item.alt_text
            return {"media": media}
        images = []
        for urn, item in zip(urns, request.media, strict=True):
            image = {"id": urn}
            if item.alt_text:
                image["altText"] = item.alt_text
            images.append(image)
        return {"multiImage": {"images": images}}

    def _uploaded(
        self,
        client: httpx.Client,
        request: PublishRequest,
        progress: media_upload.Progress,
        item: MediaItem,
        position: int,
    ) -> str | Outcome:
        saved = progress.uploaded(item, position)
        if not (isinstance(saved, dict) and saved.get("urn")):
            owner = request.account.platform_account_id
            token = request.account.access_token
            if item.mime_type.startswith("video/"):
                urn = self._upload_video(client, token, owner, item)
            else:
                urn = self._upload_image(client, token, owner, item)
            if not isinstance(urn, str):
                return urn
            saved = {"urn": urn}
            progress.remember(item, position, saved)
        urn = str(saved["urn"])
        if not saved.get("ready"):
            ready = self._wait_until_available(client, request.account.access_token, urn, progress.deadline)
            if ready is not None:
                return ready
            progress.remember(item, position, {**saved, "ready": True})
        return urn

    def _upload_image(self, client: httpx.Client, token: str, owner: str, item: MediaItem) -> str | Outcome:
        started = self._media_action(
            client, token, "images", "initializeUpload", {"initializeUploadRequest": {"owner": owner}}
        )
        if not isinstance(started, dict):
            return started
        value = started.get("value") or {}
        upload_url, urn = str(value.get("uploadUrl") or ""), str(value.get("image") or "")
        if not self._upload_url_ok(upload_url) or not urn.startswith("urn:li:image:"):
            return Transient("LinkedIn did not say where to upload the image.")
        # One PUT of the whole file: parts PUT to the same URL would overwrite each other.
        put = self._put_part(client, token, upload_url, media_upload.chunks(item), item.size_bytes)
        return put if not isinstance(put, str) else urn

    def _upload_video(self, client: httpx.Client, token: str, owner: str, item: MediaItem) -> str | Outcome:
        started = self._media_action(
            client,
            token,
            "videos",
            "initializeUpload",
            {
                "initializeUploadRequest": {
                    "owner": owner,
                    "fileSizeBytes": item.size_bytes,
                    "uploadCaptions": False,
                    "uploadThumbnail": False,
                }
            },
        )
        if not isinstance(started, dict):
            return started
        value = started.get("value") or {}
        urn = str(value.get("video") or "")
        instructions = value.get("uploadInstructions")
        if (
            not urn.startswith("urn:li:video:")
            or not isinstance(instructions, list)
            or not instructions
            or not all(
                isinstance(part, dict) and self._upload_url_ok(str(part.get("uploadUrl")))
                for part in instructions
            )
        ):
            return Transient("LinkedIn did not say where to upload the video.")
        etags: list[str] = []
        stream = media_upload.open_stream(item)
        try:
            for instruction in sorted(instructions, key=lambda part: int(part.get("firstByte") or 0)):
                length = int(instruction["lastByte"]) - int(instruction["firstByte"]) + 1
                # Parts are a few MB each: one is read at a time, never the whole file.
                etag = self._put_part(
                    client, token, str(instruction["uploadUrl"]), stream.read(length), length
                )
                if not isinstance(etag, str):
                    return etag
                etags.append(etag)
        finally:
            stream.close()
        finished = self._media_action(
            client,
            token,
            "videos",
            "finalizeUpload",
            {
                "finalizeUploadRequest": {
                    "video": urn,
                    "uploadToken": str(value.get("uploadToken") or ""),
                    "uploadedPartIds": etags,
                }
            },
        )
        return finished if not isinstance(finished, dict) else urn

    def _upload_url_ok(self, url: str) -> bool:
        """The member's token goes with each upload: only to https (or to the API's own server)."""
        return url.startswith("https://") or url.startswith(f"{self.settings.linkedin_api_base.rstrip('/')}/")

    def _media_action(
        self, client: httpx.Client, token: str, resource: str, action: str, body: dict[str, Any]
    ) -> dict[str, Any] | Outcome:
        response = send(
            client,
            "POST",
            f"{self.settings.linkedin_api_base}/rest/{resource}",
            params={"action": action},
            json=body,
            headers=self._rest_headers(token),
        )
        if not isinstance(response, httpx.Response):
            return response
        if response.status_code in (200, 201):
            return json_object(response)
        return self._media_failure(response)

    def _put_part(
        self, client: httpx.Client, token: str, url: str, content: Any, length: int
    ) -> str | Outcome:
        response = send(
            client,
            "PUT",
            url,
            content=content,
            headers={
                **bearer(token),
                "Content-Type": "application/octet-stream",
                **media_upload.length_header(length),
            },
        )
        if not isinstance(response, httpx.Response):
            return response
        if response.status_code in (200, 201):
            return response.headers.get("etag", "")
        return self._media_failure(response)

    def _wait_until_available(
        self, client: httpx.Client, token: str, urn: str, deadline: float | None
    ) -> Outcome | None:
        resource = "videos" if urn.startswith("urn:li:video:") else "images"

        def check() -> Outcome | bool | None:
            response = send(
                client,
                "GET",
                f"{self.settings.linkedin_api_base}/rest/{resource}/{quote(urn, safe='')}",
                headers=self._rest_headers(token),
            )
            if not isinstance(response, httpx.Response):
                return response
            if response.status_code == 403:
                # Member tokens may not read images back: the upload succeeded, post it.
                return True
            if response.status_code != 200:
                return self._media_failure(response)
            body = json_object(response)
            status = str(body.get("status") or "")
            if status == "AVAILABLE":
                return True
            if status == "PROCESSING_FAILED":
                reason = str(body.get("processingFailureReason") or "the file could not be processed")
                return Rejected(f"LinkedIn could not process the media: {reason}")
            return None

        found = media_upload.wait_for(
            check, polls=self.media_polls, interval=self.media_poll_interval, deadline=deadline
        )
        if found is None:
            return media_upload.still_processing(self.label)
        return None if found is True else found

    def _media_failure(self, response: httpx.Response) -> Outcome:
        message = _linkedin_message(response)
        if response.status_code == 429:
            return RateLimited(
                _daily_reset(response.headers), error=f"LinkedIn's daily limit is reached. {message}"
            )
        if response.status_code == 401:
            return AuthExpired(f"LinkedIn no longer accepts this account's token: {message}", http_status=401)
        if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
            return Rejected(f"LinkedIn refused the media: {message}", http_status=response.status_code)
        return classify_http_error(response, message)

    def fetch_metrics(self, account: AccountCredentials, platform_post_id: str) -> PostMetricsSnapshot | None:
        """Likes and comments of a post (`GET /rest/socialActions/{urn}`); None when LinkedIn
        won't say now. Reading them needs `r_member_social`, which LinkedIn grants to approved
        apps only: for everyone else this is a 403 and so None."""
        if not platform_post_id.startswith("urn:li:"):
            return None
        with self.http() as client:
            response = send(
                client,
                "GET",
                # Rest.li 2.0 wants the URN percent-encoded as one path segment (its colons too).
                f"{self.settings.linkedin_api_base}/rest/socialActions/{quote(platform_post_id, safe='')}",
                headers=self._rest_headers(account.access_token),
            )
        if not isinstance(response, httpx.Response) or response.status_code != 200:
            return None
        body = json_object(response)
        likes = body.get("likesSummary")
        comments = body.get("commentsSummary")
        if not isinstance(likes, dict) and not isinstance(comments, dict):
            return None  # not a social actions answer
        comments = comments if isinstance(comments, dict) else {}
        comment_count = metric_count(comments.get("aggregatedTotalComments"))
        if comment_count is None:
            comment_count = metric_count(comments.get("totalFirstLevelComments"))
        return PostMetricsSnapshot(
            likes=metric_count(likes.get("totalLikes")) if isinstance(likes, dict) else None,
            comments=comment_count,
        )

    def _rest_headers(self, access_token: str) -> dict[str, str]:
        return {
            **bearer(access_token),
            "LinkedIn-Version": self.settings.linkedin_version,
            "X-Restli-Protocol-Version": RESTLI_PROTOCOL_VERSION,
        }

    def _publish_outcome(self, response: httpx.Response) -> Outcome:
        status = response.status_code
        if status == 201:
            urn = response.headers.get("x-restli-id") or response.headers.get("x-linkedin-id")
            if not urn:  # created, but we cannot say which post it is: a person must look
                return Unknown("LinkedIn accepted the post but did not say which post it made.", status)
            return Published(urn, url=POST_URL.format(urn=urn))
        message = _linkedin_message(response)
        if status == 429:
            return RateLimited(
                _daily_reset(response.headers), error=f"LinkedIn's daily limit is reached. {message}"
            )
        if status == 401:
            return AuthExpired(
                f"LinkedIn no longer accepts this account's token: {message}", http_status=status
            )
        if status == 426:
            return Rejected(
                f"LinkedIn refused API version {self.settings.linkedin_version}: {message} "
                "Set LINKEDIN_VERSION to a current YYYYMM version.",
                http_status=status,
            )
        duplicate = _DUPLICATE.search(message)
        if status == 422 and duplicate:
            urn = duplicate.group(1)
            return Rejected(
                "LinkedIn reports an identical post already exists on this account "
                f"({POST_URL.format(urn=urn)}) — probably this one was published already.",
                http_status=status,
            )
        return classify_http_error(response, message)

    # -- tokens ---------------------------------------------------------------------------------

    def can_refresh(self, account: AccountCredentials) -> bool:
        return bool(account.refresh_token)

    def refresh(self, account: AccountCredentials) -> TokenSet:
        if not account.refresh_token:
            raise RefreshRevoked(
                "LinkedIn only renews access for partner apps; reconnect the account (every 60 days)."
            )
        client_id, client_secret = self.settings.linkedin_client_id, self.settings.linkedin_client_secret
        if not (client_id and client_secret):
            raise RefreshUnavailable(_NOT_CONFIGURED)
        with self.http() as client:
            answer = oauth2.refresh_grant(
                client,
                self._token_url(),
                account.refresh_token,
                label=self.label,
                client_id=client_id,
                client_secret=client_secret,
                headers={"Accept": "application/json"},
            )
        return token_set(answer)

    # -- connecting -----------------------------------------------------------------------------

    def oauth_client(self, *, instance_url: str = "", redirect_uri: str = "") -> OAuthClientConfig:
        settings = self.settings
        if not (settings.linkedin_client_id and settings.linkedin_client_secret):
            raise ConnectFailed(_NOT_CONFIGURED)
        return OAuthClientConfig(
            authorize_url=f"{settings.linkedin_auth_base}/oauth/v2/authorization",
            token_url=self._token_url(),
            client_id=settings.linkedin_client_id,
            client_secret=settings.linkedin_client_secret,
            scopes=SCOPES,
            # LinkedIn offers PKCE only to native apps; a web app authenticates with its secret.
            pkce=False,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 — a method name
        )

    def complete_oauth(self, token: Mapping[str, Any], *, instance_url: str = "") -> list[ConnectedAccount]:
        access_token = oauth2.granted_access_token(token, self.label)
        with self.http() as client:
            member = oauth2.read_profile(
                client,
                f"{self.settings.linkedin_api_base}/v2/userinfo",
                access_token,
                label=self.label,
                describe=_linkedin_message,
            )
        sub = str(member.get("sub") or "")
        if not sub:
            raise ConnectFailed("LinkedIn's profile answer did not say who you are; try connecting again.")
        name = str(
            member.get("name")
            or " ".join(filter(None, (member.get("given_name"), member.get("family_name"))))
        )
        profile = AccountProfile(
            platform_account_id=f"urn:li:person:{sub}",
            handle=name or sub,
            display_name=name,
            avatar_url=str(member.get("picture") or ""),
        )
        return [ConnectedAccount(profile=profile, tokens=token_set(token))]

    def _token_url(self) -> str:
        return f"{self.settings.linkedin_auth_base}/oauth/v2/accessToken"


_NOT_CONFIGURED = "LinkedIn is not configured: set LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET"


def _post_body(author: str, text: str) -> dict[str, Any]:
    return {
        "author": author,
        "commentary": little_text(text),
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }


def _linkedin_message(response: httpx.Response) -> str:
    """LinkedIn's `message`, without the Java exception class it sometimes starts with."""
    return (
        _JAVA_EXCEPTION_PREFIX.sub("", error_message(response))
        or f"LinkedIn answered {response.status_code}."
    )


def _daily_reset(headers: Mapping[str, str], *, now: datetime | None = None) -> datetime:
    """A 429 from LinkedIn means a daily limit, reset at midnight UTC; it sends no reset header,
    but if one ever comes, it wins."""
    now = now or datetime.now(UTC)
    lowered = {key.lower() for key in headers}
    if lowered & {"retry-after", "x-ratelimit-reset", "ratelimit-reset", "x-rate-limit-reset"}:
        return retry_at_from_headers(headers, now=now)
    return datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


def token_set(token: Mapping[str, Any]) -> TokenSet:
    """A token endpoint's answer (or authlib's token dict) as a TokenSet. LinkedIn lists scopes
    with commas; they are stored space-separated like every other platform's."""
    scopes = " ".join(part for part in re.split(r"[,\s]+", str(token.get("scope") or "")) if part)
    return oauth2.token_set(token, scopes=scopes)

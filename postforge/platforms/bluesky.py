"""Bluesky (AT Protocol) over plain XRPC calls.

Connecting takes a handle and an *app password*: `com.atproto.server.createSession` gives an
access JWT (about 2 hours) and a refresh JWT (about 90 days). Sign-ins are scarce (30 per
5 minutes, 300 a day per account), so the engine refreshes with `refreshSession` and never
signs in again to publish.

Publishing is idempotent through the record key: the first attempt picks a TID (the
timestamp-based key Bluesky uses for posts) and saves it with `request.checkpoint` *before*
calling `createRecord` with it. A retry finds the key in `request.state`, asks `getRecord`
whether that post exists and only creates it if not — so a dropped connection after Bluesky
stored the post can never lead to a second one.

Images go up as blobs (`com.atproto.repo.uploadBlob`) and the post embeds them
(`app.bsky.embed.images`, with alt text and aspect ratio). A video goes through Bluesky's video
service: a service token from the PDS (`getServiceAuth`), `app.bsky.video.uploadVideo`, then
`getJobStatus` until the job is COMPLETED with the processed blob (FAILED → Rejected), which the
post embeds (`app.bsky.embed.video`). Each blob — and a video's job id while it is processed —
is checkpointed per file, so a retry reuses it instead of uploading again.

Rich text is not parsed by Bluesky: links, #hashtags and @mentions are "facets" we compute,
with UTF-8 byte offsets (an emoji is 4 bytes, a CJK character 3).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import regex

from postforge.models.social import Platform
from postforge.platforms import media_upload
from postforge.platforms.base import (
    AccountCredentials,
    AccountProfile,
    AuthExpired,
    ConnectedAccount,
    ConnectFailed,
    MediaItem,
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
    ServerUnusable,
    TokenSet,
    Transient,
    bearer,
    classify_http_error,
    error_message,
    json_object,
    optional_json,
    retry_at_from_headers,
    send,
)
from postforge.platforms.text_counting import find_urls

POST_COLLECTION = "app.bsky.feed.post"
ACCESS_TOKEN_FALLBACK = timedelta(hours=2)  # when the access JWT carries no readable `exp`
TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
WRONG_CREDENTIALS = (
    "Wrong handle or app password "
    "(use an app password from Settings → App passwords, not your main password)."
)
MAX_TAG_LENGTH = 64  # app.bsky.richtext.facet#tag: at most 64 graphemes

# A TID: 64 bits (top bit 0) = microseconds since the epoch << 10 | a 10-bit clock id, written
# in base32-sortable, 13 characters (https://atproto.com/specs/record-key#record-key-type-tid).
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
TID_PATTERN = regex.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")

_MENTION = regex.compile(
    r"(?:^|(?<=[\s(]))@(?P<handle>[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+)"
)
# Bluesky's own rule: a # after the start or whitespace, then anything up to whitespace, minus
# trailing punctuation; not only digits; not the keycap emoji #️⃣.
_TAG = regex.compile(
    r"(?:^|(?<=\s))[#\uff03](?!\ufe0f)(?P<tag>[^\s\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2]+)"
)
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+$")


def new_tid(now: float | None = None, clock_id: int | None = None) -> str:
    """A fresh record key: the current time in microseconds plus a random clock id."""
    micros = int((time.time() if now is None else now) * 1_000_000)
    clock = secrets.randbelow(1024) if clock_id is None else clock_id
    value = ((micros & ((1 << 53) - 1)) << 10) | (clock & 1023)
    characters = []
    for _ in range(13):
        characters.append(TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(characters))


class BlueskyAdapter(PlatformAdapter):
    platform = Platform.BLUESKY
    label = "Bluesky"
    idempotent = True
    connect_kind = "password"
    user_named_hosts = True  # the default PDS too: it goes through the same checks
    # Bluesky meters writes per account in points: 5,000 an hour and 35,000 a day, a created
    # record costing 3 (so at most ~1,666 posts an hour, ~11,666 a day). The same budget pays
    # for everything the person does in the app (likes, follows, replies), so PostForge keeps
    # to 50 posts an hour (150 points, 3 % of the hourly budget; at most 1,200 posts = 3,600
    # points a day) and can burst 50 at once without ever getting near a 429.
    rate_limit = RateLimitPolicy(capacity=50, per_seconds=3600)
    # The bounded wait for the video service to process a video.
    media_polls = 30
    media_poll_interval = 3.0

    # -- connecting ---------------------------------------------------------------------------

    def connect_with_password(
        self, identifier: str, password: str, *, instance_url: str = ""
    ) -> ConnectedAccount:
        handle = (identifier or "").strip().lstrip("@")
        password = (password or "").strip()
        if not handle or not password:
            raise ConnectFailed("Enter your Bluesky handle (like alice.bsky.social) and an app password.")
        named = bool(instance_url)  # a server the user typed, not the configured default
        service = service_url(instance_url or self.settings.bluesky_service_url)
        with self.http() as client:
            response = send(
                client,
                "POST",
                f"{service}/xrpc/com.atproto.server.createSession",
                json={"identifier": handle, "password": password},
            )
            if isinstance(response, Rejected):  # the outbound policy refused the address
                raise ServerUnusable(response.reason)
            if not isinstance(response, httpx.Response):
                if named:
                    raise ServerUnusable(_not_bluesky(service))
                raise ConnectFailed(f"Could not reach Bluesky at {_host(service)}; try again in a minute.")
            if response.status_code != 200:
                raise _sign_in_refused(response, service if named else "")
            session = _json_object(response, named_service=service if named else "")
            tokens, did, session_handle = _session_tokens(session)
            if session.get("active") is False:
                state = str(session.get("status") or "deactivated")
                raise ConnectFailed(
                    f"This Bluesky account is {state}; it can't publish until it is active again."
                )
            details = _profile(client, service, did, tokens.access_token)  # optional
        profile = AccountProfile(
            platform_account_id=did,
            handle=f"@{session_handle}",
            display_name=str(details.get("displayName") or session_handle),
            avatar_url=str(details.get("avatar") or ""),
        )
        return ConnectedAccount(profile=profile, tokens=tokens, instance_url=service if instance_url else "")

    def can_refresh(self, account: AccountCredentials) -> bool:
        return bool(account.refresh_token)

    def refresh(self, account: AccountCredentials) -> TokenSet:
        if not account.refresh_token:
            raise RefreshRevoked(
                "This Bluesky account has no session to renew; reconnect it with an app password."
            )
        try:
            service = service_url(account.instance_url or self.settings.bluesky_service_url)
        except ConnectFailed as error:
            raise RefreshRevoked(
                f"The account's Bluesky server is unusable ({error.message}); reconnect it."
            ) from None
        with self.http() as client:
            response = send(
                client,
                "POST",
                f"{service}/xrpc/com.atproto.server.refreshSession",
                headers=bearer(account.refresh_token),
            )
        if not isinstance(response, httpx.Response):
            raise RefreshUnavailable(f"Bluesky could not be reached to renew the session: {response.error}")
        status, code, message = response.status_code, _error_code(response), error_message(response)
        if status == 200:
            try:
                tokens, _, _ = _session_tokens(_json_object(response, refresh=True))
            except ConnectFailed as error:  # an incomplete answer: keep the stored session for now
                raise RefreshUnavailable(error.message) from None
            return tokens
        if status == 401 or (status == 400 and (code in TOKEN_ERRORS or code.startswith("Account"))):
            raise RefreshRevoked(
                f"Bluesky ended this session ({message or code or status}); "
                "reconnect the account with an app password.",
                http_status=status,
            )
        raise RefreshUnavailable(f"Bluesky could not renew the session now ({status}: {message or code}).")

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Outcome:
        try:
            service = service_url(request.account.instance_url or self.settings.bluesky_service_url)
        except ConnectFailed as error:
            return Rejected(f"The account's Bluesky server is unusable ({error.message}); reconnect it.")
        target = _Target(service, request.account)
        progress = media_upload.Progress(request, budget=media_upload.wait_budget(self.settings))
        with self.http() as client:
            saved_rkey = progress.state.get("rkey")
            if isinstance(saved_rkey, str) and TID_PATTERN.match(saved_rkey):
                existing = _existing_post(client, target, saved_rkey)
                if existing is not None:
                    return existing
                rkey = saved_rkey
            else:
                rkey = None
            record = _post_record(client, target, request)
            if not isinstance(record, dict):
                return record  # a mention could not be looked up right now; nothing was created
            if request.media:
                try:
                    embed = self._embed(client, target, request, progress)
                except media_upload.MediaUnreadable as error:
                    return media_upload.unreadable(error)
                if not isinstance(embed, dict):
                    return media_upload.upload_outcome(embed)
                record["embed"] = embed
            if rkey is None:
                rkey = new_tid()
                # Stored before the create: a retry after anything below finds this key.
                progress.update({"rkey": rkey})
            return _create_post(client, target, rkey, record)

    # -- media ----------------------------------------------------------------------------------

    def _embed(
        self, client: httpx.Client, target: _Target, request: PublishRequest, progress: media_upload.Progress
    ) -> dict[str, Any] | Outcome:
        videos = [item for item in request.media if item.mime_type.startswith("video/")]
        if videos:
            item = videos[0]
            blob = self._video_blob(client, target, item, progress)
            if not isinstance(blob, dict):
                return blob
            embed: dict[str, Any] = {"$type": "app.bsky.embed.video", "video": blob}
            if item.alt_text:
                embed["alt"] = item.alt_text
            if item.width and item.height:
                embed["aspectRatio"] = {"width": item.width, "height": item.height}
            return embed
        images = []
        for position, item in enumerate(request.media, start=1):
            saved = progress.uploaded(item, position)
            blob = saved.get("blob") if isinstance(saved, dict) else None
            if not isinstance(blob, dict):
                blob = _upload_blob(client, target, item)
                if not isinstance(blob, dict):
                    return blob
                progress.remember(item, position, {"blob": blob})
            image: dict[str, Any] = {"image": blob, "alt": item.alt_text or ""}
            if item.width and item.height:
                image["aspectRatio"] = {"width": item.width, "height": item.height}
            images.append(image)
        return {"$type": "app.bsky.embed.images", "images": images}

    def _video_blob(
        self, client: httpx.Client, target: _Target, item: MediaItem, progress: media_upload.Progress
    ) -> dict[str, Any] | Outcome:
        """The processed video's blob: from the checkpoint, from a saved job, or a new upload."""
        saved = progress.uploaded(item, 1)  # one video per post: it is the first file
        if isinstance(saved, dict) and isinstance(saved.get("blob"), dict):
            return saved["blob"]
        job_id = saved.get("job") if isinstance(saved, dict) else None
        if not isinstance(job_id, str) or not job_id:
            started = self._start_video_job(client, target, item)
            if not isinstance(started, dict):
                return started
            if isinstance(started.get("blob"), dict):  # "already_exists": processed before
                progress.remember(item, 1, {"blob": started["blob"]})
                return started["blob"]
            job_id = str(started.get("jobId") or "")
            if not job_id:
                return Transient("Bluesky's video service did not return the upload's job id.")
            progress.remember(item, 1, {"job": job_id})
        video_base = self.settings.bluesky_video_url.rstrip("/")

        def check() -> dict[str, Any] | Outcome | None:
            response = send(
                client, "GET", f"{video_base}/xrpc/app.bsky.video.getJobStatus", params={"jobId": job_id}
            )
            if not isinstance(response, httpx.Response):
                return response
            if response.status_code != 200:
                return _failure(response)
            status = _job_status(response)
            state = str(status.get("state") or "")
            if isinstance(status.get("blob"), dict):
                return {"blob": status["blob"]}
            if state == "JOB_STATE_FAILED":
                detail = str(
                    status.get("error") or status.get("message") or "the video could not be processed"
                )
                return Rejected(f"Bluesky could not process the video: {detail}")
            return None  # created, encoding, scanning, uploading … or a state we don't know yet

        found = media_upload.wait_for(
            check, polls=self.media_polls, interval=self.media_poll_interval, deadline=progress.deadline
        )
        if found is None:
            return media_upload.still_processing(self.label)
        if isinstance(found, dict):
            progress.remember(item, 1, found)
            return found["blob"]
        return found

    def _start_video_job(
        self, client: httpx.Client, target: _Target, item: MediaItem
    ) -> dict[str, Any] | Outcome:
        host = _pds_host(client, target)
        auth = send(
            client,
            "GET",
            f"{target.service}/xrpc/com.atproto.server.getServiceAuth",
            params={
                "aud": f"did:web:{host.replace(':', '%3A')}",
                "lxm": "com.atproto.repo.uploadBlob",
                "exp": str(int(time.time()) + 1800),
            },
            headers=target.auth,
        )
        if not isinstance(auth, httpx.Response):
            return auth
        if auth.status_code != 200:
            return _failure(auth)
        try:
            token = auth.json().get("token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            return Transient("Bluesky did not grant a token for the video service.")
        response = send(
            client,
            "POST",
            f"{self.settings.bluesky_video_url.rstrip('/')}/xrpc/app.bsky.video.uploadVideo",
            params={"did": target.did, "name": f"video-{item.media_id or 'upload'}.mp4"},
            content=media_upload.chunks(item),
            headers={
                **bearer(token),
                "Content-Type": item.mime_type,
                **media_upload.length_header(item.size_bytes),
            },
        )
        if not isinstance(response, httpx.Response):
            return response
        status = _job_status(response)
        if response.status_code == 200 or (response.status_code == 409 and status.get("jobId")):
            return status
        return _failure(response)

    def fetch_metrics(self, account: AccountCredentials, platform_post_id: str) -> PostMetricsSnapshot | None:
        """Likes, reposts (and quotes) and replies from the app view; None when unavailable."""
        try:
            service = service_url(account.instance_url or self.settings.bluesky_service_url)
        except ConnectFailed:
            return None
        with self.http() as client:
            response = send(
                client,
                "GET",
                f"{service}/xrpc/app.bsky.feed.getPosts",
                params={"uris": platform_post_id},
                headers=bearer(account.access_token),
            )
        if not isinstance(response, httpx.Response) or response.status_code != 200:
            return None
        try:
            posts = response.json().get("posts") or []
        except (ValueError, AttributeError):
            return None
        if not posts or not isinstance(posts[0], dict):
            return None
        post = posts[0]
        return PostMetricsSnapshot(
            likes=_int_or_none(post.get("likeCount")),
            shares=_sum_or_none(post.get("repostCount"), post.get("quoteCount")),
            comments=_int_or_none(post.get("replyCount")),
        )


# ---------------------------------------------------------------------------------------------
# Publishing steps


@dataclass(frozen=True)
class _Target:
    service: str
    account: AccountCredentials

    @property
    def did(self) -> str:
        return self.account.platform_account_id

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.account.access_token)

    def published(self, rkey: str) -> Published:
        profile = self.account.handle.lstrip("@") or self.did
        return Published(
            f"at://{self.did}/{POST_COLLECTION}/{rkey}",
            url=f"https://bsky.app/profile/{profile}/post/{rkey}",
        )


def _existing_post(client: httpx.Client, target: _Target, rkey: str) -> Outcome | None:
    """Published when the post with this key exists, None when it doesn't, else why we can't tell."""
    response = send(
        client,
        "GET",
        f"{target.service}/xrpc/com.atproto.repo.getRecord",
        params={"repo": target.did, "collection": POST_COLLECTION, "rkey": rkey},
        headers=target.auth,
    )
    if isinstance(response, Rejected):
        return response
    if not isinstance(response, httpx.Response):
        # A lookup creates nothing: whatever happened to it, trying again later is safe.
        return Transient(f"Could not check whether the post already exists: {response.error}")
    if response.status_code == 200:
        return target.published(rkey)
    if response.status_code == 404 or _error_code(response) == "RecordNotFound":
        return None
    return _failure(response)


def _create_post(client: httpx.Client, target: _Target, rkey: str, record: dict[str, Any]) -> Outcome:
    response = send(
        client,
        "POST",
        f"{target.service}/xrpc/com.atproto.repo.createRecord",
        json={"repo": target.did, "collection": POST_COLLECTION, "rkey": rkey, "record": record},
        headers=target.auth,
    )
    if not isinstance(response, httpx.Response):
        return response
    if response.status_code == 200:
        return target.published(rkey)
    if response.status_code >= 500:
        # The PDS answers 500 when the key is taken — by our own earlier attempt, if it landed.
        existing = _existing_post(client, target, rkey)
        if isinstance(existing, Published):
            return existing
    return _failure(response)


def _pds_host(client: httpx.Client, target: _Target) -> str:
    """The host of the account's own PDS, which the video service's token must name. An
    account signed in through an entryway (bsky.social) lives on another host: the session's
    DID document says which (`#atproto_pds`); without one, the server we talk to is the PDS."""
    response = send(
        client, "GET", f"{target.service}/xrpc/com.atproto.server.getSession", headers=target.auth
    )
    fallback = urlsplit(target.service).netloc
    if not isinstance(response, httpx.Response) or response.status_code != 200:
        return fallback
    try:
        services = (response.json().get("didDoc") or {}).get("service") or []
    except (ValueError, AttributeError):
        return fallback
    for service in services if isinstance(services, list) else []:
        if isinstance(service, dict) and str(service.get("id", "")).endswith("#atproto_pds"):
            host = urlsplit(str(service.get("serviceEndpoint") or "")).netloc
            return host or fallback
    return fallback


def _upload_blob(client: httpx.Client, target: _Target, item: MediaItem) -> dict[str, Any] | Outcome:
    response = send(
        client,
        "POST",
        f"{target.service}/xrpc/com.atproto.repo.uploadBlob",
        content=media_upload.chunks(item),
        headers={
            **target.auth,
            "Content-Type": item.mime_type,
            **media_upload.length_header(item.size_bytes),
        },
    )
    if not isinstance(response, httpx.Response):
        return response
    if response.status_code != 200:
        return _failure(response)
    try:
        blob = response.json().get("blob")
    except (ValueError, AttributeError):
        blob = None
    if not isinstance(blob, dict) or not blob.get("ref"):
        return Transient("Bluesky did not return the uploaded image's blob.")
    return blob


def _job_status(response: httpx.Response) -> dict[str, Any]:
    """A video job's status, whether it comes wrapped (`jobStatus`) or bare (an error answer)."""
    body = json_object(response)
    status = body.get("jobStatus")
    return status if isinstance(status, dict) else body


def _failure(response: httpx.Response) -> Outcome:
    status, code, message = response.status_code, _error_code(response), error_message(response)
    if code in TOKEN_ERRORS or status == 401:
        return AuthExpired(message or "Bluesky no longer accepts this session.", http_status=status)
    if status == 429:
        return RateLimited(
            retry_at_from_headers(response.headers), error=message or "Bluesky rate limit reached."
        )
    if status == 400:
        return Rejected(message or code or "Bluesky refused the post.", http_status=status)
    return classify_http_error(response, message or code)


def _post_record(client: httpx.Client, target: _Target, request: PublishRequest) -> dict[str, Any] | Outcome:
    facets = _facets(client, target, request.text)
    if not isinstance(facets, list):
        return facets
    record: dict[str, Any] = {
        "$type": POST_COLLECTION,
        "text": request.text,
        "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    if facets:
        record["facets"] = facets
    if request.language:
        record["langs"] = [request.language]
    return record


# ---------------------------------------------------------------------------------------------
# Rich text


@dataclass(frozen=True)
class TextSpan:
    start: int  # character offsets into the text
    end: int
    feature: dict[str, Any]


def find_facet_spans(text: str) -> tuple[list[TextSpan], list[tuple[int, int, str]]]:
    """Links and hashtags as ready spans, and mentions as (start, end, handle) still to resolve."""
    spans: list[TextSpan] = []
    for url in find_urls(text):
        uri = url.text if "://" in url.text else f"https://{url.text}"
        spans.append(TextSpan(url.start, url.end, {"$type": "app.bsky.richtext.facet#link", "uri": uri}))
    taken = [(span.start, span.end) for span in spans]

    def free(start: int, end: int) -> bool:
        return not any(start < other_end and other_start < end for other_start, other_end in taken)

    for match in _TAG.finditer(text):
        tag = _TRAILING_PUNCTUATION.sub("", match.group("tag"))
        end = match.start("tag") + len(tag)
        if not tag or tag.isdigit() or len(tag) > MAX_TAG_LENGTH or not free(match.start(), end):
            continue
        spans.append(TextSpan(match.start(), end, {"$type": "app.bsky.richtext.facet#tag", "tag": tag}))
        taken.append((match.start(), end))
    mentions = []
    for match in _MENTION.finditer(text):
        handle = match.group("handle")
        if handle.rsplit(".", 1)[-1][0].isdigit() or not free(match.start(), match.end()):
            continue  # a handle's last label never starts with a digit (1.2.3 is not one)
        mentions.append((match.start(), match.end(), handle.lower()))
    return spans, mentions


def byte_offsets(text: str) -> list[int]:
    """offsets[i] = the UTF-8 byte offset of character i (and of the end, at len(text))."""
    offsets = [0]
    for character in text:
        offsets.append(offsets[-1] + len(character.encode("utf-8")))
    return offsets


def _facets(client: httpx.Client, target: _Target, text: str) -> list[dict[str, Any]] | Outcome:
    spans, mentions = find_facet_spans(text)
    dids: dict[str, str | None] = {}
    for start, end, handle in mentions:
        if handle not in dids:
            resolved = _resolve_handle(client, target.service, handle)
            if not (resolved is None or isinstance(resolved, str)):
                return resolved
            dids[handle] = resolved
        did = dids[handle]
        if did:  # a handle nobody has stays plain text
            spans.append(TextSpan(start, end, {"$type": "app.bsky.richtext.facet#mention", "did": did}))
    offsets = byte_offsets(text)
    return [
        {
            "index": {"byteStart": offsets[span.start], "byteEnd": offsets[span.end]},
            "features": [span.feature],
        }
        for span in sorted(spans, key=lambda span: span.start)
    ]


def _resolve_handle(client: httpx.Client, service: str, handle: str) -> str | Outcome | None:
    response = send(
        client, "GET", f"{service}/xrpc/com.atproto.identity.resolveHandle", params={"handle": handle}
    )
    if isinstance(response, Rejected):
        return response
    if not isinstance(response, httpx.Response):
        return Transient(f"Could not look up @{handle} on Bluesky: {response.error}")
    if response.status_code == 200:
        try:
            did = response.json().get("did")
        except (ValueError, AttributeError):
            return None
        return did if isinstance(did, str) and did.startswith("did:") else None
    if response.status_code in {400, 404}:
        return None  # "Unable to resolve handle"
    return _failure(response)


# ---------------------------------------------------------------------------------------------
# Sessions and small helpers


def service_url(text: str) -> str:
    """`https://host[:port]` of a Bluesky server (PDS or entryway); http only on this machine."""
    raw = (text or "").strip()
    if "://" not in raw:
        raw = f"https://{raw}"
    try:
        parts = urlsplit(raw)
        host, port = (parts.hostname or ""), parts.port
    except ValueError:
        host, port, parts = "", None, None
    if parts is None or not host or ("." not in host and host not in LOOPBACK_HOSTS) or parts.username:
        raise ConnectFailed(
            f"{text.strip()[:80]!r} is not a Bluesky server address (like https://bsky.social)."
        )
    if parts.scheme not in {"https", "http"} or (parts.scheme == "http" and host not in LOOPBACK_HOSTS):
        raise ConnectFailed("Bluesky servers are reached over https://.")
    shown_host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown_host}" + (f":{port}" if port else "")


def _not_bluesky(service: str) -> str:
    return (
        f"{_host(service)} does not answer as a Bluesky server. Check the address "
        "(leave it empty for accounts on bsky.social)."
    )


def _sign_in_refused(response: httpx.Response, named_service: str = "") -> ConnectFailed:
    status, code, message = response.status_code, _error_code(response), error_message(response)
    if named_service and status != 429 and not code:
        # No XRPC error: a web page, a 404 — whatever lives there, it is not a PDS.
        return ServerUnusable(_not_bluesky(named_service), http_status=status)
    if status == 429:
        retry_at = retry_at_from_headers(response.headers)
        return ConnectFailed(
            "Bluesky allows only a few sign-ins in a row (30 per 5 minutes, 300 a day); "
            f"try again after {retry_at:%H:%M} UTC.",
            http_status=status,
        )
    if code == "AuthFactorTokenRequired":
        return ConnectFailed(
            "This account asks for an email sign-in code. Use an app password from Settings → "
            "App passwords instead: app passwords don't need the code.",
            http_status=status,
        )
    if status == 401:
        return ConnectFailed(WRONG_CREDENTIALS, http_status=status)
    if status >= 500:
        return ConnectFailed(
            f"Bluesky is having trouble ({status}); try again in a few minutes.", http_status=status
        )
    return ConnectFailed(f"Bluesky refused the sign-in: {message or code or status}.", http_status=status)


def _session_tokens(session: Mapping[str, Any]) -> tuple[TokenSet, str, str]:
    access, refresh = session.get("accessJwt"), session.get("refreshJwt")
    did, handle = session.get("did"), session.get("handle")
    if not all(isinstance(value, str) and value for value in (access, refresh, did, handle)):
        raise ConnectFailed("Bluesky answered without a complete session (tokens, DID and handle).")
    expires_at = jwt_expiry(str(access)) or datetime.now(UTC) + ACCESS_TOKEN_FALLBACK
    return (
        TokenSet(access_token=str(access), refresh_token=str(refresh), expires_at=expires_at),
        str(did),
        str(handle),
    )


def jwt_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWT, read without verifying it (it is our own session token)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        expiry = claims.get("exp")
    except (IndexError, ValueError, binascii.Error, AttributeError):
        return None
    if isinstance(expiry, int | float) and not isinstance(expiry, bool):
        return datetime.fromtimestamp(expiry, UTC)
    return None


def _profile(client: httpx.Client, service: str, did: str, access_token: str) -> dict[str, Any]:
    """Display name and avatar from the app view, or {} (an optional step never fails a connect)."""
    response = send(
        client,
        "GET",
        f"{service}/xrpc/app.bsky.actor.getProfile",
        params={"actor": did},
        headers=bearer(access_token),
    )
    return optional_json(response)


def _json_object(
    response: httpx.Response, *, refresh: bool = False, named_service: str = ""
) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        if named_service:
            raise ServerUnusable(_not_bluesky(named_service))
        message = "Bluesky answered with something that is not a session."
        raise RefreshUnavailable(message) if refresh else ConnectFailed(message)
    return body


def _error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) else ""


def _host(service: str) -> str:
    return urlsplit(service).netloc


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _sum_or_none(*values: Any) -> int | None:
    numbers = [value for value in values if isinstance(value, int) and not isinstance(value, bool)]
    return sum(numbers) if numbers else None

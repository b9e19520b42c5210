"""A local fake of Google's OAuth endpoints and the YouTube Data API's resumable video upload.

    fake = FakeYouTube()
    with serve(fake.app) as base_url:
        ...  # youtube_api_base = youtube_auth_base = youtube_oauth_base = base_url

What it speaks, as Google does:

* `GET /o/oauth2/v2/auth` auto-approves and redirects with `code` + `state`; it insists on
  `response_type=code`, the client id, a redirect URI and an S256 `code_challenge`. A refresh
  token is issued only with `access_type=offline`;
* `POST /token` (form, client id and secret in the body): `authorization_code` (single use, same
  redirect URI, the PKCE verifier checked) and `refresh_token` (a new access token, no new refresh
  token); a revoked or unknown grant → 400 `invalid_grant`;
* `GET /youtube/v3/channels?part=snippet&mine=true` → the channel (no items when `has_channel` is
  off);
* `POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status` with the video
  resource and `X-Upload-Content-Length` → 200 and the session URI in `Location`. The title must
  be 1-100 characters without `<`/`>`, the description ≤ 5000 bytes, the privacy one of
  private/unlisted/public. A used-up daily quota → 403 `quotaExceeded`;
* `PUT <session>`: `Content-Range: bytes a-b/total` appends a chunk (it must start where the
  stored bytes end and, unless it is the last, be a multiple of 256 KiB) → `308 Resume
  Incomplete` with `Range: bytes=0-N`; the last byte → 201 with the video resource. `bytes
  */total` asks where the session stands (308 + Range, or 200 with the finished video). An
  unknown or expired session → 404;
* `GET /youtube/v3/videos?part=…&id=…` → status, processingDetails (each video answers
  "processing" once, then "succeeded" — or "failed" after `fail_processing_next()`) and
  statistics (tests set them).

Faults (`fake.faults`, routes "token", "channels", "initiate", "chunk", "videos"): `fail_next`,
`drop_next` (a chunk is stored, then the connection is cut), `delay_next`.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.faults import Faults, dropped_response

CHUNK_UNIT = 256 * 1024
ACCESS_TTL_SECONDS = 3600
_video_ids = itertools.count(1)


@dataclass
class Channel:
    id: str = "UCfakeChannelAda000000001"
    title: str = "Ada Makes Things"
    custom_url: str = "@adamakes"
    thumbnail: str = "https://yt3.example/ada.jpg"


@dataclass
class Session:
    id: str
    resource: dict[str, Any]
    total: int
    mime_type: str
    received: bytearray = field(default_factory=bytearray)
    video_id: str = ""


@dataclass
class Video:
    id: str
    resource: dict[str, Any]
    data: bytes
    processing_reads: int = 0
    fail_processing: bool = False
    views: int = 0
    likes: int = 0
    comments: int = 0


@dataclass
class FakeYouTube:
    client_id: str = "yt-client.apps.googleusercontent.com"
    client_secret: str = "yt-secret"
    channel: Channel = field(default_factory=Channel)
    has_channel: bool = True
    quota_left: int = 100  # videos.insert calls left today
    faults: Faults = field(default_factory=Faults)
    videos: list[Video] = field(default_factory=list)
    # Every upload-related request, for assertions: (kind, content-range, bytes received).
    upload_log: list[tuple[str, str, int]] = field(default_factory=list)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, tuple[str, str, bool]] = {}  # code → (redirect_uri, challenge, offline)
        self.access_tokens: dict[str, float] = {}  # token → expires at
        self.refresh_tokens: set[str] = set()
        self.sessions: dict[str, Session] = {}
        self._fail_processing = 0
        self.app = Starlette(
            routes=[
                Route("/o/oauth2/v2/auth", self._authorize),
                Route("/token", self._token, methods=["POST"]),
                Route("/youtube/v3/channels", self._channels),
                Route("/upload/youtube/v3/videos", self._upload, methods=["POST", "PUT"]),
                Route("/youtube/v3/videos", self._videos),
            ]
        )

    # -- test helpers ------------------------------------------------------------------------

    def issue_token(self, *, ttl: float = ACCESS_TTL_SECONDS) -> str:
        token = f"ya29.{secrets.token_urlsafe(12)}"
        with self._lock:
            self.access_tokens[token] = time.time() + ttl
        return token

    def issue_refresh_token(self) -> str:
        token = f"1//{secrets.token_urlsafe(12)}"
        with self._lock:
            self.refresh_tokens.add(token)
        return token

    def expire(self, token: str) -> None:
        with self._lock:
            self.access_tokens[token] = time.time() - 1

    def revoke(self, token: str) -> None:
        with self._lock:
            self.access_tokens.pop(token, None)
            self.refresh_tokens.discard(token)

    def fail_processing_next(self) -> None:
        """The next finished upload fails YouTube's processing (a broken file)."""
        self._fail_processing += 1

    def expire_sessions(self) -> None:
        with self._lock:
            self.sessions.clear()

    # -- OAuth -------------------------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.authorize_requests.append(query)
        if query.get("response_type") != "code" or query.get("client_id") != self.client_id:
            return _oauth_error("invalid_request", "Missing required parameter: response_type or client_id")
        if not query.get("redirect_uri"):
            return _oauth_error("invalid_request", "Missing required parameter: redirect_uri")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return _oauth_error("invalid_request", "code_challenge_method must be S256")
        code = f"4/{secrets.token_urlsafe(16)}"
        with self._lock:
            self._codes[code] = (
                query["redirect_uri"],
                query["code_challenge"],
                query.get("access_type") == "offline",
            )
        separator = "&" if "?" in query["redirect_uri"] else "?"
        params = urlencode({"code": code, "state": query.get("state", ""), "scope": query.get("scope", "")})
        return RedirectResponse(f"{query['redirect_uri']}{separator}{params}", status_code=302)

    async def _token(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        self.token_requests.append(form)
        if fault := self.faults.take("token"):
            return fault.response()
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return _oauth_error("invalid_client", "The OAuth client was not found.", status=401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with self._lock:
                saved = self._codes.pop(form.get("code", ""), None)
            if saved is None or saved[0] != form.get("redirect_uri"):
                return _oauth_error("invalid_grant", "Malformed auth code.")
            if _s256(form.get("code_verifier", "")) != saved[1]:
                return _oauth_error("invalid_grant", "Invalid code verifier.")
            body: dict[str, Any] = self._access_answer()
            if saved[2]:
                body["refresh_token"] = self.issue_refresh_token()
            return JSONResponse(body)
        if grant == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return _oauth_error("invalid_grant", "Token has been expired or revoked.")
            return JSONResponse(self._access_answer())
        return _oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant}")

    def _access_answer(self) -> dict[str, Any]:
        return {
            "access_token": self.issue_token(),
            "expires_in": ACCESS_TTL_SECONDS,
            "scope": "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.readonly",
            "token_type": "Bearer",
        }

    # -- Data API ----------------------------------------------------------------------------

    async def _channels(self, request: Request) -> Response:
        if fault := self.faults.take("channels"):
            return fault.response()
        if problem := self._authenticate(request):
            return problem
        if request.query_params.get("mine") != "true":
            return _api_error(400, "missingRequiredParameter", "No filter selected.")
        items = []
        if self.has_channel:
            items.append(
                {
                    "kind": "youtube#channel",
                    "id": self.channel.id,
                    "snippet": {
                        "title": self.channel.title,
                        "customUrl": self.channel.custom_url,
                        "thumbnails": {"default": {"url": self.channel.thumbnail, "width": 88, "height": 88}},
                    },
                }
            )
        return JSONResponse({"kind": "youtube#channelListResponse", "items": items})

    async def _upload(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._initiate(request)
        return await self._put(request)

    async def _initiate(self, request: Request) -> Response:
        if fault := self.faults.take("initiate"):
            return fault.response()
        if problem := self._authenticate(request):
            return problem
        query = request.query_params
        if query.get("uploadType") != "resumable" or "snippet" not in query.get("part", ""):
            return _api_error(
                400, "invalidParameter", "uploadType=resumable and part=snippet,status are required"
            )
        if self.quota_left <= 0:
            return _api_error(
                403,
                "quotaExceeded",
                "The request cannot be completed because you have exceeded your quota.",
                domain="youtube.quota",
            )
        total = request.headers.get("x-upload-content-length", "")
        if not total.isdigit() or int(total) <= 0:
            return _api_error(400, "badContent", "X-Upload-Content-Length is required.")
        resource = await request.json()
        if problem := _resource_problem(resource):
            return problem
        self.quota_left -= 1
        session = Session(
            id=secrets.token_urlsafe(16),
            resource=resource,
            total=int(total),
            mime_type=request.headers.get("x-upload-content-type", "video/*"),
        )
        with self._lock:
            self.sessions[session.id] = session
        self.upload_log.append(("initiate", "", 0))
        location = f"{request.base_url}upload/youtube/v3/videos?uploadType=resumable&upload_id={session.id}"
        return Response(status_code=200, headers={"Location": location})

    async def _put(self, request: Request) -> Response:
        fault = self.faults.take("chunk")
        if fault is not None and fault.kind == "status":
            return fault.response()
        if problem := self._authenticate(request):
            return problem
        with self._lock:
            session = self.sessions.get(request.query_params.get("upload_id", ""))
        if session is None:
            return _api_error(404, "notFound", "The upload session was not found or has expired.")
        content_range = request.headers.get("content-range", "")
        body = await request.body()
        if content_range == f"bytes */{session.total}":
            self.upload_log.append(("query", content_range, 0))
            return self._session_answer(session, status=200)
        start, end, total = _content_range(content_range)
        if total != session.total or start is None or end is None or end - start + 1 != len(body):
            return _api_error(400, "badContent", f"Invalid Content-Range {content_range!r}.")
        if start != len(session.received):
            return self._session_answer(session, status=201)  # not where we are: say where that is
        last = end + 1 == session.total
        if not last and len(body) % CHUNK_UNIT:
            return _api_error(400, "badContent", "Chunks must be multiples of 256 KiB, except the last.")
        session.received.extend(body)
        self.upload_log.append(("chunk", content_range, len(body)))
        if last:
            self._finish(session)
        answer = self._session_answer(session, status=201)
        if fault is not None and fault.kind == "drop":
            return dropped_response(answer.status_code, fault)
        return answer

    def _finish(self, session: Session) -> None:
        with self._lock:
            video_id = f"vid{next(_video_ids):08d}"
            fail = self._fail_processing > 0
            if fail:
                self._fail_processing -= 1
            resource = {
                "kind": "youtube#video",
                "id": video_id,
                "snippet": {**session.resource.get("snippet", {}), "channelId": self.channel.id},
                "status": {"uploadStatus": "uploaded", **session.resource.get("status", {})},
            }
            self.videos.append(Video(video_id, resource, bytes(session.received), fail_processing=fail))
            session.video_id = video_id

    def _session_answer(self, session: Session, *, status: int) -> Response:
        if session.video_id:
            video = self._video(session.video_id)
            return JSONResponse(video.resource if video else {}, status_code=status)
        headers = {"Range": f"bytes=0-{len(session.received) - 1}"} if session.received else {}
        return Response(status_code=308, headers=headers)

    async def _videos(self, request: Request) -> Response:
        if fault := self.faults.take("videos"):
            return fault.response()
        if problem := self._authenticate(request):
            return problem
        ids = request.query_params.get("id", "").split(",")
        parts = set(request.query_params.get("part", "").split(","))
        items = []
        for video_id in ids:
            video = self._video(video_id)
            if video is None:
                continue
            item: dict[str, Any] = {"kind": "youtube#video", "id": video.id}
            if "status" in parts or "processingDetails" in parts:
                processing = self._processing(video)
                status = dict(video.resource["status"])
                if processing == "failed":
                    status |= {"uploadStatus": "failed", "failureReason": "codec"}
                elif processing == "succeeded":
                    status["uploadStatus"] = "processed"
                item["status"] = status
                item["processingDetails"] = {"processingStatus": processing}
                if processing == "failed":
                    item["processingDetails"]["processingFailureReason"] = "streamingFailed"
            if "statistics" in parts:
                item["statistics"] = {
                    "viewCount": str(video.views),
                    "likeCount": str(video.likes),
                    "favoriteCount": "0",
                    "commentCount": str(video.comments),
                }
            items.append(item)
        return JSONResponse({"kind": "youtube#videoListResponse", "items": items})

    def _processing(self, video: Video) -> str:
        video.processing_reads += 1
        if video.processing_reads == 1:
            return "processing"
        return "failed" if video.fail_processing else "succeeded"

    def _video(self, video_id: str) -> Video | None:
        return next((video for video in self.videos if video.id == video_id), None)

    def _authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        with self._lock:
            expires_at = self.access_tokens.get(token)
        if expires_at is None or expires_at < time.time():
            return _api_error(
                401,
                "authError",
                "Request had invalid authentication credentials.",
                domain="global",
                status_name="UNAUTHENTICATED",
            )
        return None


def _resource_problem(resource: Any) -> Response | None:
    if not isinstance(resource, dict):
        return _api_error(400, "invalidVideoMetadata", "The request body must be a video resource.")
    snippet = resource.get("snippet") or {}
    title = str(snippet.get("title") or "")
    if not title or len(title) > 100 or "<" in title or ">" in title:
        return _api_error(400, "invalidTitle", "The request metadata specifies an invalid video title.")
    description = str(snippet.get("description") or "")
    if len(description.encode()) > 5000 or "<" in description or ">" in description:
        return _api_error(
            400, "invalidDescription", "The request metadata specifies an invalid video description."
        )
    privacy = (resource.get("status") or {}).get("privacyStatus")
    if privacy not in ("private", "unlisted", "public"):
        return _api_error(400, "invalidVideoMetadata", "The request metadata is invalid.")
    return None


def _content_range(value: str) -> tuple[int | None, int | None, int | None]:
    try:
        unit, _, rest = value.partition(" ")
        span, _, total = rest.partition("/")
        start, _, end = span.partition("-")
        if unit != "bytes":
            return None, None, None
        return int(start), int(end), int(total)
    except ValueError:
        return None, None, None


def _api_error(
    status: int, reason: str, message: str, *, domain: str = "youtube.video", status_name: str = ""
) -> Response:
    name = status_name or {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}.get(
        status, ""
    )
    return JSONResponse(
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
                "status": name,
            }
        },
        status_code=status,
    )


def _oauth_error(error: str, description: str, *, status: int = 400) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

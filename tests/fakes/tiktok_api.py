"""A local fake of TikTok Login Kit and the Content Posting API (direct post, FILE_UPLOAD).

    fake = FakeTikTok()
    with serve(fake.app) as base_url:
        ...  # tiktok_api_base = tiktok_auth_base = base_url

What it speaks, as TikTok does (answers are `{"data": …, "error": {"code", "message", "log_id"}}`):

* `GET /v2/auth/authorize/` needs `client_key`, `response_type=code`, a comma-separated `scope`
  and a redirect URI; redirects with `code` + `state`;
* `POST /v2/oauth/token/` (form with `client_key` + `client_secret`): `authorization_code` (single
  use, same redirect URI) → access token (24 h), refresh token (rotated on refresh), `open_id`;
  a bad grant → `{"error": "invalid_grant", …}`;
* `GET /v2/user/info/` → `data.user` (open_id, display_name, avatar_url);
* `POST /v2/post/publish/creator_info/query/` → privacy options, interaction switches, max duration;
* `POST /v2/post/publish/video/init/` checks `post_info` (privacy among the creator's options, else
  `privacy_level_option_mismatch`; an unaudited client may only post `SELF_ONLY`; branded content
  can't be private) and TikTok's chunk arithmetic (`total_chunk_count = floor(size / chunk)`,
  chunks within `min_chunk`-`max_chunk` unless one chunk is the whole file) → `publish_id`,
  `upload_url`;
* `PUT <upload_url>` with `Content-Range: bytes a-b/total` takes chunk after chunk (a chunk already
  received may be sent again) → 206, the last → 201. An expired link → 404;
* `POST /v2/post/publish/status/fetch/` → `PROCESSING_UPLOAD` (with `uploaded_bytes`) until every
  byte is there, then `PROCESSING_DOWNLOAD` once, then `PUBLISH_COMPLETE` with
  `publicaly_available_post_id` — or `FAILED` with `fail_reason` after `fail_next_post()`.

Each completed publish is one post in `fake.posts`. Faults (`fake.faults`, routes "token",
"creator_info", "init", "upload", "status"): `fail_next`, `drop_next`, `delay_next`.
"""

from __future__ import annotations

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

MiB = 1024 * 1024
_post_ids = itertools.count(7_300_000_000_000_000_001)


@dataclass
class Creator:
    open_id: str = "-000OpenIdAda"
    username: str = "ada.makes"
    nickname: str = "Ada"
    avatar_url: str = "https://p16.tiktokcdn.example/ada.jpeg"
    privacy_level_options: list[str] = field(
        default_factory=lambda: ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
    )
    comment_disabled: bool = False
    duet_disabled: bool = False
    stitch_disabled: bool = True
    max_video_post_duration_sec: int = 600


@dataclass
class Publish:
    id: str
    post_info: dict[str, Any]
    video_size: int
    chunk_size: int
    total_chunk_count: int
    upload_id: str
    received: dict[int, bytes] = field(default_factory=dict)  # first byte → chunk
    status_reads: int = 0
    fail_reason: str = ""
    post_id: str = ""

    @property
    def uploaded_bytes(self) -> int:
        return sum(len(chunk) for chunk in self.received.values())

    @property
    def data(self) -> bytes:
        return b"".join(self.received[start] for start in sorted(self.received))


@dataclass
class FakeTikTok:
    client_key: str = "tt-client-key"
    client_secret: str = "tt-secret"
    creator: Creator = field(default_factory=Creator)
    audited: bool = True  # unaudited clients may only post SELF_ONLY
    min_chunk: int = 5 * MiB
    max_chunk: int = 64 * MiB
    faults: Faults = field(default_factory=Faults)
    posts: list[Publish] = field(default_factory=list)  # completed publishes: posts on TikTok
    upload_log: list[tuple[str, str, int]] = field(default_factory=list)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, tuple[str, str]] = {}
        self.access_tokens: dict[str, float] = {}
        self.refresh_tokens: set[str] = set()
        self.publishes: dict[str, Publish] = {}
        self._fail_next: list[str] = []
        self.app = Starlette(
            routes=[
                Route("/v2/auth/authorize/", self._authorize),
                Route("/v2/oauth/token/", self._token, methods=["POST"]),
                Route("/v2/user/info/", self._user_info),
                Route("/v2/post/publish/creator_info/query/", self._creator_info, methods=["POST"]),
                Route("/v2/post/publish/video/init/", self._init, methods=["POST"]),
                Route("/upload/", self._upload, methods=["PUT"]),
                Route("/v2/post/publish/status/fetch/", self._status, methods=["POST"]),
            ]
        )

    # -- test helpers ------------------------------------------------------------------------

    def issue_token(self, *, ttl: float = 86400) -> str:
        token = f"act.{secrets.token_urlsafe(12)}"
        with self._lock:
            self.access_tokens[token] = time.time() + ttl
        return token

    def issue_refresh_token(self) -> str:
        token = f"rft.{secrets.token_urlsafe(12)}"
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

    def fail_next_post(self, reason: str = "frame_rate_check_failed") -> None:
        """The next fully uploaded video fails TikTok's checks with `reason`."""
        self._fail_next.append(reason)

    def expire_upload_links(self) -> None:
        with self._lock:
            for publish in self.publishes.values():
                publish.upload_id = ""

    # -- OAuth -------------------------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.authorize_requests.append(query)
        if query.get("client_key") != self.client_key or query.get("response_type") != "code":
            return _oauth_error("invalid_request", "client_key and response_type=code are required")
        if not query.get("redirect_uri") or "video.publish" not in query.get("scope", "").split(","):
            return _oauth_error("invalid_request", "redirect_uri and a comma-separated scope are required")
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = (query["redirect_uri"], query["scope"])
        separator = "&" if "?" in query["redirect_uri"] else "?"
        params = urlencode({"code": code, "state": query.get("state", ""), "scopes": query["scope"]})
        return RedirectResponse(f"{query['redirect_uri']}{separator}{params}", status_code=302)

    async def _token(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        self.token_requests.append(form)
        if fault := self.faults.take("token"):
            return fault.response()
        if form.get("client_key") != self.client_key or form.get("client_secret") != self.client_secret:
            return _oauth_error("invalid_client", "Client key or secret is incorrect.", status=401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with self._lock:
                saved = self._codes.pop(form.get("code", ""), None)
            if saved is None or saved[0] != form.get("redirect_uri"):
                return _oauth_error("invalid_grant", "Authorization code is expired.")
            return JSONResponse(self._token_answer(saved[1]))
        if grant == "refresh_token":
            refresh_token = form.get("refresh_token", "")
            with self._lock:
                known = refresh_token in self.refresh_tokens
                self.refresh_tokens.discard(refresh_token)  # rotated
            if not known:
                return _oauth_error("invalid_grant", "Refresh token is invalid or expired.")
            return JSONResponse(self._token_answer("user.info.basic,video.publish"))
        return _oauth_error("unsupported_grant_type", f"grant_type {grant!r} is not supported")

    def _token_answer(self, scope: str) -> dict[str, Any]:
        return {
            "access_token": self.issue_token(),
            "expires_in": 86400,
            "open_id": self.creator.open_id,
            "refresh_expires_in": 31536000,
            "refresh_token": self.issue_refresh_token(),
            "scope": scope,
            "token_type": "Bearer",
        }

    # -- API ---------------------------------------------------------------------------------

    async def _user_info(self, request: Request) -> Response:
        if problem := self._authenticate(request):
            return problem
        creator = self.creator
        return _ok(
            {
                "user": {
                    "open_id": creator.open_id,
                    "union_id": "union-ada",
                    "display_name": creator.nickname,
                    "avatar_url": creator.avatar_url,
                }
            }
        )

    async def _creator_info(self, request: Request) -> Response:
        if fault := self.faults.take("creator_info"):
            return fault.response()
        if problem := self._authenticate(request):
            return problem
        creator = self.creator
        return _ok(
            {
                "creator_avatar_url": creator.avatar_url,
                "creator_username": creator.username,
                "creator_nickname": creator.nickname,
                "privacy_level_options": list(creator.privacy_level_options),
                "comment_disabled": creator.comment_disabled,
                "duet_disabled": creator.duet_disabled,
                "stitch_disabled": creator.stitch_disabled,
                "max_video_post_duration_sec": creator.max_video_post_duration_sec,
            }
        )

    async def _init(self, request: Request) -> Response:
        if fault := self.faults.take("init"):
            return fault.response()
        if problem := self._authenticate(request):
            return problem
        body = await request.json()
        info, source = body.get("post_info") or {}, body.get("source_info") or {}
        privacy = info.get("privacy_level")
        if privacy not in self.creator.privacy_level_options:
            return _error(
                400, "privacy_level_option_mismatch", "privacy_level is not among the creator's options"
            )
        if not self.audited and privacy != "SELF_ONLY":
            return _error(
                403,
                "unaudited_client_can_only_post_to_private_accounts",
                "Unaudited clients can only post with SELF_ONLY visibility.",
            )
        if info.get("brand_content_toggle") and privacy == "SELF_ONLY":
            return _error(400, "invalid_params", "Branded content can't be private.")
        if len(str(info.get("title") or "").encode("utf-16-le")) // 2 > 2200:
            return _error(400, "invalid_params", "title is longer than 2200 UTF-16 runes")
        if problem := self._chunk_problem(source):
            return problem
        publish = Publish(
            id=f"v_pub_file~v2-1.{secrets.token_hex(8)}",
            post_info=info,
            video_size=source["video_size"],
            chunk_size=source["chunk_size"],
            total_chunk_count=source["total_chunk_count"],
            upload_id=secrets.token_urlsafe(12),
        )
        with self._lock:
            self.publishes[publish.id] = publish
        self.upload_log.append(("init", "", 0))
        upload_url = (
            f"{request.base_url}upload/?upload_id={publish.upload_id}&upload_token={secrets.token_hex(8)}"
        )
        return _ok({"publish_id": publish.id, "upload_url": upload_url})

    def _chunk_problem(self, source: dict[str, Any]) -> Response | None:
        if source.get("source") != "FILE_UPLOAD":
            return _error(400, "invalid_params", "source must be FILE_UPLOAD here")
        size, chunk, count = (
            source.get("video_size"),
            source.get("chunk_size"),
            source.get("total_chunk_count"),
        )
        if not all(isinstance(value, int) and value > 0 for value in (size, chunk, count)):
            return _error(400, "invalid_params", "video_size, chunk_size and total_chunk_count are required")
        whole = count == 1 and chunk == size and size <= self.max_chunk
        if not whole and not (self.min_chunk <= chunk <= self.max_chunk):
            return _error(400, "invalid_params", "chunk_size is outside the allowed range")
        if count != size // chunk or count > 1000:
            return _error(400, "invalid_params", "total_chunk_count must be floor(video_size / chunk_size)")
        return None

    async def _upload(self, request: Request) -> Response:
        fault = self.faults.take("upload")
        if fault is not None and fault.kind == "status":
            return fault.response()
        upload_id = request.query_params.get("upload_id", "")
        with self._lock:
            publish = next(
                (p for p in self.publishes.values() if p.upload_id and p.upload_id == upload_id), None
            )
        if publish is None:
            return _error(404, "invalid_upload", "The upload URL is invalid or has expired.")
        body = await request.body()
        content_range = request.headers.get("content-range", "")
        try:
            span, _, total = content_range.removeprefix("bytes ").partition("/")
            start, end = (int(part) for part in span.split("-"))
        except ValueError:
            return _error(400, "invalid_params", f"bad Content-Range {content_range!r}")
        index = start // publish.chunk_size
        last = index == publish.total_chunk_count - 1
        expected_end = publish.video_size - 1 if last else start + publish.chunk_size - 1
        if (
            int(total) != publish.video_size
            or start % publish.chunk_size
            or end != expected_end
            or len(body) != end - start + 1
        ):
            return _error(400, "invalid_params", f"chunk {content_range!r} does not follow the chunk plan")
        if start > publish.uploaded_bytes:
            return _error(400, "invalid_params", "chunks must be uploaded in order")
        publish.received[start] = body
        self.upload_log.append(("chunk", content_range, len(body)))
        complete = publish.uploaded_bytes == publish.video_size
        if complete and not publish.fail_reason and not publish.post_id:
            self._complete(publish)
        answer = Response(status_code=201 if complete else 206)
        if fault is not None and fault.kind == "drop":
            return dropped_response(answer.status_code, fault)
        return answer

    def _complete(self, publish: Publish) -> None:
        with self._lock:
            if self._fail_next:
                publish.fail_reason = self._fail_next.pop(0)
                return
            publish.post_id = str(next(_post_ids))
            self.posts.append(publish)

    async def _status(self, request: Request) -> Response:
        if fault := self.faults.take("status"):
            return fault.response()
        if problem := self._authenticate(request):
            return problem
        publish = self.publishes.get((await request.json()).get("publish_id", ""))
        if publish is None:
            return _error(400, "invalid_publish_id", "publish_id does not exist")
        data: dict[str, Any] = {"uploaded_bytes": publish.uploaded_bytes}
        if publish.uploaded_bytes < publish.video_size:
            data["status"] = "PROCESSING_UPLOAD"
            return _ok(data)
        publish.status_reads += 1
        if publish.status_reads == 1:
            data["status"] = "PROCESSING_DOWNLOAD"
        elif publish.fail_reason:
            data |= {"status": "FAILED", "fail_reason": publish.fail_reason}
        else:
            data |= {"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [int(publish.post_id)]}
        return _ok(data)

    def _authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        with self._lock:
            expires_at = self.access_tokens.get(token)
        if expires_at is None or expires_at < time.time():
            return _error(
                401, "access_token_invalid", "The access token is invalid or not found in the request."
            )
        return None


def _ok(data: dict[str, Any]) -> Response:
    return JSONResponse(
        {"data": data, "error": {"code": "ok", "message": "", "log_id": secrets.token_hex(8)}}
    )


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse(
        {"data": {}, "error": {"code": code, "message": message, "log_id": secrets.token_hex(8)}},
        status_code=status,
    )


def _oauth_error(error: str, description: str, *, status: int = 400) -> Response:
    return JSONResponse(
        {"error": error, "error_description": description, "log_id": secrets.token_hex(8)}, status_code=status
    )

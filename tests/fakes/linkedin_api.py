"""A local fake of LinkedIn's OAuth endpoints, OpenID userinfo and the versioned Posts API.

    fake = FakeLinkedIn()
    with serve(fake.app) as base_url:
        ...  # linkedin_api_base = linkedin_auth_base = base_url

What it speaks, as LinkedIn does:

* `GET /oauth/v2/authorization` auto-approves the member and redirects to the redirect URI with
  `code` + `state` (it insists on `response_type=code`, the client id and a redirect URI);
* `POST /oauth/v2/accessToken` (form, client id and secret in the body) exchanges a code once
  (same redirect URI) and refreshes. Refresh tokens are issued only when `partner_refresh` is on
  (LinkedIn gives them to Marketing Developer Platform partners only); a refresh returns the
  same refresh token with its remaining life (LinkedIn does not rotate it). A bad or revoked
  token → 400 `invalid_request` like LinkedIn's;
* `GET /v2/userinfo` → `sub`, `name`, `given_name`, `family_name`, `picture`, `email`…;
* `POST /rest/posts` needs `LinkedIn-Version` (missing → 400 VERSION_MISSING, inactive → 426
  NONEXISTENT_VERSION) and `X-Restli-Protocol-Version: 2.0.0`; answers 201 with an empty body and
  the post's URN in `x-restli-id`; 401 for an unknown, expired or revoked token; 422
  DUPLICATE_POST "Content is a duplicate of urn:li:share:…" for the same author and commentary;
* `GET /rest/socialActions/{urn}` (same version headers; the URN percent-encoded as one path
  segment, else 400) → `likesSummary` / `commentsSummary` with the post's `total_likes`,
  `first_level_comments` and `replies` (tests set them). It needs the restricted
  `r_member_social` scope (403 ACCESS_DENIED without it, as for any app LinkedIn did not
  approve); an unknown post → 404 NOT_FOUND.
* media (same version headers): `POST /rest/images?action=initializeUpload`
  `{"initializeUploadRequest": {"owner"}}` → `{"value": {"uploadUrl", "uploadUrlExpiresAt",
  "image": "urn:li:image:…"}}`, one PUT of the whole file to the upload URL (201);
  `POST /rest/videos?action=initializeUpload` `{"initializeUploadRequest": {"owner",
  "fileSizeBytes", …}}` → `{"value": {"video", "uploadToken": "", "uploadInstructions":
  [{"uploadUrl", "firstByte", "lastByte"}]}}` in parts of `video_part_bytes`; each part PUT to
  its own URL (exact length) answers an `ETag`; `POST /rest/videos?action=finalizeUpload`
  checks `uploadedPartIds` are those ETags in order. `GET /rest/images/{urn}` and
  `/rest/videos/{urn}` say `status`: WAITING_UPLOAD, PROCESSING (for `processing_steps` reads),
  then AVAILABLE — or PROCESSING_FAILED with `processingFailureReason` for a kind ("image",
  "video") in `fail_processing`. A post's `content.media.id` / `content.multiImage.images[].id`
  must be AVAILABLE media of the author (multiImage: 2-20 images), else 422;

The commentary is read as LinkedIn's "little" text: escapes, `#hashtag` elements, hashtag
templates and mentions are rendered; at the first unescaped reserved character the rest of the
text is **silently dropped** and the answer is still 201 — LinkedIn's truncation. Each received
post keeps the raw commentary, the rendered text and the hashtags (`fake.posts`).

Faults (`fake.faults`, route names "posts", "social_actions", "token", "userinfo",
"media_init", "media_upload", "media_finalize", "media_status"): `fail_next` for 429/5xx, `drop_next`
(the post is stored, then the connection is cut), `delay_next`. `throttle_daily()` queues the
header-less 429 LinkedIn sends when a daily limit is reached.
"""

from __future__ import annotations

import asyncio
import itertools
import re
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

RESERVED = frozenset("\\|{}@[]()<>#*_~")
ACCESS_TTL_SECONDS = 60 * 86400
REFRESH_TTL_SECONDS = 365 * 86400
_share_ids = itertools.count(7_100_000_000_000_000_001)
_HASHTAG_TEMPLATE = re.compile(r"\{hashtag\|\\?[#\uff03]\|([^\W_]+)\}")
_MENTION = re.compile(r"@\[([^\]\\]*)\]\((urn:li:(?:person|organization):[\w-]+)\)")
_HASHTAG_WORD = re.compile(r"[^\W_]+")


@dataclass
class Member:
    sub: str = "782bbtaQ"
    given_name: str = "Ada"
    family_name: str = "Lovelace"
    picture: str = "https://media.licdn.example/ada.jpg"
    email: str = "ada@example.com"

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def urn(self) -> str:
        return f"urn:li:person:{self.sub}"


@dataclass
class LinkedInPost:
    urn: str
    author: str
    commentary: str  # as sent (little text)
    text: str  # as LinkedIn shows it
    hashtags: list[str]
    truncated: bool
    body: dict[str, Any]
    headers: dict[str, str]
    received_at: float  # time.time() when the request arrived
    # What `GET /rest/socialActions/{urn}` reports; tests set the numbers they expect back.
    total_likes: int = 0
    first_level_comments: int = 0
    replies: int = 0  # replies to comments: counted in aggregatedTotalComments only


@dataclass
class LinkedInMedia:
    urn: str
    kind: str  # image | video
    owner: str
    size: int
    parts: list[tuple[int, int]]  # (firstByte, lastByte) of each upload part
    received: dict[int, bytes] = field(default_factory=dict)
    etags: list[str] = field(default_factory=list)
    status: str = "WAITING_UPLOAD"
    reads: int = 0

    @property
    def data(self) -> bytes:
        return b"".join(self.received[index] for index in sorted(self.received))


@dataclass
class _Token:
    sub: str
    expires_at: float
    scope: str


@dataclass
class FakeLinkedIn:
    client_id: str = "li-client"
    client_secret: str = "li-secret"
    member: Member = field(default_factory=Member)
    partner_refresh: bool = False  # Marketing Developer Platform partners get refresh tokens
    active_versions: set[str] | None = None  # None: any YYYYMM is active
    faults: Faults = field(default_factory=Faults)
    posts: list[LinkedInPost] = field(default_factory=list)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    media: dict[str, LinkedInMedia] = field(default_factory=dict)  # by URN
    video_part_bytes: int = 4 * 1024 * 1024
    processing_steps: int = 1  # status reads answering PROCESSING before AVAILABLE
    fail_processing: set[str] = field(default_factory=set)  # "image" / "video"
    upload_base: str = ""  # where upload URLs point (default: this fake)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, tuple[str, str]] = {}  # code → (redirect_uri, scope)
        self.access_tokens: dict[str, _Token] = {}
        self.refresh_tokens: dict[str, _Token] = {}
        self.revoked: set[str] = set()
        self.app = Starlette(
            routes=[
                Route("/oauth/v2/authorization", self._authorize),
                Route("/oauth/v2/accessToken", self._token, methods=["POST"]),
                Route("/v2/userinfo", self._userinfo),
                Route("/rest/posts", self._create_post, methods=["POST"]),
                Route("/rest/socialActions/{target}", self._social_actions),
                Route("/rest/images", self._initialize_upload, methods=["POST"]),
                Route("/rest/videos", self._video_action, methods=["POST"]),
                Route("/rest/images/{urn}", self._media_status),
                Route("/rest/videos/{urn}", self._media_status),
                Route("/dms-uploads/{token}/{part}", self._upload_part, methods=["PUT"]),
            ]
        )

    # -- test helpers ------------------------------------------------------------------------

    def issue_token(self, *, ttl: float = ACCESS_TTL_SECONDS, scope: str = "w_member_social") -> str:
        """A valid access token for the member, as if they had connected."""
        token = f"li-at-{secrets.token_urlsafe(12)}"
        with self._lock:
            self.access_tokens[token] = _Token(self.member.sub, time.time() + ttl, scope)
        return token

    def issue_refresh_token(self) -> str:
        token = f"li-rt-{secrets.token_urlsafe(12)}"
        with self._lock:
            self.refresh_tokens[token] = _Token(self.member.sub, time.time() + REFRESH_TTL_SECONDS, "")
        return token

    def expire(self, token: str) -> None:
        with self._lock:
            self.access_tokens[token].expires_at = time.time() - 1

    def revoke(self, token: str) -> None:
        """The member revoked the app: the token (access or refresh) stops working."""
        with self._lock:
            self.revoked.add(token)

    def throttle_daily(self, *, times: int = 1) -> None:
        self.faults.fail_next(
            "posts",
            status=429,
            body={
                "status": 429,
                "serviceErrorCode": 101,
                "code": "TOO_MANY_REQUESTS",
                "message": "Resource level throttle APPLICATION MEMBER DAY limit for calls to this resource is reached.",
            },
            times=times,
        )

    # -- OAuth -------------------------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.authorize_requests.append(query)
        if query.get("response_type") != "code" or query.get("client_id") != self.client_id:
            return _oauth_error("invalid_request", "response_type=code and a valid client_id are required")
        if not query.get("redirect_uri"):
            return _oauth_error("invalid_request", "redirect_uri is required")
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = (query["redirect_uri"], query.get("scope", ""))
        separator = "&" if "?" in query["redirect_uri"] else "?"
        params = urlencode({"code": code, "state": query.get("state", "")})
        return RedirectResponse(f"{query['redirect_uri']}{separator}{params}", status_code=302)

    async def _token(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        self.token_requests.append(form)
        fault = await self._fault("token")
        if fault is not None:
            return fault
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return _oauth_error("invalid_client", "Client authentication failed", status=401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self._exchange_code(form)
        if grant == "refresh_token":
            return self._refresh(form)
        return _oauth_error("unsupported_grant_type", f"grant_type {grant!r} is not supported")

    def _exchange_code(self, form: dict[str, str]) -> Response:
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or grant[0] != form.get("redirect_uri"):
            return _oauth_error(
                "invalid_request",
                "Unable to retrieve access token: appid/redirect uri/code verifier does not match",
            )
        scope = ",".join(grant[1].split())
        access = self.issue_token(scope=scope)
        answer: dict[str, Any] = {"access_token": access, "expires_in": ACCESS_TTL_SECONDS, "scope": scope}
        if self.partner_refresh:
            answer |= {
                "refresh_token": self.issue_refresh_token(),
                "refresh_token_expires_in": REFRESH_TTL_SECONDS,
            }
        return JSONResponse(answer)

    def _refresh(self, form: dict[str, str]) -> Response:
        refresh_token = form.get("refresh_token", "")
        with self._lock:
            known = self.refresh_tokens.get(refresh_token)
        if known is None or refresh_token in self.revoked or known.expires_at < time.time():
            return _oauth_error(
                "invalid_request",
                "The provided authorization grant or refresh token is invalid, expired or revoked.",
            )
        access = self.issue_token()
        return JSONResponse(
            {
                "access_token": access,
                "expires_in": ACCESS_TTL_SECONDS,
                # Same refresh token, its life not reset (LinkedIn's rule).
                "refresh_token": refresh_token,
                "refresh_token_expires_in": int(known.expires_at - time.time()),
                "scope": "email,openid,profile,w_member_social",
            }
        )

    # -- API ---------------------------------------------------------------------------------

    async def _userinfo(self, request: Request) -> Response:
        fault = await self._fault("userinfo")
        if fault is not None:
            return fault
        _token, problem = self._authenticate(request)
        if problem is not None:
            return problem
        member = self.member
        return JSONResponse(
            {
                "sub": member.sub,
                "email_verified": True,
                "name": member.name,
                "locale": {"country": "US", "language": "en"},
                "given_name": member.given_name,
                "family_name": member.family_name,
                "email": member.email,
                "picture": member.picture,
            }
        )

    async def _create_post(self, request: Request) -> Response:
        received_at = time.time()
        fault_taken = self.faults.take("posts")
        if fault_taken is not None and fault_taken.kind == "status":
            return fault_taken.response()
        if fault_taken is not None and fault_taken.kind == "delay":
            await asyncio.sleep(fault_taken.seconds)
        problem = self._version_problem(request)
        if problem is not None:
            return problem
        _token, problem = self._authenticate(request)
        if problem is not None:
            return problem
        body = await request.json()
        problem = self._body_problem(body) or self._content_problem(body)
        if problem is not None:
            return problem
        text, hashtags, truncated = render_little(body["commentary"])
        with self._lock:
            duplicate = next(
                (p for p in self.posts if p.author == body["author"] and p.commentary == body["commentary"]),
                None,
            )
            if duplicate is None:
                urn = f"urn:li:share:{next(_share_ids)}"
                self.posts.append(
                    LinkedInPost(
                        urn=urn,
                        author=body["author"],
                        commentary=body["commentary"],
                        text=text,
                        hashtags=hashtags,
                        truncated=truncated,
                        body=body,
                        headers=dict(request.headers),
                        received_at=received_at,
                    )
                )
        if duplicate is not None:
            return _duplicate(duplicate.urn)
        if fault_taken is not None and fault_taken.kind == "drop":
            return dropped_response(201, fault_taken)
        return Response(status_code=201, headers={"x-restli-id": urn, "x-linkedin-id": urn})

    async def _social_actions(self, request: Request) -> Response:
        fault = await self._fault("social_actions")
        if fault is not None:
            return fault
        problem = self._version_problem(request)
        if problem is not None:
            return problem
        token, problem = self._authenticate(request)
        if problem is not None:
            return problem
        raw_target = request.scope.get("raw_path", b"").rsplit(b"/", 1)[-1]
        if b":" in raw_target:
            return _rest_error(400, "ILLEGAL_ARGUMENT", "Syntax exception in path variables")
        with self._lock:
            scopes = set(self.access_tokens[token].scope.split(","))
            urn = request.path_params["target"]
            post = next((p for p in self.posts if p.urn == urn), None)
        if "r_member_social" not in scopes:
            return _rest_error(
                403,
                "ACCESS_DENIED",
                f"Not enough permissions to access: socialActions.GET.{request.headers['linkedin-version']}",
                service_code=100,
            )
        if post is None:
            return _rest_error(404, "NOT_FOUND", f"Entity {urn} does not exist")
        return JSONResponse(
            {
                "target": post.urn,
                "$URN": f"urn:li:socialActions:{post.urn}",
                "likesSummary": {
                    "selectedLikes": [],
                    "aggregatedTotalLikes": post.total_likes,
                    "likedByCurrentUser": False,
                    "totalLikes": post.total_likes,
                },
                "commentsSummary": {
                    "selectedComments": [],
                    "aggregatedTotalComments": post.first_level_comments + post.replies,
                    "totalFirstLevelComments": post.first_level_comments,
                    "commentsState": "OPEN",
                },
            }
        )

    # -- media -------------------------------------------------------------------------------

    async def _media_guard(self, request: Request, route: str) -> Response | None:
        fault = await self._fault(route)
        if fault is not None:
            return fault
        problem = self._version_problem(request)
        if problem is not None:
            return problem
        _token, problem = self._authenticate(request)
        return problem

    async def _video_action(self, request: Request) -> Response:
        if request.query_params.get("action") == "finalizeUpload":
            return await self._finalize_upload(request)
        return await self._initialize_upload(request)

    async def _initialize_upload(self, request: Request) -> Response:
        problem = await self._media_guard(request, "media_init")
        if problem is not None:
            return problem
        if request.query_params.get("action") != "initializeUpload":
            return _rest_error(400, "ILLEGAL_ARGUMENT", "action must be initializeUpload")
        kind = "video" if request.url.path.endswith("/videos") else "image"
        body = (await request.json()).get("initializeUploadRequest") or {}
        if body.get("owner") != self.member.urn:
            return _rest_error(
                403, "ACCESS_DENIED", f"Not enough permissions to upload as {body.get('owner')}"
            )
        base = self.upload_base or str(request.base_url).rstrip("/")
        token = secrets.token_hex(8)
        if kind == "image":
            item = LinkedInMedia(f"urn:li:image:D4E{token}", "image", body["owner"], 0, [(0, -1)])
            with self._lock:
                self.media[item.urn] = item
            return JSONResponse(
                {
                    "value": {
                        "uploadUrlExpiresAt": int(time.time() * 1000) + 3_600_000,
                        "uploadUrl": f"{base}/dms-uploads/{token}/0",
                        "image": item.urn,
                    }
                }
            )
        size = body.get("fileSizeBytes")
        if not isinstance(size, int) or size <= 0:
            return _input_error(
                "/initializeUploadRequest/fileSizeBytes", "FIELD_VALUE_REQUIRED", "fileSizeBytes is required"
            )
        parts = [
            (first, min(first + self.video_part_bytes, size) - 1)
            for first in range(0, size, self.video_part_bytes)
        ]
        item = LinkedInMedia(f"urn:li:video:D5F{token}", "video", body["owner"], size, parts)
        with self._lock:
            self.media[item.urn] = item
        instructions = [
            {"uploadUrl": f"{base}/dms-uploads/{token}/{index}", "firstByte": first, "lastByte": last}
            for index, (first, last) in enumerate(parts)
        ]
        return JSONResponse(
            {
                "value": {
                    "video": item.urn,
                    "uploadToken": "",
                    "uploadUrlsExpireAt": int(time.time() * 1000) + 3_600_000,
                    "uploadInstructions": instructions,
                }
            }
        )

    async def _upload_part(self, request: Request) -> Response:
        fault = await self._fault("media_upload")
        if fault is not None:
            return fault
        _token, problem = self._authenticate(request)
        if problem is not None:
            return problem
        token, index = request.path_params["token"], int(request.path_params["part"])
        item = next((m for m in self.media.values() if m.urn.endswith(token)), None)
        if item is None or index >= len(item.parts):
            return _rest_error(404, "NOT_FOUND", "Unknown upload URL")
        data = await request.body()
        first, last = item.parts[index]
        if item.kind == "video" and len(data) != last - first + 1:
            return _rest_error(
                400, "ILLEGAL_ARGUMENT", f"Part {index} must be {last - first + 1} bytes, got {len(data)}"
            )
        etag = f"etag-{token}-{index}-{len(data)}"
        with self._lock:
            item.received[index] = data
            if item.kind == "image":
                item.size = len(data)
                item.status = "PROCESSING" if self.processing_steps else "AVAILABLE"
        return Response(status_code=201, headers={"ETag": etag})

    async def _finalize_upload(self, request: Request) -> Response:
        problem = await self._media_guard(request, "media_finalize")
        if problem is not None:
            return problem
        body = (await request.json()).get("finalizeUploadRequest") or {}
        item = self.media.get(str(body.get("video") or ""))
        if item is None or item.kind != "video":
            return _rest_error(404, "NOT_FOUND", "Unknown video")
        expected = [
            f"etag-{item.urn[len('urn:li:video:D5F') :]}-{index}-{last - first + 1}"
            for index, (first, last) in enumerate(item.parts)
        ]
        if body.get("uploadedPartIds") != expected or len(item.received) != len(item.parts):
            return _rest_error(400, "ILLEGAL_ARGUMENT", "uploadedPartIds do not match the uploaded parts")
        with self._lock:
            item.etags, item.status = expected, "PROCESSING"
        return Response(status_code=200)

    async def _media_status(self, request: Request) -> Response:
        problem = await self._media_guard(request, "media_status")
        if problem is not None:
            return problem
        item = self.media.get(request.path_params["urn"])
        if item is None:
            return _rest_error(404, "NOT_FOUND", f"Entity {request.path_params['urn']} does not exist")
        with self._lock:
            if item.status == "PROCESSING":
                item.reads += 1
                if item.kind in self.fail_processing:
                    item.status = "PROCESSING_FAILED"
                elif item.reads > self.processing_steps:
                    item.status = "AVAILABLE"
            answer: dict[str, Any] = {"id": item.urn, "status": item.status, "owner": item.owner}
        if item.status == "PROCESSING_FAILED":
            answer["processingFailureReason"] = "Unsupported media encoding"
        return JSONResponse(answer)

    def _content_problem(self, body: dict[str, Any]) -> Response | None:
        content = body.get("content")
        if content is None:
            return None
        if "multiImage" in content:
            ids = [image.get("id") for image in (content["multiImage"].get("images") or [])]
            if not 2 <= len(ids) <= 20:
                return _input_error(
                    "/content/multiImage/images", "INVALID_VALUE", "multiImage needs 2-20 images"
                )
        else:
            ids = [(content.get("media") or {}).get("id")]
        for urn in ids:
            item = self.media.get(str(urn))
            if item is None or item.owner != body.get("author"):
                return _input_error("/content", "INVALID_VALUE", f"Media {urn} does not exist")
            if item.status != "AVAILABLE":
                return _input_error("/content", "INVALID_VALUE", f"Media {urn} is not ready ({item.status})")
        return None

    def _version_problem(self, request: Request) -> Response | None:
        version = request.headers.get("linkedin-version", "")
        if not version:
            return _rest_error(
                400,
                "VERSION_MISSING",
                "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
            )
        if not re.fullmatch(r"\d{6}(\.\d{2})?", version) or (
            self.active_versions is not None and version not in self.active_versions
        ):
            return _rest_error(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")
        if request.headers.get("x-restli-protocol-version") != "2.0.0":
            return _rest_error(
                400,
                "ILLEGAL_ARGUMENT",
                "Rest.li protocol version 2.0.0 is required (X-Restli-Protocol-Version).",
            )
        return None

    def _authenticate(self, request: Request) -> tuple[str, Response | None]:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        with self._lock:
            known = self.access_tokens.get(token)
        if not token:
            return token, _rest_error(401, None, "Empty oauth2_access_token", service_code=65604)
        if known is None:
            return token, _rest_error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", service_code=65600)
        if token in self.revoked:
            return token, _rest_error(
                401,
                "REVOKED_ACCESS_TOKEN",
                "The token used in the request has been revoked by the user",
                65601,
            )
        if known.expires_at < time.time():
            return token, _rest_error(
                401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", service_code=65602
            )
        return token, None

    def _body_problem(self, body: Any) -> Response | None:
        if not isinstance(body, dict):
            return _rest_error(400, "ILLEGAL_ARGUMENT", "The request body must be a JSON object.")
        missing = [
            key
            for key in ("author", "commentary", "visibility", "distribution", "lifecycleState")
            if key not in body
        ]
        if missing:
            return _input_error(f"/{missing[0]}", "FIELD_VALUE_REQUIRED", f"Field /{missing[0]} is required")
        if body["author"] != self.member.urn:
            return _rest_error(
                403,
                "ACCESS_DENIED",
                f"Not enough permissions to create a post as {body['author']}",
                service_code=100,
            )
        if len(body["commentary"].encode("utf-16-le")) // 2 > 3000:
            return _input_error(
                "/commentary", "MAX_LENGTH_EXCEEDED", "Commentary length exceeds 3000 characters"
            )
        return None

    async def _fault(self, route: str) -> Response | None:
        fault = self.faults.take(route)
        if fault is None:
            return None
        if fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            return None
        if fault.kind == "drop":
            return dropped_response(200)
        return fault.response()


def render_little(commentary: str) -> tuple[str, list[str], bool]:
    """What LinkedIn shows for a little-text commentary: (text, hashtags, truncated).

    `\\x` is the character x; `#word` and `{hashtag|\\#|word}` are hashtags; `@[Name](urn)` is a
    mention shown as Name. Any other reserved character ends the text there (LinkedIn's silent
    truncation), as does a backslash with nothing after it.
    """
    shown: list[str] = []
    hashtags: list[str] = []
    position = 0
    while position < len(commentary):
        char = commentary[position]
        if char not in RESERVED:
            shown.append(char)
            position += 1
            continue
        if char == "\\":
            if position + 1 >= len(commentary):
                return "".join(shown), hashtags, True
            shown.append(commentary[position + 1])
            position += 2
            continue
        element = _element_at(commentary, position)
        if element is None:
            return "".join(shown), hashtags, True
        text, hashtag, position = element
        shown.append(text)
        if hashtag:
            hashtags.append(hashtag)
    return "".join(shown), hashtags, False


def _element_at(commentary: str, position: int) -> tuple[str, str, int] | None:
    """The little element starting at `position`: (shown text, hashtag or "", next position)."""
    char = commentary[position]
    if char == "#":
        word = _HASHTAG_WORD.match(commentary, position + 1)
        if word is not None:
            return f"#{word.group()}", word.group(), word.end()
        return None
    if char == "{":
        template = _HASHTAG_TEMPLATE.match(commentary, position)
        if template is not None:
            return f"#{template.group(1)}", template.group(1), template.end()
        return None
    if char == "@":
        mention = _MENTION.match(commentary, position)
        if mention is not None:
            return mention.group(1), "", mention.end()
    return None


def _oauth_error(error: str, description: str, *, status: int = 400) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _rest_error(status: int, code: str | None, message: str, service_code: int | None = None) -> Response:
    body: dict[str, Any] = {"status": status, "message": message}
    if code:
        body["code"] = code
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    return JSONResponse(body, status_code=status)


def _input_error(field_path: str, code: str, description: str) -> Response:
    return JSONResponse(
        {
            "errorDetailType": "com.linkedin.common.error.BadRequest",
            "message": f"ERROR :: {field_path} :: {description}",
            "errorDetails": {
                "inputErrors": [
                    {
                        "description": description,
                        "input": {"inputPath": {"fieldPath": field_path}},
                        "code": code,
                    }
                ]
            },
            "status": 422,
        },
        status_code=422,
    )


def _duplicate(urn: str) -> Response:
    return JSONResponse(
        {
            "errorDetailType": "com.linkedin.common.error.BadRequest",
            "message": f"com.linkedin.content.common.exception.BadRequestResponseException: Content is a duplicate of {urn}",
            "errorDetails": {
                "inputErrors": [
                    {"description": "Duplicate post is detected", "input": {}, "code": "DUPLICATE_POST"}
                ]
            },
            "status": 422,
        },
        status_code=422,
    )

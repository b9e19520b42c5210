"""A local fake of X's OAuth 2 (PKCE) endpoints and the v2 API's `users/me` and `tweets`.

    fake = FakeX()                      # confidential client; FakeX(client_secret="") is public
    with serve(fake.app) as base_url:
        ...  # x_api_base = x_auth_base = base_url

What it speaks, as X does:

* `GET /i/oauth2/authorize` auto-approves the user and redirects with `code` + `state`; it
  insists on `response_type=code`, the client id, a redirect URI, a state and an S256
  `code_challenge`;
* `POST /2/oauth2/token` authenticates a confidential client by HTTP Basic (a public one by the
  `client_id` in the form), takes each code once, checks the redirect URI and that
  BASE64URL(SHA-256(code_verifier)) is the challenge. Access tokens live 2 hours; a refresh
  token comes with `offline.access` and **rotates**: a refresh answers a new one and retires the
  old. An unknown, used or revoked refresh token → 400 `invalid_request` "Value passed for the
  token was invalid." (X's answer);
* `GET /2/users/me` → `{"data": {"id", "name", "username", "profile_image_url"?}}`;
* `POST /2/tweets` `{"text"}` → 201 `{"data": {"id", "text", "edit_history_tweet_ids"}}`; identical
  text from the same user → 403 "You are not allowed to create a Tweet with duplicate content.";
  401 problem+json for a bad or expired token; 400 with `errors` for a missing text. Every
  answer carries the `x-rate-limit-*` (15-minute window, `window_limit`) and
  `x-user-limit-24hour-*` (`daily_limit`) headers, resets in epoch seconds; over either → 429;
* `GET /2/tweets/{id}` (needs `tweet.read` and `users.read`) → `{"data": {"id", "text",
  "edit_history_tweet_ids", "public_metrics"?}}`, `public_metrics` only when `tweet.fields` asks
  for it, with the counts in the post's `public_metrics` (tests set them). An unknown id is a 200
  with only `errors` (X's "Not Found Error"), a non-numeric one a 400; its own 15-minute window
  (`lookup_window_limit`) with `x-rate-limit-*` headers, over it → 429.

* media upload (v2): `POST /2/media/upload/initialize` `{media_type, total_bytes, media_category}`
  → `{"data": {"id", "media_key", "expires_after_secs"}}`; `POST /2/media/upload/{id}/append`
  multipart `media` + `segment_index` (0-999, at most 5 MB each) → `{"data": {"expires_at"}}`;
  `POST /2/media/upload/{id}/finalize` checks that the segments add up to `total_bytes` → the
  upload, with `processing_info` `{state: pending, check_after_secs: 1}` for videos and GIFs;
  `GET /2/media/upload?command=STATUS&media_id=` moves a processing file on one step per read
  (pending → in_progress → succeeded), or to `failed` with `error: {code, name, message}` for a
  file whose upload matched `fail_processing` (a media type); `POST /2/media/metadata` sets alt
  text (≤ 1000 characters). A post's `media.media_ids` must be 1-4 finalized, processed uploads of
  this user, else 400 "Your media IDs are invalid.";

Faults (`fake.faults`, route names "tweets", "tweet_lookup", "token", "users_me", "media_init",
"media_append", "media_finalize", "media_status", "media_metadata"): `fail_next` (429/5xx with the
headers you give), `drop_next` (the post is stored, then the connection is cut), `delay_next`.
"""

from __future__ import annotations

import asyncio
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

ACCESS_TTL_SECONDS = 7200
WINDOW_SECONDS = 900
DAY_SECONDS = 86400
_tweet_ids = itertools.count(1_790_000_000_000_000_001)
_media_ids = itertools.count(1_880_000_000_000_000_001)
MAX_SEGMENT_BYTES = 5 * 1024 * 1024


@dataclass
class XMedia:
    id: str
    user_id: str
    media_type: str
    total_bytes: int
    category: str
    segments: dict[int, bytes] = field(default_factory=dict)
    finalized: bool = False
    state: str = ""  # "" (nothing to process) | pending | in_progress | succeeded | failed
    alt_text: str = ""
    reads: int = 0  # STATUS reads so far


@dataclass
class XUser:
    id: str = "2244994945"
    username: str = "ada_builds"
    name: str = "Ada Lovelace"
    profile_image_url: str = "https://pbs.twimg.example/ada_normal.jpg"


@dataclass
class XPost:
    id: str
    user_id: str
    text: str
    headers: dict[str, str]
    received_at: float  # time.time() when the request arrived
    media_ids: list[str] = field(default_factory=list)
    # What `GET /2/tweets/{id}` reports; tests set the numbers they expect back.
    public_metrics: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "retweet_count",
                "reply_count",
                "like_count",
                "quote_count",
                "bookmark_count",
                "impression_count",
            ),
            0,
        )
    )


@dataclass
class _Token:
    user_id: str
    scope: str
    expires_at: float


@dataclass
class _Grant:
    redirect_uri: str
    scope: str
    code_challenge: str


@dataclass
class FakeX:
    client_id: str = "x-client"
    client_secret: str = "x-secret"
    user: XUser = field(default_factory=XUser)
    window_limit: int = 100  # POST /2/tweets per user per 15 minutes
    daily_limit: int = 2400  # per user per 24 hours
    lookup_window_limit: int = 900  # GET /2/tweets/{id} per user per 15 minutes
    faults: Faults = field(default_factory=Faults)
    posts: list[XPost] = field(default_factory=list)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    media: dict[str, XMedia] = field(default_factory=dict)
    # Uploads of these media types fail processing (STATUS → failed, InvalidMedia).
    fail_processing: set[str] = field(default_factory=set)
    processing_steps: int = 2  # STATUS reads before a processing file is done

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._grants: dict[str, _Grant] = {}
        self.access_tokens: dict[str, _Token] = {}
        self.refresh_tokens: dict[str, _Token] = {}  # only the live ones
        self.retired_refresh_tokens: set[str] = set()
        self._window_start = time.time()
        self._window_used = 0
        self._day_start = time.time()
        self._day_used = 0
        self._lookup_window_start = time.time()
        self._lookup_used = 0
        self.app = Starlette(
            routes=[
                Route("/i/oauth2/authorize", self._authorize),
                Route("/2/oauth2/token", self._token, methods=["POST"]),
                Route("/2/users/me", self._users_me),
                Route("/2/tweets", self._create_tweet, methods=["POST"]),
                Route("/2/tweets/{id}", self._lookup_tweet),
                Route("/2/media/upload/initialize", self._media_init, methods=["POST"]),
                Route("/2/media/upload/{id}/append", self._media_append, methods=["POST"]),
                Route("/2/media/upload/{id}/finalize", self._media_finalize, methods=["POST"]),
                Route("/2/media/upload", self._media_status, methods=["GET"]),
                Route("/2/media/metadata", self._media_metadata, methods=["POST"]),
            ]
        )

    # -- test helpers ------------------------------------------------------------------------

    def issue_tokens(
        self,
        *,
        scope: str = "tweet.read tweet.write users.read offline.access",
        ttl: float = ACCESS_TTL_SECONDS,
    ) -> tuple[str, str | None]:
        """(access token, refresh token or None without offline.access), as if the user connected."""
        token = _Token(self.user.id, scope, time.time() + ttl)
        access = f"x-at-{secrets.token_urlsafe(12)}"
        refresh = f"x-rt-{secrets.token_urlsafe(12)}" if "offline.access" in scope.split() else None
        with self._lock:
            self.access_tokens[access] = token
            if refresh:
                self.refresh_tokens[refresh] = token
        return access, refresh

    def expire(self, access_token: str) -> None:
        with self._lock:
            self.access_tokens[access_token].expires_at = time.time() - 1

    def revoke(self, token: str) -> None:
        """The user revoked the app (or X did): the token stops working."""
        with self._lock:
            self.access_tokens.pop(token, None)
            self.refresh_tokens.pop(token, None)

    # -- OAuth -------------------------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.authorize_requests.append(query)
        problem = self._authorize_problem(query)
        if problem:
            return JSONResponse({"error": "invalid_request", "error_description": problem}, status_code=400)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._grants[code] = _Grant(
                query["redirect_uri"], query.get("scope", ""), query["code_challenge"]
            )
        separator = "&" if "?" in query["redirect_uri"] else "?"
        params = urlencode({"state": query["state"], "code": code})
        return RedirectResponse(f"{query['redirect_uri']}{separator}{params}", status_code=302)

    def _authorize_problem(self, query: dict[str, str]) -> str:
        if query.get("response_type") != "code":
            return "response_type must be code"
        if query.get("client_id") != self.client_id:
            return "unknown client_id"
        if not query.get("redirect_uri") or not query.get("state"):
            return "redirect_uri and state are required"
        if not query.get("code_challenge") or query.get("code_challenge_method") != "S256":
            return "an S256 code_challenge is required"
        return ""

    async def _token(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        self.token_requests.append(form | {"authorization": request.headers.get("authorization", "")})
        fault = await self._fault("token")
        if fault is not None:
            return fault
        problem = self._client_problem(request, form)
        if problem:
            return _oauth_error("unauthorized_client", problem, status=401)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        return _oauth_error("invalid_request", "Value passed for the grant type was invalid.")

    def _client_problem(self, request: Request, form: dict[str, str]) -> str:
        if not self.client_secret:  # public client: names itself, proves nothing
            return "" if form.get("client_id") == self.client_id else "Missing valid client_id"
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return "Missing valid authorization header"
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return "Missing valid authorization header"
        if (client_id, secret) != (self.client_id, self.client_secret):
            return "Missing valid authorization header"
        return ""

    def _exchange_code(self, form: dict[str, str]) -> Response:
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)
        if grant is None or grant.redirect_uri != form.get("redirect_uri"):
            return _oauth_error("invalid_request", "Value passed for the authorization code was invalid.")
        verifier = form.get("code_verifier", "")
        if not verifier or _s256(verifier) != grant.code_challenge:
            return _oauth_error(
                "invalid_request", "Value passed for the code verifier did not match the challenge."
            )
        access, refresh = self.issue_tokens(scope=grant.scope)
        return JSONResponse(_token_answer(access, refresh, grant.scope))

    def _refresh(self, form: dict[str, str]) -> Response:
        old = form.get("refresh_token", "")
        with self._lock:
            token = self.refresh_tokens.pop(old, None)
            if token is not None:
                self.retired_refresh_tokens.add(old)
        if token is None:
            return _oauth_error("invalid_request", "Value passed for the token was invalid.")
        access, refresh = self.issue_tokens(scope=token.scope)
        return JSONResponse(_token_answer(access, refresh, token.scope))

    # -- API ---------------------------------------------------------------------------------

    async def _users_me(self, request: Request) -> Response:
        fault = await self._fault("users_me")
        if fault is not None:
            return fault
        _token, problem = self._authenticate(request)
        if problem is not None:
            return problem
        user: dict[str, Any] = {"id": self.user.id, "name": self.user.name, "username": self.user.username}
        if "profile_image_url" in request.query_params.get("user.fields", "").split(","):
            user["profile_image_url"] = self.user.profile_image_url
        return JSONResponse({"data": user})

    async def _create_tweet(self, request: Request) -> Response:
        received_at = time.time()
        fault = self.faults.take("tweets")
        if fault is not None and fault.kind == "status":
            return fault.response()
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
        token, problem = self._authenticate(request)
        if problem is not None:
            return problem
        if "tweet.write" not in token.scope.split():
            return _problem(403, "Forbidden", "You are not permitted to perform this action.")
        headers, over = self._count_request()
        if over:
            return _problem(429, "Too Many Requests", "Too Many Requests", headers=headers)
        body = await request.json()
        text = body.get("text") if isinstance(body, dict) else None
        media = body.get("media") if isinstance(body, dict) else None
        media_ids = media.get("media_ids") if isinstance(media, dict) else []
        if not isinstance(text, str) or (not text and not media_ids):
            return _invalid_request("text", "$.text: is missing but it is required", headers)
        if media_ids and not self._usable_media(media_ids, token.user_id):
            return _invalid_request(
                "media.media_ids", "Your media IDs are invalid.", headers, value=media_ids
            )
        with self._lock:
            duplicate = bool(text) and any(
                post.user_id == token.user_id and post.text == text for post in self.posts
            )
            if not duplicate:
                post = XPost(
                    str(next(_tweet_ids)),
                    token.user_id,
                    text,
                    dict(request.headers),
                    received_at,
                    media_ids=list(media_ids or []),
                )
                self.posts.append(post)
        if duplicate:
            return _problem(
                403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.", headers
            )
        if fault is not None and fault.kind == "drop":
            return dropped_response(201)
        return JSONResponse(
            {"data": {"id": post.id, "text": text, "edit_history_tweet_ids": [post.id]}},
            status_code=201,
            headers=headers,
        )

    async def _lookup_tweet(self, request: Request) -> Response:
        fault = self.faults.take("tweet_lookup")
        if fault is not None and fault.kind == "status":
            return fault.response()
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
        token, problem = self._authenticate(request)
        if problem is not None:
            return problem
        if not {"tweet.read", "users.read"} <= set(token.scope.split()):
            return _problem(403, "Forbidden", "You are not permitted to perform this action.")
        headers, over = self._count_lookup()
        if over:
            return _problem(429, "Too Many Requests", "Too Many Requests", headers=headers)
        post_id = request.path_params["id"]
        if not post_id.isdigit():
            return _invalid_request(
                "id", f"The `id` query parameter value [{post_id}] is not valid", headers, value=[post_id]
            )
        with self._lock:
            post = next((p for p in self.posts if p.id == post_id), None)
            metrics = dict(post.public_metrics) if post is not None else {}
        if fault is not None and fault.kind == "drop":
            return dropped_response(200)
        if post is None:
            return JSONResponse({"errors": [_not_found(post_id)]}, headers=headers)
        data: dict[str, Any] = {"id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id]}
        if "public_metrics" in request.query_params.get("tweet.fields", "").split(","):
            data["public_metrics"] = metrics
        return JSONResponse({"data": data}, headers=headers)

    # -- media -------------------------------------------------------------------------------

    def _usable_media(self, media_ids: Any, user_id: str) -> bool:
        if not isinstance(media_ids, list) or not 1 <= len(media_ids) <= 4:
            return False
        with self._lock:
            found = [self.media.get(str(media_id)) for media_id in media_ids]
        return all(
            item is not None
            and item.user_id == user_id
            and item.finalized
            and item.state in ("", "succeeded")
            for item in found
        )

    async def _media_init(self, request: Request) -> Response:
        fault = await self._fault("media_init")
        if fault is not None:
            return fault
        token, problem = self._authenticate(request)
        if problem is not None:
            return problem
        body = await request.json()
        media_type = str(body.get("media_type") or "")
        total = body.get("total_bytes")
        category = str(body.get("media_category") or "")
        if not media_type or not isinstance(total, int) or total <= 0 or not category:
            return _invalid_request(
                "media_type", "media_type, total_bytes and media_category are required", {}
            )
        item = XMedia(str(next(_media_ids)), token.user_id, media_type, total, category)
        with self._lock:
            self.media[item.id] = item
        return JSONResponse(
            {"data": {"id": item.id, "media_key": f"7_{item.id}", "expires_after_secs": 1295999}}
        )

    def _own_media(self, request: Request, token: _Token) -> XMedia | Response:
        item = self.media.get(request.path_params.get("id") or request.query_params.get("media_id", ""))
        if item is None or item.user_id != token.user_id:
            return _problem(400, "Invalid Request", "The media id is not valid.")
        return item

    async def _media_append(self, request: Request) -> Response:
        fault = await self._fault("media_append")
        if fault is not None:
            return fault
        token, problem = self._authenticate(request)
        if problem is not None:
            return problem
        item = self._own_media(request, token)
        if isinstance(item, Response):
            return item
        form = await request.form()
        upload = form.get("media")
        index = str(form.get("segment_index") or "")
        if upload is None or isinstance(upload, str) or not index.isdigit() or int(index) > 999:
            return _problem(400, "Invalid Request", "media and segment_index (0-999) are required.")
        data = await upload.read()
        if len(data) > MAX_SEGMENT_BYTES:
            return _problem(400, "Invalid Request", "A segment may carry at most 5 MB.")
        with self._lock:
            item.segments[int(index)] = data
        return JSONResponse({"data": {"expires_at": int(time.time()) + 86400}})

    async def _media_finalize(self, request: Request) -> Response:
        fault = await self._fault("media_finalize")
        if fault is not None:
            return fault
        token, problem = self._authenticate(request)
        if problem is not None:
            return problem
        item = self._own_media(request, token)
        if isinstance(item, Response):
            return item
        with self._lock:
            size = sum(len(data) for data in item.segments.values())
            contiguous = sorted(item.segments) == list(range(len(item.segments)))
            if size != item.total_bytes or not contiguous:
                return _problem(
                    400, "Invalid Request", f"Segments total {size} bytes, not {item.total_bytes}."
                )
            item.finalized = True
            if item.category in ("tweet_video", "tweet_gif"):
                item.state = "pending"
            answer = self._media_answer(item)
        return JSONResponse({"data": answer})

    async def _media_status(self, request: Request) -> Response:
        fault = await self._fault("media_status")
        if fault is not None:
            return fault
        token, problem = self._authenticate(request)
        if problem is not None:
            return problem
        if request.query_params.get("command") != "STATUS":
            return _problem(400, "Invalid Request", "command must be STATUS.")
        item = self._own_media(request, token)
        if isinstance(item, Response):
            return item
        with self._lock:
            item.reads += 1
            if item.state in ("pending", "in_progress"):
                if item.media_type in self.fail_processing:
                    item.state = "failed"
                elif item.reads >= self.processing_steps:
                    item.state = "succeeded"
                else:
                    item.state = "in_progress"
            answer = self._media_answer(item)
        return JSONResponse({"data": answer})

    def _media_answer(self, item: XMedia) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": item.id,
            "media_key": f"7_{item.id}",
            "size": item.total_bytes,
            "expires_after_secs": 86400,
        }
        if item.state:
            info: dict[str, Any] = {"state": item.state}
            if item.state in ("pending", "in_progress"):
                info["check_after_secs"] = 1
                info["progress_percent"] = 0 if item.state == "pending" else 50
            if item.state == "failed":
                info["error"] = {"code": 1, "name": "InvalidMedia", "message": "Unsupported video codec."}
            answer["processing_info"] = info
        return answer

    async def _media_metadata(self, request: Request) -> Response:
        fault = await self._fault("media_metadata")
        if fault is not None:
            return fault
        token, problem = self._authenticate(request)
        if problem is not None:
            return problem
        body = await request.json()
        item = self.media.get(str(body.get("id") or ""))
        text = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        if item is None or item.user_id != token.user_id:
            return _problem(400, "Invalid Request", "The media id is not valid.")
        if not isinstance(text, str) or len(text) > 1000:
            return _problem(400, "Invalid Request", "alt_text.text must be at most 1000 characters.")
        with self._lock:
            item.alt_text = text
        return JSONResponse({"data": {"id": item.id, "associated_metadata": {"alt_text": {"text": text}}}})

    def _count_lookup(self) -> tuple[dict[str, str], bool]:
        """The lookup endpoint's own 15-minute window (X limits each endpoint separately)."""
        now = time.time()
        with self._lock:
            if now >= self._lookup_window_start + WINDOW_SECONDS:
                self._lookup_window_start, self._lookup_used = now, 0
            over = self._lookup_used >= self.lookup_window_limit
            if not over:
                self._lookup_used += 1
            headers = {
                "x-rate-limit-limit": str(self.lookup_window_limit),
                "x-rate-limit-remaining": str(max(self.lookup_window_limit - self._lookup_used, 0)),
                "x-rate-limit-reset": str(int(self._lookup_window_start + WINDOW_SECONDS)),
            }
        return headers, over

    def _authenticate(self, request: Request) -> tuple[_Token, Response | None]:
        header = request.headers.get("authorization", "")
        access = header[7:].strip() if header.startswith("Bearer ") else ""
        with self._lock:
            token = self.access_tokens.get(access)
        if token is None or token.expires_at < time.time():
            return _Token("", "", 0), _problem(401, "Unauthorized", "Unauthorized")
        return token, None

    def _count_request(self) -> tuple[dict[str, str], bool]:
        """This request against the user's windows: the rate-limit headers, and whether it is over."""
        now = time.time()
        with self._lock:
            if now >= self._window_start + WINDOW_SECONDS:
                self._window_start, self._window_used = now, 0
            if now >= self._day_start + DAY_SECONDS:
                self._day_start, self._day_used = now, 0
            over = self._window_used >= self.window_limit or self._day_used >= self.daily_limit
            if not over:
                self._window_used += 1
                self._day_used += 1
            headers = {
                "x-rate-limit-limit": str(self.window_limit),
                "x-rate-limit-remaining": str(max(self.window_limit - self._window_used, 0)),
                "x-rate-limit-reset": str(int(self._window_start + WINDOW_SECONDS)),
                "x-user-limit-24hour-limit": str(self.daily_limit),
                "x-user-limit-24hour-remaining": str(max(self.daily_limit - self._day_used, 0)),
                "x-user-limit-24hour-reset": str(int(self._day_start + DAY_SECONDS)),
            }
        return headers, over

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


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _token_answer(access: str, refresh: str | None, scope: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "token_type": "bearer",
        "expires_in": ACCESS_TTL_SECONDS,
        "access_token": access,
        "scope": scope,
    }
    if refresh:
        answer["refresh_token"] = refresh
    return answer


def _oauth_error(error: str, description: str, *, status: int = 400) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"title": title, "type": "about:blank", "status": status, "detail": detail},
        status_code=status,
        headers=headers,
        media_type="application/problem+json",
    )


def _not_found(post_id: str) -> dict[str, str]:
    return {
        "value": post_id,
        "detail": f"Could not find tweet with id: [{post_id}].",
        "title": "Not Found Error",
        "resource_type": "tweet",
        "parameter": "id",
        "resource_id": post_id,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


def _invalid_request(
    parameter: str, message: str, headers: dict[str, str], *, value: list[str] | None = None
) -> Response:
    return JSONResponse(
        {
            "errors": [{"parameters": {parameter: value or []}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
        status_code=400,
        headers=headers,
        media_type="application/problem+json",
    )

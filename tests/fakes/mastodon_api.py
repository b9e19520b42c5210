"""A Mastodon instance for tests, as a Starlette app speaking Mastodon's wire format.

    mastodon = FakeMastodon(max_characters=500)
    with serve(mastodon.app) as base_url:
        ...  # base_url is the instance URL

What it implements, as Mastodon 4.3 does:

* `POST /api/v1/apps` (form or JSON) registers a client and returns its credentials;
* `GET /oauth/authorize` checks the client, redirect URI, scopes and the S256 PKCE challenge,
  then redirects to the redirect URI with `code` and `state` — at once when `auto_approve` is
  on (the default), else it shows a consent page whose "Authorize" link adds `approve=1`
  (`deny=1` redirects with `error=access_denied`);
* `POST /oauth/token` (client_secret_post or basic) takes each code once and checks the
  redirect URI and SHA-256(code_verifier) against the challenge;
* `GET /api/v1/accounts/verify_credentials`, `GET /api/v2/instance`;
* `POST /api/v1/statuses`: `Idempotency-Key` replays return the original status (per account,
  for an hour), longer than `max_characters` → 422 "Validation failed: Text character limit of
  N exceeded"; `GET /api/v1/statuses/:id`.
* `POST /api/v2/media` (multipart `file`, `description` ≤ 1500 characters; scope `write:media`):
  an image → 200 with its `url`; a video → 202 with `url: null` while it is processed;
  `GET /api/v1/media/:id` → 206 for `processing_steps` reads, then 200 with the `url`, or 422
  `{"error": …}` for a file whose type is in `fail_processing`. A file type outside
  `supported_mime_types` → 422 "Validation failed: File content type is invalid". A status's
  `media_ids` must be this account's processed, unattached files (at most 4), else 422;
* Rate limits as Mastodon keeps them: 300 requests per 5 minutes per token on every API
  answer, and for creating statuses 300 per 3 hours per account (its `statuses` family) —
  `X-RateLimit-Limit/Remaining/Reset` (Reset in ISO-8601) on every authenticated API answer,
  429 beyond.
  `FakeMastodon(rate_limits=False)` sends the headers but never refuses (for benchmarks).

Every status received is kept in `posts` with its `time.time()` receipt time. Fault knobs
(`faults`, routes "apps", "authorize", "token", "verify_credentials", "instance", "statuses",
"status", "media", "media_status"): `fail_next`, `drop_next` (the status is created, then the connection is cut),
`delay_next`; `throttle_next(route)` answers one 429 with Mastodon's headers.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import regex
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.faults import Faults, dropped_response

KNOWN_SCOPES = frozenset(
    {
        "read",
        "write",
        "follow",
        "push",
        "profile",
        "read:accounts",
        "read:statuses",
        "write:statuses",
        "write:media",
        "write:accounts",
    }
)
API_LIMIT, API_PERIOD = 300, 300  # per token, every endpoint
STATUS_LIMIT, STATUS_PERIOD = 300, 3 * 3600  # per account, creating statuses
IDEMPOTENCY_SECONDS = 3600
URL_WEIGHT = 23
_URL = re.compile(r"https?://\S+")
_GRAPHEME = regex.compile(r"\X")
VAPID_KEY = "BCk-QqERU0q-CfYZjcuB6lnyyOYfJ2AifKqfeGIm7Z-HiTU5T9eTG5GxVA0_OH5mMlI4UkkDTpaZwozy0TzdZ2M="
INVALID_TOKEN = {"error": "The access token is invalid"}


@dataclass
class FakeMastodonAccount:
    id: str = "109348000000000001"
    username: str = "alice"
    display_name: str = "Alice Example"
    avatar: str = "https://files.mastodon.test/avatars/alice.png"


@dataclass
class RegisteredApp:
    client_id: str
    client_secret: str
    name: str
    redirect_uris: list[str]
    scopes: list[str]
    website: str


@dataclass
class ReceivedStatus:
    id: str
    account_id: str
    text: str
    visibility: str
    language: str | None
    idempotency_key: str | None
    received_at: float  # time.time() when the request arrived
    created_at: str
    favourites_count: int = 0
    reblogs_count: int = 0
    replies_count: int = 0
    media_ids: list[str] = field(default_factory=list)


@dataclass
class ReceivedMedia:
    id: str
    account_id: str
    mime_type: str
    data: bytes
    description: str
    processing_left: int  # GET reads before it is processed (0: ready)
    status_id: str | None = None  # the status it is attached to


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    scopes: list[str]
    code_challenge: str
    code_challenge_method: str


@dataclass
class _Token:
    account_id: str
    scopes: set[str]
    revoked: bool = False


@dataclass
class FakeMastodon:
    domain: str = "mastodon.test"
    max_characters: int = 500
    account: FakeMastodonAccount = field(default_factory=FakeMastodonAccount)
    auto_approve: bool = True
    require_pkce: bool = True
    rate_limits: bool = True
    faults: Faults = field(default_factory=Faults)
    # What clients sent, for assertions.
    apps: dict[str, RegisteredApp] = field(default_factory=dict)
    posts: list[ReceivedStatus] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    media: dict[str, ReceivedMedia] = field(default_factory=dict)
    supported_mime_types: tuple[str, ...] = (
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "video/mp4",
        "video/webm",
        "video/quicktime",
    )
    fail_processing: set[str] = field(default_factory=set)  # mime types whose processing fails
    processing_steps: int = 2  # 206 answers before a video is processed

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._grants: dict[str, _Grant] = {}
        self._tokens: dict[str, _Token] = {}
        self._statuses: dict[str, ReceivedStatus] = {}
        self._idempotency: dict[tuple[str, str], tuple[str, float]] = {}
        self._windows: dict[tuple[str, str, int], int] = {}
        self._sequence = itertools.count(1)
        self.app = Starlette(
            routes=[
                Route("/api/v1/apps", self._apps, methods=["POST"]),
                Route("/oauth/authorize", self._authorize, methods=["GET"]),
                Route("/oauth/token", self._token, methods=["POST"]),
                Route("/api/v1/accounts/verify_credentials", self._verify_credentials, methods=["GET"]),
                Route("/api/v2/instance", self._instance, methods=["GET"]),
                Route("/api/v1/statuses", self._create_status, methods=["POST"]),
                Route("/api/v1/statuses/{status_id}", self._get_status, methods=["GET"]),
                Route("/api/v2/media", self._upload_media, methods=["POST"]),
                Route("/api/v1/media/{media_id}", self._get_media, methods=["GET"]),
            ]
        )

    # --- test helpers ---------------------------------------------------------------------

    def issue_token(self, scopes: str = "read write:statuses write:media") -> str:
        """An access token for `account`, as if the OAuth flow had run."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = _Token(self.account.id, set(scopes.split()))
        return token

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._tokens[token].revoked = True

    def throttle_next(self, route: str, *, reset_in_seconds: int = 120, times: int = 1) -> datetime:
        """Answer the next request to `route` with Mastodon's 429; returns the announced reset."""
        reset = datetime.fromtimestamp(int(time.time()) + reset_in_seconds, UTC)
        headers = {
            "X-RateLimit-Limit": str(STATUS_LIMIT),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": _iso(reset),
        }
        self.faults.fail_next(
            route, status=429, headers=headers, body={"error": "Too many requests"}, times=times
        )
        return reset

    def status(self, status_id: str) -> ReceivedStatus:
        return self._statuses[status_id]

    # --- apps and OAuth ---------------------------------------------------------------------

    async def _apps(self, request: Request) -> Response:
        if fault := await self._fault("apps"):
            return fault
        form = await _body(request)
        name = str(form.get("client_name") or "").strip()
        redirect_uris = _as_list(form.get("redirect_uris"))
        scopes = (str(form.get("scopes") or "read")).split()
        if not name:
            return _error(422, "Validation failed: Application name can't be blank")
        if not redirect_uris or not all(_absolute_uri(uri) for uri in redirect_uris):
            return _error(422, "Validation failed: Redirect URI must be an absolute URI.")
        unknown = [scope for scope in scopes if scope not in KNOWN_SCOPES]
        if unknown:
            return _error(422, f"Validation failed: Scopes are invalid ({' '.join(unknown)})")
        registered = RegisteredApp(
            client_id=secrets.token_urlsafe(32),
            client_secret=secrets.token_urlsafe(32),
            name=name,
            redirect_uris=redirect_uris,
            scopes=scopes,
            website=str(form.get("website") or ""),
        )
        with self._lock:
            self.apps[registered.client_id] = registered
        return JSONResponse(
            {
                "id": str(len(self.apps)),
                "name": registered.name,
                "website": registered.website or None,
                "scopes": registered.scopes,
                "redirect_uri": "\n".join(redirect_uris),
                "redirect_uris": redirect_uris,
                "client_id": registered.client_id,
                "client_secret": registered.client_secret,
                "client_secret_expires_at": 0,
                "vapid_key": VAPID_KEY,
            }
        )

    async def _authorize(self, request: Request) -> Response:
        if fault := await self._fault("authorize"):
            return fault
        query = dict(request.query_params)
        self.authorize_requests.append(query)
        problem = self._authorize_problem(query)
        if problem:
            return HTMLResponse(f"<h1>Authorization error</h1><p>{html.escape(problem)}</p>", status_code=400)
        redirect_uri = query["redirect_uri"]
        if query.get("deny") == "1":
            return _redirect(redirect_uri, {"error": "access_denied", "state": query.get("state", "")})
        if not (self.auto_approve or query.get("approve") == "1"):
            approve = f"/oauth/authorize?{urlencode({**query, 'approve': '1'})}"
            return HTMLResponse(
                f"<h1>Authorize {html.escape(self.apps[query['client_id']].name)}?</h1>"
                f'<a href="{html.escape(approve)}">Authorize</a>'
            )
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._grants[code] = _Grant(
                client_id=query["client_id"],
                redirect_uri=redirect_uri,
                scopes=(query.get("scope") or "read").split(),
                code_challenge=query.get("code_challenge", ""),
                code_challenge_method=query.get("code_challenge_method", ""),
            )
        return _redirect(redirect_uri, {"code": code, "state": query.get("state", "")})

    def _authorize_problem(self, query: dict[str, str]) -> str:
        registered = self.apps.get(query.get("client_id", ""))
        if registered is None:
            return "Client authentication failed due to unknown client."
        if query.get("response_type") != "code":
            return "The authorization server does not support this response type."
        if query.get("redirect_uri") not in registered.redirect_uris:
            return "The requested redirect uri is malformed or doesn't match client redirect URI."
        requested = (query.get("scope") or "read").split()
        if not set(requested) <= set(registered.scopes):
            return "The requested scope is invalid, unknown, or malformed."
        method = query.get("code_challenge_method", "")
        if query.get("code_challenge") and method != "S256":
            return "Code challenge method must be S256."
        if self.require_pkce and not query.get("code_challenge"):
            return "Code challenge is required."
        return ""

    async def _token(self, request: Request) -> Response:
        if fault := await self._fault("token"):
            return fault
        form = await _body(request)
        self.token_requests.append({key: str(value) for key, value in form.items()})
        registered = self._authenticated_client(request, form)
        if registered is None:
            return _oauth_error(401, "invalid_client", "Client authentication failed due to unknown client.")
        if form.get("grant_type") != "authorization_code":
            return _oauth_error(
                400, "unsupported_grant_type", "The authorization grant type is not supported."
            )
        with self._lock:
            grant = self._grants.pop(str(form.get("code") or ""), None)  # single use
        invalid_grant = (
            "The provided authorization grant is invalid, expired, revoked, does not match the "
            "redirection URI used in the authorization request, or was issued to another client."
        )
        if grant is None or grant.client_id != registered.client_id:
            return _oauth_error(400, "invalid_grant", invalid_grant)
        if grant.redirect_uri != form.get("redirect_uri"):
            return _oauth_error(400, "invalid_grant", invalid_grant)
        if grant.code_challenge and _s256(str(form.get("code_verifier") or "")) != grant.code_challenge:
            return _oauth_error(400, "invalid_grant", invalid_grant)
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = _Token(self.account.id, set(grant.scopes))
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "Bearer",
                "scope": " ".join(grant.scopes),
                "created_at": int(time.time()),
            }
        )

    def _authenticated_client(self, request: Request, form: dict[str, Any]) -> RegisteredApp | None:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        else:
            client_id, secret = str(form.get("client_id") or ""), str(form.get("client_secret") or "")
        registered = self.apps.get(client_id)
        if registered is None or not secrets.compare_digest(registered.client_secret, secret):
            return None
        return registered

    # --- API ---------------------------------------------------------------------------------

    async def _verify_credentials(self, request: Request) -> Response:
        if fault := await self._fault("verify_credentials"):
            return fault
        token, problem = self._authorize_token(request, {"read", "read:accounts", "profile"})
        if problem:
            return problem
        headers = self._count(token, "api")
        return JSONResponse(self._account_json(), headers=headers)

    async def _instance(self, request: Request) -> Response:
        if fault := await self._fault("instance"):
            return fault
        return JSONResponse(
            {
                "domain": self.domain,
                "title": "Fake Mastodon",
                "version": "4.3.0",
                "source_url": "https://github.com/mastodon/mastodon",
                "configuration": {
                    "urls": {"streaming": f"wss://{self.domain}"},
                    "accounts": {"max_featured_tags": 10},
                    "statuses": {
                        "max_characters": self.max_characters,
                        "max_media_attachments": 4,
                        "characters_reserved_per_url": URL_WEIGHT,
                    },
                },
                "registrations": {"enabled": False, "approval_required": False},
            }
        )

    async def _create_status(self, request: Request) -> Response:
        received_at = time.time()
        fault = self.faults.take("statuses")
        if fault and fault.kind == "status":
            return fault.response()
        if fault and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
        token, problem = self._authorize_token(request, {"write", "write:statuses"})
        if problem:
            return problem
        form = await _body(request)
        key = request.headers.get("idempotency-key")
        replay = self._replay(token.account_id, key) if key else None
        if replay is not None:
            return JSONResponse(
                self._status_json(replay), headers=self._count(token, "statuses", record=False)
            )
        if self.rate_limits and self._used(token, "statuses") >= STATUS_LIMIT:
            return JSONResponse(
                {"error": "Too many requests"},
                status_code=429,
                headers=self._count(token, "statuses", record=False),
            )
        text = str(form.get("status") or "")
        visibility = str(form.get("visibility") or "public")
        media_ids = [str(item) for item in form.get("media_ids") or []]
        problem = self._media_problem(media_ids, token.account_id) or self._status_problem(
            text, visibility, has_media=bool(media_ids)
        )
        if problem:
            return _error(422, problem, headers=self._count(token, "statuses", record=False))
        status = ReceivedStatus(
            id=self._next_id(received_at),
            account_id=token.account_id,
            text=text,
            visibility=visibility,
            language=(str(form["language"]) if form.get("language") else None),
            idempotency_key=key,
            received_at=received_at,
            created_at=_iso(datetime.fromtimestamp(received_at, UTC)),
            media_ids=media_ids,
        )
        with self._lock:
            for media_id in media_ids:
                self.media[media_id].status_id = status.id
            self._statuses[status.id] = status
            self.posts.append(status)
            if key:
                self._idempotency[(token.account_id, key)] = (status.id, received_at)
        headers = self._count(token, "statuses")
        if fault and fault.kind == "drop":
            return dropped_response(200, fault)
        return JSONResponse(self._status_json(status), headers=headers)

    def _media_problem(self, media_ids: list[str], account_id: str) -> str:
        if len(media_ids) > 4:
            return "Validation failed: Media attachments cannot be more than 4"
        for media_id in media_ids:
            item = self.media.get(media_id)
            if item is None or item.account_id != account_id or item.status_id is not None:
                return "Validation failed: Media attachments are invalid"
            if item.processing_left > 0:
                return "Validation failed: Media attachments have not finished processing. Try again in a moment!"
        return ""

    async def _upload_media(self, request: Request) -> Response:
        if fault := await self._fault("media"):
            return fault
        token, problem = self._authorize_token(request, {"write", "write:media"})
        if problem:
            return problem
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return _error(422, "Validation failed: File can't be blank")
        mime = upload.content_type or ""
        if mime not in self.supported_mime_types:
            return _error(422, "Validation failed: File content type is invalid, File is invalid")
        description = str(form.get("description") or "")
        if len(description) > 1500:
            return _error(422, "Validation failed: Description is too long (maximum is 1500 characters)")
        item = ReceivedMedia(
            id=self._next_id(time.time()),
            account_id=token.account_id,
            mime_type=mime,
            data=await upload.read(),
            description=description,
            processing_left=self.processing_steps if mime.startswith("video/") else 0,
        )
        with self._lock:
            self.media[item.id] = item
        headers = self._count(token, "api")
        return JSONResponse(
            self._media_json(item), status_code=202 if item.processing_left else 200, headers=headers
        )

    async def _get_media(self, request: Request) -> Response:
        if fault := await self._fault("media_status"):
            return fault
        token, problem = self._authorize_token(request, {"write", "write:media"})
        if problem:
            return problem
        item = self.media.get(request.path_params["media_id"])
        if item is None or item.account_id != token.account_id:
            return JSONResponse({"error": "Record not found"}, status_code=404)
        if item.mime_type in self.fail_processing:
            return _error(422, "Error processing thumbnail for uploaded media")
        with self._lock:
            if item.processing_left > 0:
                item.processing_left -= 1
                return JSONResponse(self._media_json(item), status_code=206)
        return JSONResponse(self._media_json(item))

    def _media_json(self, item: ReceivedMedia) -> dict[str, Any]:
        kind = "video" if item.mime_type.startswith("video/") else "image"
        ready = item.processing_left == 0 and item.mime_type not in self.fail_processing
        return {
            "id": item.id,
            "type": kind,
            "url": f"https://files.{self.domain}/media/{item.id}" if ready else None,
            "preview_url": f"https://files.{self.domain}/media/{item.id}/small",
            "remote_url": None,
            "meta": {},
            "description": item.description or None,
            "blurhash": None,
        }

    def _status_problem(self, text: str, visibility: str, *, has_media: bool = False) -> str:
        if not text.strip() and not has_media:
            return "Validation failed: Text can't be blank"
        if _length(text) > self.max_characters:
            return f"Validation failed: Text character limit of {self.max_characters} exceeded"
        if visibility not in {"public", "unlisted", "private", "direct"}:
            return "Validation failed: Visibility is not included in the list"
        return ""

    async def _get_status(self, request: Request) -> Response:
        if fault := await self._fault("status"):
            return fault
        token, problem = self._authorize_token(request, {"read", "read:statuses"})
        if problem:
            return problem
        status = self._statuses.get(request.path_params["status_id"])
        headers = self._count(token, "api")
        if status is None:
            return JSONResponse({"error": "Record not found"}, status_code=404, headers=headers)
        return JSONResponse(self._status_json(status), headers=headers)

    # --- internals ---------------------------------------------------------------------------

    async def _fault(self, route: str) -> Response | None:
        fault = self.faults.take(route)
        if fault is None:
            return None
        if fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            return None
        if fault.kind == "drop":
            return dropped_response()
        return fault.response()

    def _authorize_token(self, request: Request, accepted_scopes: set[str]) -> tuple[Any, Response | None]:
        header = request.headers.get("authorization", "")
        token = self._tokens.get(header[7:].strip()) if header.lower().startswith("bearer ") else None
        if token is None or token.revoked:
            return None, JSONResponse(INVALID_TOKEN, status_code=401)
        if not token.scopes & accepted_scopes:
            return None, _error(403, "This action is outside the authorized scopes")
        if self.rate_limits and self._used(token, "api") >= API_LIMIT:
            return None, JSONResponse(
                {"error": "Too many requests"},
                status_code=429,
                headers=self._count(token, "api", record=False),
            )
        return token, None

    def _window(self, family: str) -> tuple[int, int, int]:
        limit, period = (STATUS_LIMIT, STATUS_PERIOD) if family == "statuses" else (API_LIMIT, API_PERIOD)
        return limit, period, int(time.time()) // period

    def _used(self, token: _Token, family: str) -> int:
        _, _, window = self._window(family)
        return self._windows.get((token.account_id, family, window), 0)

    def _count(self, token: _Token, family: str, *, record: bool = True) -> dict[str, str]:
        """Record one request in `family`'s window and return Mastodon's rate-limit headers."""
        limit, period, window = self._window(family)
        with self._lock:
            key = (token.account_id, family, window)
            if record:
                self._windows[key] = self._windows.get(key, 0) + 1
            used = self._windows.get(key, 0)
        reset = datetime.fromtimestamp((window + 1) * period, UTC)
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(limit - used, 0)),
            "X-RateLimit-Reset": _iso(reset),
        }

    def _replay(self, account_id: str, key: str) -> ReceivedStatus | None:
        with self._lock:
            entry = self._idempotency.get((account_id, key))
        if entry is None or time.time() - entry[1] > IDEMPOTENCY_SECONDS:
            return None
        return self._statuses.get(entry[0])

    def _next_id(self, received_at: float) -> str:
        # Mastodon's ids are snowflakes: milliseconds since the epoch, then a 16-bit sequence.
        return str((int(received_at * 1000) << 16) | (next(self._sequence) & 0xFFFF))

    def _account_json(self) -> dict[str, Any]:
        account = self.account
        return {
            "id": account.id,
            "username": account.username,
            "acct": account.username,
            "display_name": account.display_name,
            "locked": False,
            "bot": False,
            "created_at": "2022-11-01T00:00:00.000Z",
            "note": "",
            "url": f"https://{self.domain}/@{account.username}",
            "avatar": account.avatar,
            "avatar_static": account.avatar,
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": len(self.posts),
            "source": {"privacy": "public", "sensitive": False, "language": None, "note": "", "fields": []},
        }

    def _status_json(self, status: ReceivedStatus) -> dict[str, Any]:
        return {
            "id": status.id,
            "created_at": status.created_at,
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": status.visibility,
            "language": status.language,
            "uri": f"https://{self.domain}/users/{self.account.username}/statuses/{status.id}",
            "url": f"https://{self.domain}/@{self.account.username}/{status.id}",
            "replies_count": status.replies_count,
            "reblogs_count": status.reblogs_count,
            "favourites_count": status.favourites_count,
            "content": f"<p>{html.escape(status.text)}</p>",
            "account": self._account_json(),
            "media_attachments": [self._media_json(self.media[media_id]) for media_id in status.media_ids],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
        }


# ---------------------------------------------------------------------------------------------


async def _body(request: Request) -> dict[str, Any]:
    """Mastodon takes JSON or form bodies alike."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}
    return dict(await request.form())


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value if str(item).strip()]
    return [line.strip() for line in str(value or "").splitlines() if line.strip()]


def _absolute_uri(uri: str) -> bool:
    return uri == "urn:ietf:wg:oauth:2.0:oob" or bool(re.match(r"^[a-z][a-z0-9+.-]*://[^/\s]+", uri))


def _length(text: str) -> int:
    """Mastodon's count: graphemes, every http(s) URL weighing 23."""
    return len(_GRAPHEME.findall(_URL.sub("x" * URL_WEIGHT, text)))


def _error(status: int, message: str, *, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _redirect(redirect_uri: str, params: dict[str, str]) -> RedirectResponse:
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(params)}", status_code=302)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _iso(moment: datetime) -> str:
    """Ruby's Time#iso8601(6), as Mastodon writes X-RateLimit-Reset: microseconds and a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

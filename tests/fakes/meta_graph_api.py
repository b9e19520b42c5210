"""A fake of Meta's Graph APIs for tests: Threads, Instagram (via Facebook Login) and Facebook Pages.

One Starlette app, three surfaces, each under the paths the real hosts use after their base URL:

* Threads API (`threads_api_base` = base_url + THREADS_API): `/oauth/access_token` (code →
  one-hour token `{"access_token","user_id"}`), `/access_token?grant_type=th_exchange_token`
  (→ 60-day token), `/refresh_access_token?grant_type=th_refresh_token`, `/v1.0/me`,
  `/v1.0/{user}/threads` (POST: a container; GET: recent posts), `/v1.0/{user}/threads_publish`,
  `/v1.0/{container or media}` (status / permalink), `/v1.0/{media}/insights` (needs
  `threads_manage_insights`);
* the Threads authorization window (`threads_auth_base` = base_url + THREADS_WEB): `/oauth/authorize`;
* Facebook Graph (`facebook_graph_base` = base_url, versioned paths `/v24.0/…`): `/oauth/access_token`
  (code → short-lived user token, `fb_exchange_token` → 60-day user token), `/me`, `/me/accounts`
  (Pages with their tokens and linked Instagram accounts, field expansion, paging),
  `/{page}/feed`, `/{page}/photos`, `/{ig-user}/media` (POST: a container; GET: recent media),
  `/{ig-user}/media_publish`, `/{node}` (container status_code, permalink, post engagement),
  `/{ig-media}/insights` (needs `instagram_manage_insights` on the linked Page's token);
* the Facebook Login dialog (`facebook_auth_base` = base_url + FACEBOOK_WEB): `/v24.0/dialog/oauth`.

The dialogs auto-approve: they redirect to `redirect_uri` with `code` and `state`. Tokens are
checked for kind, owner and expiry; errors use the real envelope
`{"error":{"message","type","code","error_subcode","fbtrace_id"}}` (190 for bad tokens, 100 for
bad parameters, 9007 for a container not ready, 200 for a Page call without a Page token), and
every Graph answer carries an `X-App-Usage` header.

Insights answer `{"data": [{"name", "period": "lifetime", "values": [{"value": N}], "title",
"description", "id"}]}` for each requested metric, with the numbers in the post's `insights` (tests
set them; 0 when unset); metrics named in `total_value_metrics` come as `"total_value": {"value":
N}` instead, the other shape Meta uses. A metric the platform does not offer for media → code 100;
a post of another account → code 100 subcode 33 (not found); no permission → code 10.

Containers finish at once, or after `container_polls_before_finished` status reads; a container
published once answers a second publish with a Graph error. A container whose `image_url` /
`video_url` is in `fail_urls` ends ERROR (Threads: `error_message`; Instagram: `status` "Error: …").
Carousels as Meta takes them: item containers (`is_carousel_item=true`, Threads `media_type`
IMAGE/VIDEO, Instagram `image_url` or `media_type=VIDEO`), then `media_type=CAROUSEL` with
`children=a,b,…` (2-10 on Instagram, 2-20 on Threads; each a FINISHED item of the same account,
else 9007 / 100). `alt_text` is kept with the container's params.

Facebook videos: `POST /{page}/videos` (`file_url`, `description`, `title`) → `{"id"}`; the video
is processed for `video_polls_before_ready` reads of `GET /{video}?fields=status`
(`{"status": {"video_status": "processing"|"ready"|"error", "processing_phase": {…}}}`) and
becomes a post on the Page when ready; one whose `file_url` is in `fail_urls` ends "error" with
`processing_phase.errors`. Photos keep `alt_text_custom` (`photo_requests`). Posts are recorded in `posts` with
the time they were received (`time.time()`).

Fault routes for `faults` (tests/fakes/faults.py): "threads_token", "threads_exchange",
"threads_refresh", "threads_me", "threads" (container create), "threads_publish", "facebook_token",
"me", "accounts", "media" (Instagram container create), "media_publish", "container" (status
reads), "node" (other object reads: permalink, metrics), "recent" (recent-post lists), "feed",
"photos", "videos", "video_status", "insights". A `drop` fault does the work (the post exists) and then cuts the connection.
`graph_error_next` and `throttle_next` queue errors in the real envelope.

    meta = FakeMetaGraph()
    with serve(meta.app) as base_url:
        adapter = ThreadsAdapter(meta.settings(base_url))
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.faults import Fault, Faults, dropped_response

THREADS_API = "/threads-graph"
THREADS_WEB = "/threads-web"
FACEBOOK_WEB = "/facebook-web"
THREADS_VERSION = "v1.0"

# The permissions a finished connect grants (what the adapters ask for).
THREADS_SCOPES = ("threads_basic", "threads_content_publish", "threads_manage_insights")
PAGE_SCOPES = (
    "pages_manage_posts",
    "pages_read_engagement",
    "pages_show_list",
    "instagram_basic",
    "instagram_content_publish",
    "instagram_manage_insights",
)
# The metrics each platform's media insights offer (asking for any other is an error).
INSIGHT_METRICS = {
    "threads": frozenset({"views", "likes", "replies", "reposts", "quotes", "shares"}),
    "instagram": frozenset(
        {
            "comments",
            "follows",
            "likes",
            "profile_activity",
            "profile_visits",
            "reach",
            "saved",
            "shares",
            "total_interactions",
            "views",
        }
    ),
}
INSIGHTS_PERMISSION = {"threads": "threads_manage_insights", "instagram": "instagram_manage_insights"}

SHORT_LIVED_SECONDS = 3600
LONG_LIVED_SECONDS = 60 * 24 * 3600


@dataclass
class Token:
    value: str
    kind: str  # threads_short | threads_long | user_short | user_long | page
    owner: str  # Threads user id, Facebook user id, or Page id
    expires_at: float | None
    scopes: tuple[str, ...] = ()
    revoked: bool = False


@dataclass
class ThreadsUser:
    id: str = "26000000000000001"
    username: str = "ada.threads"
    name: str = "Ada Lovelace"
    picture_url: str = "https://cdn.threads.example/ada.jpg"


@dataclass
class InstagramAccount:
    id: str
    username: str
    profile_picture_url: str = ""


@dataclass
class FacebookPage:
    id: str
    name: str
    username: str = ""
    picture_url: str = ""
    instagram: InstagramAccount | None = None


@dataclass
class Container:
    id: str
    platform: str  # threads | instagram
    owner: str
    params: dict[str, str]
    status: str
    polls_left: int
    final_status: str
    media_id: str = ""


@dataclass
class FacebookVideo:
    id: str
    page_id: str
    params: dict[str, str]
    polls_left: int
    status: str = "processing"  # processing | ready | error
    post_id: str = ""


@dataclass
class Post:
    id: str
    platform: str  # threads | instagram | facebook
    owner: str
    text: str
    media_urls: tuple[str, ...]
    received_at: float
    permalink: str
    container_id: str = ""
    insights: dict[str, int] = field(default_factory=dict)  # metric → what insights report


def _default_pages() -> list[FacebookPage]:
    return [
        FacebookPage(
            id="110000000000001",
            name="Ada's Bakery",
            username="adasbakery",
            picture_url="https://cdn.facebook.example/bakery.jpg",
            instagram=InstagramAccount(
                "17841400000000001", "adas.bakery", "https://cdn.ig.example/bakery.jpg"
            ),
        ),
        FacebookPage(
            id="110000000000002", name="Ada's Book Club", picture_url="https://cdn.facebook.example/books.jpg"
        ),
    ]


@dataclass
class FakeMetaGraph:
    threads_app_id: str = "threads-app-1"
    threads_app_secret: str = "threads-secret-1"
    facebook_app_id: str = "meta-app-1"
    facebook_app_secret: str = "meta-secret-1"
    version: str = "v24.0"
    threads_user: ThreadsUser = field(default_factory=ThreadsUser)
    facebook_user_id: str = "10200000000000001"
    facebook_user_name: str = "Ada Lovelace"
    pages: list[FacebookPage] = field(default_factory=_default_pages)
    faults: Faults = field(default_factory=Faults)
    # Container processing: IN_PROGRESS for this many status reads, then `container_final_status`.
    container_polls_before_finished: int = 0
    container_final_status: str = "FINISHED"  # or "ERROR"
    container_error_message: str = "Media download has failed. The media URI doesn't meet our requirements."
    accounts_page_size: int = 25  # /me/accounts pages at most this many (and `limit`)
    total_value_metrics: set[str] = field(default_factory=set)  # answered as `total_value`
    # What clients sent, for assertions.
    posts: list[Post] = field(default_factory=list)
    containers: dict[str, Container] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    publish_requests: list[dict[str, str]] = field(default_factory=list)
    unpublished_photos: dict[str, str] = field(default_factory=dict)  # photo id → url
    fail_urls: set[str] = field(default_factory=set)  # media URLs whose processing fails
    photo_requests: list[dict[str, str]] = field(default_factory=list)
    videos: dict[str, FacebookVideo] = field(default_factory=dict)
    video_polls_before_ready: int = 1

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._codes: dict[str, dict[str, Any]] = {}
        self._calls = 0
        self.app = Starlette(routes=self._routes())

    # -- test helpers -------------------------------------------------------------------------

    def settings(self, base_url: str, **overrides: Any) -> Any:
        """Settings pointing every Meta URL at this fake, with its app ids and secrets."""
        from postforge.settings import Settings

        values: dict[str, Any] = {
            "threads_app_id": self.threads_app_id,
            "threads_app_secret": self.threads_app_secret,
            "threads_api_base": base_url + THREADS_API,
            "threads_auth_base": base_url + THREADS_WEB,
            "facebook_app_id": self.facebook_app_id,
            "facebook_app_secret": self.facebook_app_secret,
            "facebook_graph_base": base_url,
            "facebook_auth_base": base_url + FACEBOOK_WEB,
            "facebook_graph_version": self.version,
            "platform_http_timeout_seconds": 5.0,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    def issue_token(
        self, kind: str, owner: str, *, ttl: float | None = None, scopes: tuple[str, ...] = ()
    ) -> str:
        value = f"{kind}-{secrets.token_urlsafe(12)}"
        with self._lock:
            self.tokens[value] = Token(value, kind, owner, None if ttl is None else time.time() + ttl, scopes)
        return value

    def threads_token(
        self, *, ttl: float = LONG_LIVED_SECONDS, scopes: tuple[str, ...] = THREADS_SCOPES
    ) -> str:
        """A long-lived Threads token for `threads_user`, as a finished connect would hold."""
        return self.issue_token("threads_long", self.threads_user.id, ttl=ttl, scopes=scopes)

    def page_token(self, page_id: str, *, scopes: tuple[str, ...] = PAGE_SCOPES) -> str:
        """A non-expiring Page token, as a connect through a long-lived user token yields."""
        return self.issue_token("page", page_id, scopes=scopes)

    def run_oauth(
        self, config: Any, *, redirect_uri: str = "https://postforge.example/connect/callback"
    ) -> dict:
        """The browser's part of a connect, with authlib as the client: open the dialog (which
        approves), follow its redirect's code to the token endpoint; the token endpoint's answer."""
        import httpx
        from authlib.integrations.httpx_client import OAuth2Client

        with OAuth2Client(
            client_id=config.client_id,
            client_secret=config.client_secret,
            scope=config.scope_separator.join(config.scopes),
            redirect_uri=redirect_uri,
            token_endpoint_auth_method=config.token_endpoint_auth_method,
        ) as client:
            url, state = client.create_authorization_url(
                config.authorize_url, **dict(config.extra_authorize_params)
            )
            answer = httpx.get(url, follow_redirects=False)
            if answer.status_code != 302:
                raise AssertionError(f"the dialog refused: {answer.status_code} {answer.text}")
            return dict(
                client.fetch_token(
                    config.token_url, authorization_response=answer.headers["location"], state=state
                )
            )

    def expire(self, token: str) -> None:
        with self._lock:
            self.tokens[token].expires_at = time.time() - 1

    def revoke(self, token: str) -> None:
        with self._lock:
            self.tokens[token].revoked = True

    def expire_container(self, container_id: str) -> None:
        with self._lock:
            self.containers[container_id].status = "EXPIRED"

    def posts_on(self, platform: str) -> list[Post]:
        with self._lock:
            return [post for post in self.posts if post.platform == platform]

    def graph_error_next(
        self,
        route: str,
        *,
        code: int,
        message: str,
        status: int = 400,
        subcode: int | None = None,
        error_type: str = "OAuthException",
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        body = _error_body(message, code=code, subcode=subcode, error_type=error_type)
        self.faults.fail_next(route, status=status, headers=headers, body=body, times=times)

    def throttle_next(
        self, route: str, *, code: int = 4, regain_minutes: int | None = None, status: int = 400
    ) -> None:
        """A throttling error; with `regain_minutes`, the Business Use Case header says when."""
        headers = {"X-App-Usage": json.dumps({"call_count": 100, "total_cputime": 40, "total_time": 60})}
        if regain_minutes is not None:
            usage = {"type": "pages", "call_count": 100, "total_cputime": 30, "total_time": 30}
            usage["estimated_time_to_regain_access"] = regain_minutes
            headers["X-Business-Use-Case-Usage"] = json.dumps({"110000000000001": [usage]})
        messages = {4: "(#4) Application request limit reached", 17: "(#17) User request limit reached"}
        message = messages.get(code, f"({code}) Calls to this API have exceeded the rate limit.")
        self.graph_error_next(route, code=code, message=message, status=status, headers=headers)

    # -- plumbing -----------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        t, v = THREADS_API, "/{version}"
        return [
            Route(f"{THREADS_WEB}/oauth/authorize", self._threads_authorize),
            Route(f"{FACEBOOK_WEB}{v}/dialog/oauth", self._facebook_authorize),
            Route(f"{t}/oauth/access_token", self._threads_code_token, methods=["GET", "POST"]),
            Route(f"{t}/access_token", self._threads_exchange),
            Route(f"{t}/refresh_access_token", self._threads_refresh),
            Route(f"{t}/{THREADS_VERSION}/{{node}}", self._threads_node),
            Route(f"{t}/{THREADS_VERSION}/{{node}}/{{edge}}", self._threads_edge, methods=["GET", "POST"]),
            Route(f"{v}/oauth/access_token", self._facebook_token, methods=["GET", "POST"]),
            Route(f"{v}/{{node}}", self._facebook_node),
            Route(f"{v}/{{node}}/{{edge}}", self._facebook_edge, methods=["GET", "POST"]),
        ]

    def _new_id(self, prefix: str = "") -> str:
        return f"{prefix}{18000000000000000 + next(self._ids)}"

    async def _params(self, request: Request) -> dict[str, str]:
        values = dict(request.query_params)
        if request.method == "POST":
            form = await request.form()
            values.update({key: str(value) for key, value in form.items()})
        authorization = request.headers.get("authorization", "")
        if "access_token" not in values and authorization.split(" ")[0].lower() in ("bearer", "oauth"):
            values["access_token"] = authorization.split(" ", 1)[1].strip()
        return values

    async def _fault(self, route: str) -> Fault | None:
        fault = self.faults.take(route)
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            return None
        return fault

    def _json(self, body: Any, status: int = 200) -> JSONResponse:
        with self._lock:
            self._calls += 1
            usage = {"call_count": min(self._calls, 100), "total_cputime": 1, "total_time": 1}
        return JSONResponse(body, status_code=status, headers={"X-App-Usage": json.dumps(usage)})

    def _error(
        self, message: str, *, code: int, status: int = 400, subcode: int | None = None
    ) -> JSONResponse:
        error_type = "OAuthException" if code in (190, 102, 200, 10) else "GraphMethodException"
        return self._json(_error_body(message, code=code, subcode=subcode, error_type=error_type), status)

    def _check_token(self, params: dict[str, str], kinds: tuple[str, ...]) -> Token | JSONResponse:
        value = params.get("access_token", "")
        if not value:
            return self._error("An active access token must be used to query this endpoint.", code=2500)
        with self._lock:
            token = self.tokens.get(value)
        if token is None or token.kind not in kinds:
            return self._error("Invalid OAuth access token - Cannot parse access token", code=190)
        if token.revoked:
            return self._error(
                "Error validating access token: The user has not authorized application.",
                code=190,
                subcode=458,
            )
        if token.expires_at is not None and token.expires_at < time.time():
            return self._error("Error validating access token: Session has expired.", code=190, subcode=463)
        return token

    def _not_found(self, node: str) -> JSONResponse:
        return self._error(
            f"Unsupported request. Object with ID '{node}' does not exist, cannot be loaded due to missing "
            "permissions, or does not support this operation.",
            code=100,
            subcode=33,
        )

    # -- OAuth dialogs and token endpoints ----------------------------------------------------

    async def _threads_authorize(self, request: Request) -> Response:
        return self._authorize(request, self.threads_app_id, "threads")

    async def _facebook_authorize(self, request: Request) -> Response:
        if request.path_params["version"] != self.version:
            return PlainTextResponse("Unknown Graph version in the login dialog URL", status_code=400)
        return self._authorize(request, self.facebook_app_id, "facebook")

    def _authorize(self, request: Request, app_id: str, surface: str) -> Response:
        params = dict(request.query_params)
        self.authorize_requests.append({**params, "surface": surface})
        if params.get("client_id") != app_id:
            return PlainTextResponse("Invalid App ID: the app id is not valid", status_code=400)
        if params.get("response_type", "code") != "code" or not params.get("redirect_uri"):
            return PlainTextResponse("The redirect_uri and response_type=code are required", status_code=400)
        code = secrets.token_urlsafe(16)
        scopes = tuple(s for s in params.get("scope", "").replace(" ", ",").split(",") if s)
        with self._lock:
            self._codes[code] = {"surface": surface, "redirect_uri": params["redirect_uri"], "scopes": scopes}
        query = {"code": code, **({"state": params["state"]} if "state" in params else {})}
        separator = "&" if "?" in params["redirect_uri"] else "?"
        return RedirectResponse(f"{params['redirect_uri']}{separator}{urlencode(query)}", status_code=302)

    def _take_code(self, params: dict[str, str], surface: str) -> dict[str, Any] | JSONResponse:
        with self._lock:
            grant = self._codes.pop(params.get("code", ""), None)
        if grant is None or grant["surface"] != surface:
            return self._error("Invalid verification code format.", code=100, subcode=36008)
        if grant["redirect_uri"] != params.get("redirect_uri"):
            return self._error(
                "Error validating verification code. Please make sure your redirect_uri is identical "
                "to the one you used in the OAuth dialog request",
                code=100,
                subcode=36008,
            )
        return grant

    async def _threads_code_token(self, request: Request) -> Response:
        params = await self._params(request)
        self.token_requests.append({**params, "endpoint": "threads_token"})
        fault = await self._fault("threads_token")
        if fault and fault.kind == "status":
            return fault.response()
        if (
            params.get("client_id") != self.threads_app_id
            or params.get("client_secret") != self.threads_app_secret
        ):
            return self._error("Error validating client secret.", code=1, status=400)
        if params.get("grant_type") != "authorization_code":
            return self._error("Unsupported grant_type", code=100)
        grant = self._take_code(params, "threads")
        if isinstance(grant, JSONResponse):
            return grant
        token = self.issue_token(
            "threads_short", self.threads_user.id, ttl=SHORT_LIVED_SECONDS, scopes=grant["scopes"]
        )
        return self._json({"access_token": token, "user_id": int(self.threads_user.id)})

    async def _threads_exchange(self, request: Request) -> Response:
        params = await self._params(request)
        self.token_requests.append({**params, "endpoint": "threads_exchange"})
        fault = await self._fault("threads_exchange")
        if fault and fault.kind == "status":
            return fault.response()
        if params.get("grant_type") != "th_exchange_token":
            return self._error("Unsupported grant_type", code=100)
        if params.get("client_secret") != self.threads_app_secret:
            return self._error("Error validating client secret.", code=1)
        token = self._check_token(params, ("threads_short",))
        if isinstance(token, JSONResponse):
            return token
        long_lived = self.issue_token(
            "threads_long", token.owner, ttl=LONG_LIVED_SECONDS, scopes=token.scopes
        )
        return self._json(
            {"access_token": long_lived, "token_type": "bearer", "expires_in": LONG_LIVED_SECONDS}
        )

    async def _threads_refresh(self, request: Request) -> Response:
        params = await self._params(request)
        self.token_requests.append({**params, "endpoint": "threads_refresh"})
        fault = await self._fault("threads_refresh")
        if fault and fault.kind == "status":
            return fault.response()
        if params.get("grant_type") != "th_refresh_token":
            return self._error("Unsupported grant_type", code=100)
        token = self._check_token(params, ("threads_long",))
        if isinstance(token, JSONResponse):
            return token
        renewed = self.issue_token("threads_long", token.owner, ttl=LONG_LIVED_SECONDS, scopes=token.scopes)
        return self._json({"access_token": renewed, "token_type": "bearer", "expires_in": LONG_LIVED_SECONDS})

    async def _facebook_token(self, request: Request) -> Response:
        if request.path_params["version"] != self.version:
            return self._error("Unknown path components: /oauth/access_token", code=2500)
        params = await self._params(request)
        self.token_requests.append({**params, "endpoint": "facebook_token"})
        fault = await self._fault("facebook_token")
        if fault and fault.kind == "status":
            return fault.response()
        if (
            params.get("client_id") != self.facebook_app_id
            or params.get("client_secret") != self.facebook_app_secret
        ):
            return self._error("Error validating client secret.", code=1)
        if params.get("grant_type") == "fb_exchange_token":
            token = self._check_token(
                {"access_token": params.get("fb_exchange_token", "")}, ("user_short", "user_long")
            )
            if isinstance(token, JSONResponse):
                return token
            long_lived = self.issue_token(
                "user_long", token.owner, ttl=LONG_LIVED_SECONDS, scopes=token.scopes
            )
            return self._json(
                {"access_token": long_lived, "token_type": "bearer", "expires_in": LONG_LIVED_SECONDS}
            )
        grant = self._take_code(params, "facebook")
        if isinstance(grant, JSONResponse):
            return grant
        token = self.issue_token(
            "user_short", self.facebook_user_id, ttl=SHORT_LIVED_SECONDS, scopes=grant["scopes"]
        )
        return self._json({"access_token": token, "token_type": "bearer", "expires_in": SHORT_LIVED_SECONDS})

    # -- Threads API --------------------------------------------------------------------------

    async def _threads_node(self, request: Request) -> Response:
        params = await self._params(request)
        node = request.path_params["node"]
        token = self._check_token(params, ("threads_long", "threads_short"))
        if isinstance(token, JSONResponse):
            return token
        if node == "me":
            return await self._threads_me(params)
        with self._lock:
            container = self.containers.get(node)
        if container is not None and container.platform == "threads":
            return await self._container_status(container, params, "status")
        return await self._post_read(node, "threads", params)

    async def _threads_me(self, params: dict[str, str]) -> Response:
        fault = await self._fault("threads_me")
        if fault and fault.kind == "status":
            return fault.response()
        user = self.threads_user
        known = {
            "id": user.id,
            "username": user.username,
            "name": user.name,
            "threads_profile_picture_url": user.picture_url,
        }
        return self._json(_select(known, params.get("fields", "id")))

    async def _threads_edge(self, request: Request) -> Response:
        params = await self._params(request)
        node, edge = request.path_params["node"], request.path_params["edge"]
        token = self._check_token(params, ("threads_long", "threads_short"))
        if isinstance(token, JSONResponse):
            return token
        if edge == "insights" and request.method == "GET":
            return await self._insights("threads", node, token, params)
        if node not in (token.owner, "me"):
            return self._not_found(node)
        if edge == "threads" and request.method == "GET":
            return await self._recent("threads", token.owner, "text", params)
        if edge == "threads" and request.method == "POST":
            return await self._create_container("threads", token.owner, params, route="threads")
        if edge == "threads_publish" and request.method == "POST":
            return await self._publish_container("threads", token.owner, params, route="threads_publish")
        return self._error(f"Unknown path components: /{edge}", code=2500)

    # -- Facebook Graph -----------------------------------------------------------------------

    async def _facebook_node(self, request: Request) -> Response:
        if request.path_params["version"] != self.version:
            return self._error("Unknown path components", code=2500)
        params = await self._params(request)
        node = request.path_params["node"]
        token = self._check_token(params, ("user_short", "user_long", "page"))
        if isinstance(token, JSONResponse):
            return token
        if node == "me":
            fault = await self._fault("me")
            if fault and fault.kind == "status":
                return fault.response()
            if token.kind == "page":
                page = self._page(token.owner)
                return self._json(
                    _select({"id": page.id, "name": page.name}, params.get("fields", "id,name"))
                )
            known = {"id": self.facebook_user_id, "name": self.facebook_user_name}
            return self._json(_select(known, params.get("fields", "id,name")))
        with self._lock:
            container = self.containers.get(node)
            video = self.videos.get(node)
        if container is not None and container.platform == "instagram":
            return await self._container_status(container, params, "status_code")
        if video is not None and token.kind == "page" and token.owner == video.page_id:
            return await self._video_status(video, params)
        return await self._post_read(node, None, params)

    async def _facebook_edge(self, request: Request) -> Response:
        if request.path_params["version"] != self.version:
            return self._error("Unknown path components", code=2500)
        params = await self._params(request)
        node, edge = request.path_params["node"], request.path_params["edge"]
        token = self._check_token(params, ("user_short", "user_long", "page"))
        if isinstance(token, JSONResponse):
            return token
        if node == "me" and edge == "accounts":
            return await self._accounts(request, token, params)
        if edge == "insights" and request.method == "GET":
            return await self._insights("instagram", node, token, params)
        page = next((page for page in self.pages if page.id == node), None)
        if page is not None and edge in ("feed", "photos", "videos") and request.method == "POST":
            if token.kind != "page" or token.owner != page.id:
                return self._error(
                    "(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts "
                    "as an admin with sufficient administrative permission",
                    code=200,
                    status=403,
                )
            if edge == "videos":
                return await self._video(page, params)
            return await (self._feed(page, params) if edge == "feed" else self._photos(page, params))
        linked_page = next((p for p in self.pages if p.instagram and p.instagram.id == node), None)
        if linked_page is not None and edge in ("media", "media_publish"):
            if token.kind != "page" or token.owner != linked_page.id:
                return self._not_found(node)
            if edge == "media" and request.method == "GET":
                return await self._recent("instagram", node, "caption", params)
            if edge == "media" and request.method == "POST":
                if (
                    params.get("media_type") != "CAROUSEL"
                    and not params.get("image_url")
                    and not params.get("video_url")
                ):
                    return self._error(
                        "(#100) Only photo or video can be accepted as media type.", code=100, subcode=2207052
                    )
                return await self._create_container("instagram", node, params, route="media")
            if edge == "media_publish" and request.method == "POST":
                return await self._publish_container("instagram", node, params, route="media_publish")
        return self._not_found(node)

    async def _accounts(self, request: Request, token: Token, params: dict[str, str]) -> Response:
        fault = await self._fault("accounts")
        if fault and fault.kind == "status":
            return fault.response()
        if token.kind not in ("user_short", "user_long"):
            return self._error(
                "(#100) Tried accessing nonexisting field (accounts) on node type (Page)", code=100
            )
        size = min(int(params.get("limit", self.accounts_page_size)), self.accounts_page_size)
        start = int(params.get("after", "0") or 0)
        chosen = self.pages[start : start + size]
        fields = params.get("fields", "id,name,access_token")
        # Page tokens read with a long-lived user token never expire; with a short-lived one, an hour.
        ttl = None if token.kind == "user_long" else SHORT_LIVED_SECONDS
        data = []
        for page in chosen:
            known: dict[str, Any] = {
                "id": page.id,
                "name": page.name,
                "access_token": self.issue_token("page", page.id, ttl=ttl, scopes=token.scopes),
                "picture": {"data": {"url": page.picture_url, "is_silhouette": not page.picture_url}},
                "category": "Bakery",
            }
            if page.username:
                known["username"] = page.username
            if page.instagram:
                known["instagram_business_account"] = {
                    "id": page.instagram.id,
                    "username": page.instagram.username,
                    "profile_picture_url": page.instagram.profile_picture_url,
                }
            data.append(_select(known, fields))
        body: dict[str, Any] = {
            "data": data,
            "paging": {"cursors": {"before": str(start), "after": str(start + size)}},
        }
        if start + size < len(self.pages):
            query = {**params, "after": str(start + size), "limit": str(size)}
            body["paging"]["next"] = f"{str(request.url).split('?')[0]}?{urlencode(query)}"
        return self._json(body)

    async def _feed(self, page: FacebookPage, params: dict[str, str]) -> Response:
        fault = await self._fault("feed")
        if fault and fault.kind == "status":
            return fault.response()
        attached = [value for key, value in sorted(params.items()) if key.startswith("attached_media[")]
        urls = []
        for value in attached:
            photo_id = json.loads(value).get("media_fbid", "")
            with self._lock:
                url = self.unpublished_photos.pop(photo_id, None)
            if url is None:
                return self._error(f"(#100) Invalid media_fbid {photo_id}", code=100)
            urls.append(url)
        if not params.get("message") and not urls:
            return self._error("(#100) Missing message or attachment", code=100)
        post_id = f"{page.id}_{self._new_id()[-10:]}"
        self._record(
            Post(
                post_id,
                "facebook",
                page.id,
                params.get("message", ""),
                tuple(urls),
                time.time(),
                f"https://www.facebook.com/{post_id}",
            )
        )
        if fault and fault.kind == "drop":
            return dropped_response()
        return self._json({"id": post_id})

    async def _photos(self, page: FacebookPage, params: dict[str, str]) -> Response:
        fault = await self._fault("photos")
        if fault and fault.kind == "status":
            return fault.response()
        if not params.get("url"):
            return self._error("(#324) Requires upload file", code=324)
        self.photo_requests.append(dict(params))
        photo_id = self._new_id()
        if params.get("published", "true").lower() == "false":
            with self._lock:
                self.unpublished_photos[photo_id] = params["url"]
            return self._json({"id": photo_id})
        post_id = f"{page.id}_{photo_id[-10:]}"
        self._record(
            Post(
                post_id,
                "facebook",
                page.id,
                params.get("message", ""),
                (params["url"],),
                time.time(),
                f"https://www.facebook.com/{post_id}",
            )
        )
        if fault and fault.kind == "drop":
            return dropped_response()
        return self._json({"id": photo_id, "post_id": post_id})

    async def _video(self, page: FacebookPage, params: dict[str, str]) -> Response:
        fault = await self._fault("videos")
        if fault and fault.kind == "status":
            return fault.response()
        if not params.get("file_url"):
            return self._error("(#100) file_url or an upload handle is required", code=100)
        video = FacebookVideo(self._new_id(), page.id, dict(params), self.video_polls_before_ready)
        with self._lock:
            self.videos[video.id] = video
        if fault and fault.kind == "drop":
            return dropped_response()
        return self._json({"id": video.id})

    async def _video_status(self, video: FacebookVideo, params: dict[str, str]) -> Response:
        fault = await self._fault("video_status")
        if fault and fault.kind == "status":
            return fault.response()
        with self._lock:
            if video.status == "processing" and video.polls_left > 0:
                video.polls_left -= 1
            elif video.status == "processing" and video.params["file_url"] in self.fail_urls:
                video.status = "error"
            elif video.status == "processing":
                video.status = "ready"
                video.post_id = f"{video.page_id}_{video.id[-10:]}"
        if video.status == "ready" and not any(post.id == video.id for post in self.posts):
            self._record(
                Post(
                    video.id,
                    "facebook",
                    video.page_id,
                    video.params.get("description", ""),
                    (video.params["file_url"],),
                    time.time(),
                    f"https://www.facebook.com/{video.page_id}/videos/{video.id}",
                )
            )
        phase: dict[str, Any] = {
            "status": {"processing": "in_progress", "ready": "complete"}.get(video.status, "error")
        }
        if video.status == "error":
            phase["errors"] = [
                {"code": 1363008, "message": "The video file you uploaded is in a format we don't support."}
            ]
        known = {"id": video.id, "status": {"video_status": video.status, "processing_phase": phase}}
        return self._json(_select(known, params.get("fields", "id")))

    def _page(self, page_id: str) -> FacebookPage:
        return next(page for page in self.pages if page.id == page_id)

    # -- containers and posts (Threads and Instagram) -----------------------------------------

    async def _create_container(
        self, platform: str, owner: str, params: dict[str, str], *, route: str
    ) -> Response:
        fault = await self._fault(route)
        if fault and fault.kind == "status":
            return fault.response()
        if params.get("media_type") == "CAROUSEL":
            problem = self._carousel_problem(platform, owner, params)
            if problem is not None:
                return problem
        if platform == "threads":
            media_type = params.get("media_type", "")
            if media_type not in ("TEXT", "IMAGE", "VIDEO", "CAROUSEL"):
                return self._error("(#100) The parameter media_type is required.", code=100)
            if media_type == "VIDEO" and not params.get("video_url"):
                return self._error("(#100) The parameter video_url is required.", code=100)
            if media_type == "TEXT" and not params.get("text"):
                return self._error("(#100) The parameter text is required for TEXT posts.", code=100)
            if media_type == "IMAGE" and not params.get("image_url"):
                return self._error("(#100) The parameter image_url is required.", code=100)
            if len(params.get("text", "")) > 500:
                return self._error(
                    "Param text must be at most 500 characters long.", code=100, subcode=2207011
                )
        polls = self.container_polls_before_finished
        failing = bool({params.get("image_url"), params.get("video_url")} & self.fail_urls)
        final = "ERROR" if failing else self.container_final_status
        container = Container(
            id=self._new_id(),
            platform=platform,
            owner=owner,
            params=dict(params),
            status="IN_PROGRESS" if polls else final,
            polls_left=polls,
            final_status=final,
        )
        with self._lock:
            self.containers[container.id] = container
        if fault and fault.kind == "drop":
            return dropped_response()
        return self._json({"id": container.id})

    async def _container_status(
        self, container: Container, params: dict[str, str], field_name: str
    ) -> Response:
        fault = await self._fault("container")
        if fault and fault.kind == "status":
            return fault.response()
        with self._lock:
            # IN_PROGRESS for `polls_left` reads, then the final status.
            if container.status == "IN_PROGRESS" and container.polls_left > 0:
                container.polls_left -= 1
            elif container.status == "IN_PROGRESS":
                container.status = container.final_status
            shown = container.status
        known: dict[str, Any] = {"id": container.id, field_name: shown}
        if field_name == "status" and shown == "ERROR":
            known["error_message"] = self.container_error_message
        if field_name == "status_code":  # Instagram says why in `status`
            known["status"] = f"Error: {self.container_error_message}" if shown == "ERROR" else shown
        return self._json(_select(known, params.get("fields", "id")))

    async def _publish_container(
        self, platform: str, owner: str, params: dict[str, str], *, route: str
    ) -> Response:
        self.publish_requests.append({**params, "route": route})
        fault = await self._fault(route)
        if fault and fault.kind == "status":
            return fault.response()
        with self._lock:
            container = self.containers.get(params.get("creation_id", ""))
        if container is None or container.owner != owner or container.platform != platform:
            return self._error("The requested resource does not exist", code=24, subcode=4279009)
        if container.status == "PUBLISHED":
            return self._error("(#100) The media has already been published.", code=100, subcode=2207008)
        if container.status in ("IN_PROGRESS", "ERROR"):
            return self._error("Media ID is not available", code=9007, subcode=2207027)
        if container.status == "EXPIRED":
            return self._error("(#100) The media container has expired.", code=100, subcode=2207006)
        media_id = self._new_id()
        text = container.params.get("text" if platform == "threads" else "caption", "")
        urls = self._media_urls(container)
        if platform == "threads":
            permalink = f"https://www.threads.net/@{self.threads_user.username}/post/{media_id[-8:]}"
        else:
            permalink = f"https://www.instagram.com/p/{media_id[-8:]}/"
        with self._lock:
            container.status = "PUBLISHED"
            container.media_id = media_id
        self._record(Post(media_id, platform, owner, text, urls, time.time(), permalink, container.id))
        if fault and fault.kind == "drop":
            return dropped_response()
        return self._json({"id": media_id})

    def _media_urls(self, container: Container) -> tuple[str, ...]:
        if container.params.get("media_type") == "CAROUSEL":
            children = [self.containers[child] for child in container.params["children"].split(",")]
            return tuple(url for child in children for url in self._media_urls(child))
        return tuple(container.params[key] for key in ("image_url", "video_url") if container.params.get(key))

    def _carousel_problem(self, platform: str, owner: str, params: dict[str, str]) -> Response | None:
        children = [child for child in params.get("children", "").split(",") if child]
        most = 10 if platform == "instagram" else 20
        if not 2 <= len(children) <= most:
            return self._error(f"(#100) A carousel needs 2 to {most} children.", code=100, subcode=2207012)
        for child_id in children:
            child = self.containers.get(child_id)
            if child is None or child.owner != owner or child.params.get("is_carousel_item") != "true":
                return self._error(f"(#100) Invalid carousel child {child_id}", code=100)
            if child.status != "FINISHED":
                return self._error("Media ID is not available", code=9007, subcode=2207027)
        return None

    async def _recent(self, platform: str, owner: str, text_field: str, params: dict[str, str]) -> Response:
        fault = await self._fault("recent")
        if fault and fault.kind == "status":
            return fault.response()
        limit = int(params.get("limit", "25"))
        mine = [post for post in reversed(self.posts_on(platform)) if post.owner == owner][:limit]
        fields = params.get("fields", "id")
        data = [_select({"id": p.id, text_field: p.text, "permalink": p.permalink}, fields) for p in mine]
        return self._json({"data": data, "paging": {"cursors": {"before": "0", "after": str(len(data))}}})

    async def _post_read(self, node: str, platform: str | None, params: dict[str, str]) -> Response:
        fault = await self._fault("node")
        if fault and fault.kind == "status":
            return fault.response()
        with self._lock:
            post = next((p for p in self.posts if p.id == node and platform in (None, p.platform)), None)
        if post is None:
            return self._not_found(node)
        known: dict[str, Any] = {"id": post.id, "permalink": post.permalink, "permalink_url": post.permalink}
        known["text" if post.platform == "threads" else "message"] = post.text
        known["caption"] = post.text
        known["shares"] = {"count": 2}
        known["reactions"] = {"data": [], "summary": {"total_count": 7}}
        known["comments"] = {"data": [], "summary": {"total_count": 3}}
        return self._json(_select(known, params.get("fields", "id")))

    async def _insights(self, platform: str, node: str, token: Token, params: dict[str, str]) -> Response:
        fault = await self._fault("insights")
        if fault and fault.kind == "status":
            return fault.response()
        with self._lock:
            post = next((p for p in self.posts if p.id == node and p.platform == platform), None)
            numbers = dict(post.insights) if post is not None else {}
        if post is None or token.owner != self._insights_owner(post):
            return self._not_found(node)
        if INSIGHTS_PERMISSION[platform] not in token.scopes:
            return self._error("(#10) Application does not have permission for this action", code=10)
        metrics = [name for name in params.get("metric", "").split(",") if name]
        offered = INSIGHT_METRICS[platform]
        for index, name in enumerate(metrics):
            if name not in offered:
                return self._error(
                    f"(#100) metric[{index}] must be one of the following values: {', '.join(sorted(offered))}",
                    code=100,
                )
        if not metrics:
            return self._error("(#100) The value must be a valid insights metric", code=100)
        if fault and fault.kind == "drop":
            return dropped_response()
        data = []
        for name in metrics:
            item: dict[str, Any] = {
                "name": name,
                "period": "lifetime",
                "title": name.replace("_", " ").capitalize(),
                "description": f"The number of {name.replace('_', ' ')} of this post.",
                "id": f"{node}/insights/{name}/lifetime",
            }
            if name in self.total_value_metrics:
                item["total_value"] = {"value": numbers.get(name, 0)}
            else:
                item["values"] = [{"value": numbers.get(name, 0)}]
            data.append(item)
        return self._json({"data": data})

    def _insights_owner(self, post: Post) -> str:
        """Whose token may read a post's insights: the Threads user's, or the linked Page's."""
        if post.platform == "instagram":
            return next((p.id for p in self.pages if p.instagram and p.instagram.id == post.owner), "")
        return post.owner

    def _record(self, post: Post) -> None:
        with self._lock:
            self.posts.append(post)


def _error_body(
    message: str, *, code: int, subcode: int | None = None, error_type: str = "OAuthException"
) -> dict:
    error: dict[str, Any] = {"message": message, "type": error_type, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = secrets.token_urlsafe(9)
    return {"error": error}


def _select(known: dict[str, Any], fields: str) -> dict[str, Any]:
    """Graph field selection: the requested top-level fields (`a,b{c,d},e.summary(x)`), plus id;
    nested selections keep only the named sub-fields of an object."""
    chosen: dict[str, Any] = {}
    for name, sub in _split_fields(fields):
        if name not in known:
            continue
        value = known[name]
        if sub and isinstance(value, dict) and "data" not in value:
            value = {key: value[key] for key, _ in _split_fields(sub) if key in value}
        chosen[name] = value
    if "id" in known:
        chosen.setdefault("id", known["id"])
    return chosen


def _split_fields(fields: str) -> list[tuple[str, str]]:
    items, depth, current = [], 0, ""
    for char in fields + ",":
        if char in "{(":
            depth += 1
        elif char in "})":
            depth -= 1
        if char == "," and depth == 0:
            if current.strip():
                items.append(current.strip())
            current = ""
        else:
            current += char
    result = []
    for item in items:
        name = item.split("{", 1)[0].split(".", 1)[0].split("(", 1)[0]
        sub = item[len(name) + 1 : -1] if item[len(name) :].startswith("{") else ""
        result.append((name, sub))
    return result

"""A social platform's OAuth 2 authorization server, for connect tests, as a Starlette app.

Two dialects on one server, each with its real paths and answers:

* LinkedIn-style: `GET /oauth/v2/authorization`, `POST /oauth/v2/accessToken`, `GET /v2/userinfo`
  (OpenID userinfo: sub, name, picture) — for the configured client id/secret;
* Mastodon-style: `POST /api/v1/apps` (dynamic app registration), `GET /oauth/authorize`,
  `POST /oauth/token`, `GET /api/v1/accounts/verify_credentials` — for the apps registered here.

`authorize` auto-approves `user` and redirects with `code` + `state` (or, after `deny_next()`,
with `error=access_denied&error_description=…` as platforms do when the person clicks Cancel).
It insists on `response_type=code`, a known client, a redirect URI and — when `require_pkce` —
an S256 `code_challenge`. The token endpoint authenticates the client (basic or post), takes each
code once, checks the redirect URI and SHA-256(code_verifier) against the challenge. Refresh
tokens are issued only while `issue_refresh_tokens` is true (many platforms send none).

Fault knobs: `faults` (`tests/fakes/faults.py`) on the routes "authorize", "token", "userinfo",
"apps".

    platform = FakeOAuthPlatform()
    with serve(platform.app) as base_url:
        ...
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.faults import Faults


@dataclass
class FakeMember:
    """The person signed in at the platform, who approves the connect."""

    id: str = "member-ada"
    name: str = "Ada Lovelace"
    username: str = "ada"
    picture: str = "https://media.example/ada.png"


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str
    member: FakeMember


@dataclass
class FakeOAuthPlatform:
    client_id: str = "pf-linkedin"
    client_secret: str = "pf-linkedin-secret"
    member: FakeMember = field(default_factory=FakeMember)
    require_pkce: bool = True
    issue_refresh_tokens: bool = True
    access_token_lifetime: int = 60 * 24 * 3600  # LinkedIn: 60 days
    faults: Faults = field(default_factory=Faults)
    # What clients sent, for assertions.
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    registered_apps: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._clients: dict[str, str] = {self.client_id: self.client_secret}
        self._grants: dict[str, _Grant] = {}
        self._tokens: dict[str, FakeMember] = {}
        self._deny = 0
        self.app = Starlette(
            routes=[
                Route("/oauth/v2/authorization", self._authorize),
                Route("/oauth/v2/accessToken", self._token, methods=["POST"]),
                Route("/v2/userinfo", self._userinfo),
                Route("/api/v1/apps", self._register_app, methods=["POST"]),
                Route("/oauth/authorize", self._authorize),
                Route("/oauth/token", self._token, methods=["POST"]),
                Route("/api/v1/accounts/verify_credentials", self._verify_credentials),
            ]
        )

    def deny_next(self) -> None:
        """The next person to reach the consent screen clicks Cancel."""
        self._deny += 1

    def revoke_all(self) -> None:
        self._tokens.clear()

    # --- app registration (Mastodon) -------------------------------------------------------

    async def _register_app(self, request: Request) -> Response:
        if fault := self.faults.take("apps"):
            return fault.response()
        form = dict(await request.form())
        if not form.get("client_name") or not form.get("redirect_uris"):
            return JSONResponse({"error": "Validation failed: Name can't be blank"}, status_code=422)
        client_id, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
        self._clients[client_id] = secret
        self.registered_apps.append({**form, "client_id": client_id})
        return JSONResponse(
            {
                "id": str(len(self.registered_apps)),
                "name": form["client_name"],
                "website": form.get("website"),
                "redirect_uri": form["redirect_uris"],
                "client_id": client_id,
                "client_secret": secret,
            }
        )

    # --- authorization code flow ------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        if fault := self.faults.take("authorize"):
            return fault.response()
        query = dict(request.query_params)
        self.authorize_requests.append(query)
        problem = self._authorize_problem(query)
        if problem:
            return JSONResponse({"error": "invalid_request", "error_description": problem}, status_code=400)
        if self._deny:
            self._deny -= 1
            return _back(
                query,
                {
                    "error": "access_denied",
                    "error_description": "The member declined to authorize the application.",
                },
            )
        code = secrets.token_urlsafe(24)
        self._grants[code] = _Grant(
            client_id=query["client_id"],
            redirect_uri=query["redirect_uri"],
            code_challenge=query.get("code_challenge", ""),
            scope=query.get("scope", ""),
            member=FakeMember(**vars(self.member)),
        )
        return _back(query, {"code": code})

    def _authorize_problem(self, query: dict[str, str]) -> str:
        if query.get("client_id") not in self._clients:
            return "unknown client_id"
        if query.get("response_type") != "code":
            return "response_type must be code"
        if not query.get("redirect_uri"):
            return "redirect_uri is required"
        if self.require_pkce and (
            query.get("code_challenge_method") != "S256" or not query.get("code_challenge")
        ):
            return "PKCE with code_challenge_method=S256 is required"
        return ""

    async def _token(self, request: Request) -> Response:
        if fault := self.faults.take("token"):
            return fault.response()
        form = dict(await request.form())
        self.token_requests.append(form)
        client_id = self._authenticated_client(request, form)
        if client_id is None:
            return _token_error("invalid_client", "Client authentication failed", status=401)
        if form.get("grant_type") != "authorization_code":
            return _token_error("unsupported_grant_type", "only authorization_code")
        grant = self._grants.pop(form.get("code", ""), None)  # single use, whatever happens next
        if grant is None or grant.client_id != client_id:
            return _token_error("invalid_grant", "The authorization code is invalid or was already used")
        if grant.redirect_uri != form.get("redirect_uri"):
            return _token_error("invalid_grant", "redirect_uri does not match")
        if grant.code_challenge and _s256(form.get("code_verifier", "")) != grant.code_challenge:
            return _token_error("invalid_grant", "code_verifier does not match the code_challenge")
        access_token = secrets.token_urlsafe(24)
        self._tokens[access_token] = grant.member
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.access_token_lifetime,
            "scope": grant.scope,
        }
        if self.issue_refresh_tokens:
            body |= {"refresh_token": secrets.token_urlsafe(24), "refresh_token_expires_in": 365 * 24 * 3600}
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def _authenticated_client(self, request: Request, form: dict[str, Any]) -> str | None:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        known = self._clients.get(client_id)
        return client_id if known is not None and secrets.compare_digest(known, secret) else None

    # --- profile ----------------------------------------------------------------------------

    async def _userinfo(self, request: Request) -> Response:
        if fault := self.faults.take("userinfo"):
            return fault.response()
        member = self._bearer(request)
        if member is None:
            return JSONResponse(
                {"serviceErrorCode": 65600, "message": "Invalid access token", "status": 401}, status_code=401
            )
        return JSONResponse({"sub": member.id, "name": member.name, "picture": member.picture})

    async def _verify_credentials(self, request: Request) -> Response:
        if fault := self.faults.take("userinfo"):
            return fault.response()
        member = self._bearer(request)
        if member is None:
            return JSONResponse({"error": "The access token is invalid"}, status_code=401)
        return JSONResponse(
            {
                "id": member.id,
                "username": member.username,
                "display_name": member.name,
                "avatar": member.picture,
            }
        )

    def _bearer(self, request: Request) -> FakeMember | None:
        header = request.headers.get("authorization", "")
        return self._tokens.get(header[7:]) if header.lower().startswith("bearer ") else None


def _back(query: dict[str, str], params: dict[str, str]) -> Response:
    separator = "&" if "?" in query["redirect_uri"] else "?"
    params = {**params, "state": query.get("state", "")}
    return RedirectResponse(f"{query['redirect_uri']}{separator}{urlencode(params)}", status_code=302)


def _token_error(error: str, description: str, *, status: int = 400) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

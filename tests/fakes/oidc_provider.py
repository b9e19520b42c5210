"""A small OpenID Connect provider (plus GitHub's OAuth endpoints) for tests, as a Starlette app.

It speaks enough of the protocol to catch real client bugs:

* `/.well-known/openid-configuration` (issuer = the URL it is reached at) and `/jwks` with an
  RS256 key generated at start;
* `/authorize` auto-approves the configured user and redirects with `code` + `state`; it insists
  on `response_type=code`, a registered client, a redirect URI and an S256 `code_challenge`;
* `/token` authenticates the client (basic or post), takes each code once, checks the redirect
  URI and that SHA-256(code_verifier) matches the challenge, and issues an access token and an
  id_token carrying the nonce;
* `/userinfo` answers for a valid bearer token;
* GitHub: `/login/oauth/authorize`, `/login/oauth/access_token`, `/api/user`, `/api/user/emails`.

Fault knobs (`provider.faults`): sign the id_token with a key that is not published, issue it
already expired, put a nonce in it that the client did not send, or name another issuer in the
discovery document. `rotate_keys()` switches to a new signing key under a new key id.

    provider = FakeOIDCProvider(client_id="pf", client_secret="s3cret")
    with serve(provider.app) as base_url:
        ...  # issuer is base_url
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route


@dataclass
class FakeUser:
    sub: str = "fake-user-1"
    email: str = "ada@example.com"
    email_verified: bool = True
    name: str = "Ada Lovelace"
    github_id: int = 4242
    login: str = "ada"


@dataclass
class Faults:
    wrong_signing_key: bool = False  # signed by a key the JWKS does not hold (same kid)
    expired_id_token: bool = False
    wrong_nonce: bool = False
    foreign_issuer: bool = False  # the discovery document names another issuer


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str
    user: FakeUser


@dataclass
class FakeOIDCProvider:
    client_id: str = "postforge-test"
    client_secret: str = "postforge-test-secret"
    user: FakeUser = field(default_factory=FakeUser)
    faults: Faults = field(default_factory=Faults)
    # What clients sent, for assertions.
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rotate_keys()
        self._grants: dict[str, _Grant] = {}
        self._access_tokens: dict[str, FakeUser] = {}
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/jwks", self._jwks),
                Route("/authorize", self._authorize),
                Route("/token", self._token, methods=["POST"]),
                Route("/userinfo", self._userinfo),
                Route("/login/oauth/authorize", self._authorize),
                Route("/login/oauth/access_token", self._token, methods=["POST"]),
                Route("/api/user", self._github_user),
                Route("/api/user/emails", self._github_emails),
            ]
        )

    def rotate_keys(self) -> None:
        """A new signing key under a new key id, as providers rotate theirs."""
        self.key_id = f"fake-{secrets.token_hex(4)}"
        params = {"kid": self.key_id, "use": "sig", "alg": "RS256"}
        self._key = RSAKey.generate_key(2048, parameters=params)
        self._rogue_key = RSAKey.generate_key(2048, parameters=params)

    # --- discovery and keys ---------------------------------------------------------------

    async def _discovery(self, request: Request) -> Response:
        issuer = _issuer(request)
        return JSONResponse(
            {
                "issuer": "https://someone-else.example" if self.faults.foreign_issuer else issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "userinfo_endpoint": f"{issuer}/userinfo",
                "jwks_uri": f"{issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            }
        )

    async def _jwks(self, request: Request) -> Response:
        return JSONResponse(KeySet([self._key]).as_dict(private=False))

    # --- authorization code flow ------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.authorize_requests.append(query)
        problem = self._authorize_problem(query)
        if problem:
            return JSONResponse({"error": "invalid_request", "error_description": problem}, status_code=400)
        code = secrets.token_urlsafe(24)
        self._grants[code] = _Grant(
            client_id=query["client_id"],
            redirect_uri=query["redirect_uri"],
            code_challenge=query["code_challenge"],
            nonce=query.get("nonce", ""),
            user=FakeUser(**vars(self.user)),
        )
        separator = "&" if "?" in query["redirect_uri"] else "?"
        location = (
            f"{query['redirect_uri']}{separator}{urlencode({'code': code, 'state': query.get('state', '')})}"
        )
        return RedirectResponse(location, status_code=302)

    def _authorize_problem(self, query: dict[str, str]) -> str:
        if query.get("client_id") != self.client_id:
            return "unknown client_id"
        if query.get("response_type") != "code":
            return "response_type must be code"
        if not query.get("redirect_uri"):
            return "redirect_uri is required"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return "PKCE with code_challenge_method=S256 is required"
        return ""

    async def _token(self, request: Request) -> Response:
        form = dict(await request.form())
        self.token_requests.append(form)
        if not self._client_authenticated(request, form):
            return _token_error("invalid_client", "client authentication failed", status=401)
        if form.get("grant_type") != "authorization_code":
            return _token_error("unsupported_grant_type", "only authorization_code")
        grant = self._grants.pop(form.get("code", ""), None)  # single use, whatever happens next
        if grant is None:
            return _token_error("invalid_grant", "unknown or already used code")
        if grant.redirect_uri != form.get("redirect_uri"):
            return _token_error("invalid_grant", "redirect_uri does not match")
        if _s256(form.get("code_verifier", "")) != grant.code_challenge:
            return _token_error("invalid_grant", "code_verifier does not match the code_challenge")
        access_token = secrets.token_urlsafe(24)
        self._access_tokens[access_token] = grant.user
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": "openid email profile",
                "id_token": self._id_token(_issuer(request), grant),
            },
            headers={"Cache-Control": "no-store"},
        )

    def _client_authenticated(self, request: Request, form: dict[str, Any]) -> bool:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        return (client_id, secret) == (self.client_id, self.client_secret)

    def _id_token(self, issuer: str, grant: _Grant) -> str:
        now = int(time.time())
        issued_at = now - 3600 if self.faults.expired_id_token else now
        claims = {
            "iss": issuer,
            "sub": grant.user.sub,
            "aud": grant.client_id,
            "iat": issued_at,
            "exp": issued_at + 300,
            "nonce": "not-the-nonce-you-sent" if self.faults.wrong_nonce else grant.nonce,
            "email": grant.user.email,
            "email_verified": grant.user.email_verified,
            "name": grant.user.name,
        }
        key = self._rogue_key if self.faults.wrong_signing_key else self._key
        return jwt.encode({"alg": "RS256", "kid": self.key_id, "typ": "JWT"}, claims, key)

    # --- resources --------------------------------------------------------------------------

    def _bearer_user(self, request: Request) -> FakeUser | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return None
        return self._access_tokens.get(header[7:].strip())

    async def _userinfo(self, request: Request) -> Response:
        user = self._bearer_user(request)
        if user is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse(
            {"sub": user.sub, "email": user.email, "email_verified": user.email_verified, "name": user.name}
        )

    async def _github_user(self, request: Request) -> Response:
        user = self._bearer_user(request)
        if user is None:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse({"id": user.github_id, "login": user.login, "name": user.name})

    async def _github_emails(self, request: Request) -> Response:
        user = self._bearer_user(request)
        if user is None:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse(
            [
                {"email": f"{user.login}@users.noreply.github.com", "primary": False, "verified": True},
                {"email": user.email, "primary": True, "verified": user.email_verified},
            ]
        )


def _issuer(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _token_error(error: str, description: str, *, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)

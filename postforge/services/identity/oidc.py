"""Sign-in with an external OpenID Connect / OAuth 2 provider: a generic OIDC issuer, Google, GitHub.

One sign-in is an authorization-code round trip with state, nonce and PKCE (S256), always:

1. `begin_sign_in` stores an `OAuthAttempt` (state, nonce, code verifier, where to go afterwards)
   and returns the provider's authorization URL. The route also gives the browser a cookie holding
   the state, so the callback can tell it came back to the browser that started (login CSRF).
2. `complete_sign_in` claims the attempt exactly once (unknown, mismatched, used or expired state
   → refused), exchanges the code with the verifier, validates the id_token against the provider's
   JWKS (signature, iss, aud, exp, nonce), reads the profile (OIDC userinfo; GitHub /user and
   /user/emails for the verified primary address) and runs the idempotent first sign-in. It
   returns a one-time handoff code: a session token never travels in a URL.
3. The browser lands on `APP_URL/auth/complete?code=…&next=…`; that page calls `exchange_handoff`,
   which redeems the code once, within two minutes, creates the session and returns its token.

GitHub is plain OAuth 2 (no id_token, so no nonce); state and PKCE still apply.
The coroutines do their database work in worker threads, so an event loop never waits on it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx2
import sqlalchemy as sa
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from sqlmodel import Session, select

from postforge import outbound
from postforge.models import OAuthAttempt, User, utcnow
from postforge.services.identity.accounts_auth import create_session, inactive_message
from postforge.services.identity.onboarding import SessionSource, ensure_identity_user, open_session
from postforge.services.kernel.errors import ServiceError, ValidationFailed
from postforge.services.kernel.redirects import DEFAULT_NEXT_PATH, safe_next_path

SIGNIN = "signin"
HANDOFF = "handoff"
ATTEMPT_TTL = timedelta(minutes=10)
HANDOFF_TTL = timedelta(minutes=2)
HTTP_TIMEOUT_SECONDS = 10.0
ID_TOKEN_LEEWAY_SECONDS = 60
METADATA_TTL_SECONDS = 3600.0
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]

GOOGLE_ISSUER = "https://accounts.google.com"
GITHUB_WEB_BASE = "https://github.com"
GITHUB_API_BASE = "https://api.github.com"


class SignInFailed(ServiceError):
    """The provider round trip was refused; the message says why and what to do."""

    code = "sign_in_failed"


class ProviderUnavailable(ServiceError):
    """The provider could not be reached or answered nonsense."""

    code = "provider_unavailable"


@dataclass(frozen=True)
class OIDCProviderConfig:
    """One sign-in provider. `name` is its key in URLs and in auth_identities.provider."""

    name: str
    label: str
    client_id: str
    client_secret: str
    kind: Literal["oidc", "github"] = "oidc"
    # Who assigns the subjects: identities are keyed by (issuer, subject). oidc: the `iss` of its
    # id_tokens, discovery at {issuer}/.well-known/openid-configuration; github: its web URL.
    issuer: str = ""
    scope: str = "openid email profile"
    authorize_url: str = ""  # github
    token_url: str = ""  # github
    api_base: str = ""  # github: /user and /user/emails
    token_auth_method: str = "client_secret_basic"  # noqa: S105 — a method name, not a secret

    def __post_init__(self) -> None:
        if not self.name or not self.client_id:
            raise ValueError(f"sign-in provider {self.name!r} needs a name and a client id")
        if not self.issuer:
            raise ValueError(f"sign-in provider {self.name!r} needs an issuer URL")
        if self.kind == "github" and not (self.authorize_url and self.token_url and self.api_base):
            raise ValueError(f"provider {self.name!r} needs authorize, token and API URLs")


def generic_oidc_provider(
    *, issuer: str, client_id: str, client_secret: str, name: str = "oidc", label: str = "Single sign-on"
) -> OIDCProviderConfig:
    return OIDCProviderConfig(
        name=name, label=label, client_id=client_id, client_secret=client_secret, issuer=issuer.rstrip("/")
    )


def google_provider(*, client_id: str, client_secret: str, issuer: str = GOOGLE_ISSUER) -> OIDCProviderConfig:
    return OIDCProviderConfig(
        name="google",
        label="Google",
        client_id=client_id,
        client_secret=client_secret,
        issuer=issuer.rstrip("/"),
    )


def github_provider(
    *, client_id: str, client_secret: str, web_base: str = GITHUB_WEB_BASE, api_base: str = GITHUB_API_BASE
) -> OIDCProviderConfig:
    web_base = web_base.rstrip("/")
    return OIDCProviderConfig(
        name="github",
        label="GitHub",
        client_id=client_id,
        client_secret=client_secret,
        kind="github",
        issuer=web_base,  # GitHub has no OIDC issuer for sign-in; its (Enterprise) host assigns the ids
        scope="read:user user:email",
        authorize_url=f"{web_base}/login/oauth/authorize",
        token_url=f"{web_base}/login/oauth/access_token",
        api_base=api_base.rstrip("/"),
        token_auth_method="client_secret_post",  # noqa: S106 — a method name, not a secret
    )


def configured_providers(settings: Any = None) -> list[OIDCProviderConfig]:
    """The sign-in buttons to offer: every provider with a client id in the settings."""
    if settings is None:
        from postforge.settings import get_settings

        settings = get_settings()
    return list(providers_from_settings(settings).values())


def providers_from_settings(settings: Any) -> dict[str, OIDCProviderConfig]:
    """The providers whose client id is set, by name (order: generic OIDC, Google, GitHub)."""
    providers: list[OIDCProviderConfig] = []
    if settings.oidc_client_id and settings.oidc_issuer:
        providers.append(
            generic_oidc_provider(
                issuer=settings.oidc_issuer,
                client_id=settings.oidc_client_id,
                client_secret=settings.oidc_client_secret,
                label=settings.oidc_label,
            )
        )
    if settings.google_client_id:
        providers.append(
            google_provider(client_id=settings.google_client_id, client_secret=settings.google_client_secret)
        )
    if settings.github_client_id:
        providers.append(
            github_provider(
                client_id=settings.github_client_id,
                client_secret=settings.github_client_secret,
                web_base=settings.github_web_base,
                api_base=settings.github_api_base,
            )
        )
    return {provider.name: provider for provider in providers}


@dataclass(frozen=True)
class ProviderIdentity:
    provider: str
    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str


@dataclass(frozen=True)
class _Endpoints:
    authorize_url: str
    token_url: str
    issuer: str = ""
    jwks_uri: str = ""
    userinfo_url: str = ""


@dataclass(frozen=True)
class _AttemptSecrets:
    nonce: str
    code_verifier: str
    next_path: str


# --- step 1: to the provider ----------------------------------------------------------------------


async def begin_sign_in(
    source: SessionSource, provider: OIDCProviderConfig, *, redirect_uri: str, next_path: str = ""
) -> tuple[str, str]:
    """Store a new attempt and return (authorization URL, state)."""
    async with _oauth_client(provider, redirect_uri) as client:
        endpoints = await _endpoints(client, provider)
        state, nonce, verifier = (
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(64),
        )
        extra = {"nonce": nonce} if provider.kind == "oidc" else {}
        url, _ = client.create_authorization_url(
            endpoints.authorize_url, state=state, code_verifier=verifier, **extra
        )
    attempt = OAuthAttempt(
        provider=provider.name,
        purpose=SIGNIN,
        state=state,
        nonce=nonce,
        code_verifier=verifier,
        redirect_to=safe_next_path(next_path),
        expires_at=utcnow() + ATTEMPT_TTL,
    )
    await asyncio.to_thread(_insert, source, attempt)
    return url, state


# --- step 2: back from the provider ---------------------------------------------------------------


async def complete_sign_in(
    source: SessionSource,
    provider: OIDCProviderConfig,
    *,
    redirect_uri: str,
    state: str,
    browser_state: str,
    code: str,
    error: str = "",
) -> tuple[str, str]:
    """Finish the round trip; returns (one-time handoff code, the safe path to go to afterwards)."""
    attempt = await asyncio.to_thread(_claim_attempt, source, provider.name, state, browser_state)
    if error:
        reason = outbound.foreign_text(error, 80)
        raise SignInFailed(f"{provider.label} did not sign you in ({reason}). You can try again.")
    if not code:
        raise SignInFailed(f"{provider.label} sent no authorization code. Please start the sign-in again.")
    async with _oauth_client(provider, redirect_uri) as client:
        endpoints = await _endpoints(client, provider)
        token = await _exchange_code(client, provider, endpoints, code, attempt.code_verifier)
        if provider.kind == "github":
            identity = await _github_identity(client, provider)
        else:
            identity = await _oidc_identity(client, provider, endpoints, token, attempt.nonce)
    user = await asyncio.to_thread(
        ensure_identity_user,
        source,
        provider=identity.provider,
        issuer=identity.issuer,
        subject=identity.subject,
        email=identity.email,
        email_verified=identity.email_verified,
        name=identity.name,
    )
    if not user.is_active:
        raise SignInFailed(inactive_message(user))
    handoff = await asyncio.to_thread(_create_handoff, source, provider.name, user.id or 0, attempt.next_path)
    return handoff, attempt.next_path


def _claim_attempt(source: SessionSource, provider: str, state: str, browser_state: str) -> _AttemptSecrets:
    """Mark the attempt used (in its own committed transaction, so a replay fails whatever follows)."""
    if not state or not browser_state or not hmac.compare_digest(state.encode(), browser_state.encode()):
        raise SignInFailed(
            "This sign-in did not start in this browser, or its link was altered (state mismatch). "
            "Please start the sign-in again."
        )
    with open_session(source) as session:
        attempt = session.exec(
            select(OAuthAttempt).where(OAuthAttempt.state == state, OAuthAttempt.purpose == SIGNIN)
        ).first()
        if attempt is None or attempt.provider != provider:
            raise SignInFailed(
                "This sign-in attempt is unknown (state mismatch). Please start the sign-in again."
            )
        now = utcnow()
        if attempt.used_at is not None:
            raise SignInFailed("This sign-in link was already used. Please start the sign-in again.")
        if attempt.expires_at <= now:
            raise SignInFailed("This sign-in attempt expired. Please start the sign-in again.")
        claimed = session.execute(
            sa.update(OAuthAttempt)
            .where(OAuthAttempt.id == attempt.id, OAuthAttempt.used_at.is_(None))  # type: ignore[arg-type, union-attr]
            .values(used_at=now)
        ).rowcount
        session.commit()
    if claimed != 1:
        raise SignInFailed("This sign-in link was already used. Please start the sign-in again.")
    return _AttemptSecrets(attempt.nonce, attempt.code_verifier, attempt.redirect_to or DEFAULT_NEXT_PATH)


async def _exchange_code(
    client: AsyncOAuth2Client, provider: OIDCProviderConfig, endpoints: _Endpoints, code: str, verifier: str
) -> dict[str, Any]:
    try:
        return dict(await client.fetch_token(endpoints.token_url, code=code, code_verifier=verifier))
    except OAuthError as refusal:
        raise SignInFailed(
            f"{provider.label} refused the sign-in code ({outbound.foreign_text(refusal.error or '', 80)}); "
            "it may have expired or been used already. Please start the sign-in again."
        ) from None
    except (ValueError, KeyError):
        raise ProviderUnavailable(f"{provider.label} answered the token request with nonsense.") from None
    except httpx2.HTTPError:
        raise ProviderUnavailable(f"{provider.label} could not be reached. Please try again.") from None


async def _oidc_identity(
    client: AsyncOAuth2Client,
    provider: OIDCProviderConfig,
    endpoints: _Endpoints,
    token: dict[str, Any],
    nonce: str,
) -> ProviderIdentity:
    id_token = token.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise SignInFailed(f"{provider.label} did not return an id_token, so the sign-in cannot be trusted.")
    claims = await _verified_id_token_claims(client, provider, endpoints, id_token, nonce)
    if endpoints.userinfo_url:
        userinfo = await _get_json(client, provider, endpoints.userinfo_url)
        # OIDC Core 5.3.4: userinfo about someone else must not be used.
        if not isinstance(userinfo, dict) or str(userinfo.get("sub")) != claims["sub"]:
            raise SignInFailed(f"{provider.label} returned a profile for a different account.")
        claims = {**userinfo, **claims}
    return ProviderIdentity(
        provider=provider.name,
        issuer=str(claims["iss"]),  # validated: the issuer this provider is configured with
        subject=str(claims["sub"]),
        email=claims.get("email"),
        email_verified=claims.get("email_verified") in (True, "true", "True", 1),
        name=str(claims.get("name") or claims.get("preferred_username") or ""),
    )


async def _verified_id_token_claims(
    client: AsyncOAuth2Client, provider: OIDCProviderConfig, endpoints: _Endpoints, id_token: str, nonce: str
) -> dict[str, Any]:
    try:
        try:
            keys = KeySet.import_key_set(await _jwks(client, provider, endpoints.jwks_uri))
            decoded = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
        except InvalidKeyIdError:
            # The provider may have rotated its keys since we cached them: look once more.
            keys = KeySet.import_key_set(await _jwks(client, provider, endpoints.jwks_uri, fresh=True))
            decoded = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
        registry = jwt.JWTClaimsRegistry(
            leeway=ID_TOKEN_LEEWAY_SECONDS,
            iss={"essential": True, "value": endpoints.issuer},
            aud={"essential": True, "value": provider.client_id},
            sub={"essential": True},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        registry.validate(decoded.claims)
    except (BadSignatureError, InvalidKeyIdError):
        raise SignInFailed(
            f"The sign-in token from {provider.label} is not signed by {provider.label} (bad signature)."
        ) from None
    except ExpiredTokenError:
        raise SignInFailed(
            f"The sign-in token from {provider.label} has expired. Please sign in again."
        ) from None
    except (InvalidClaimError, MissingClaimError) as bad:
        if bad.claim == "nonce":
            raise SignInFailed(
                f"The sign-in token from {provider.label} belongs to another sign-in (nonce mismatch)."
            ) from None
        raise SignInFailed(f"The sign-in token from {provider.label} is not valid ({bad.claim}).") from None
    except JoseError as bad:
        raise SignInFailed(f"The sign-in token from {provider.label} is not valid ({bad.error}).") from None
    claims = dict(decoded.claims)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != provider.client_id:
        raise SignInFailed(f"The sign-in token from {provider.label} was issued to another application.")
    claims["sub"] = str(claims["sub"])
    return claims


async def _github_identity(client: AsyncOAuth2Client, provider: OIDCProviderConfig) -> ProviderIdentity:
    profile = await _get_json(client, provider, f"{provider.api_base}/user")
    emails = await _get_json(client, provider, f"{provider.api_base}/user/emails")
    if not isinstance(profile, dict) or profile.get("id") is None or not isinstance(emails, list):
        raise ProviderUnavailable(f"{provider.label} returned an unexpected profile.")
    primary = next((e for e in emails if isinstance(e, dict) and e.get("primary")), None) or {}
    return ProviderIdentity(
        provider=provider.name,
        issuer=provider.issuer,
        subject=str(profile["id"]),
        email=primary.get("email"),
        email_verified=primary.get("verified") is True,
        name=str(profile.get("name") or profile.get("login") or ""),
    )


# --- step 3: the handoff to the web app -------------------------------------------------------------


def _create_handoff(source: SessionSource, provider: str, user_id: int, next_path: str) -> str:
    code = secrets.token_urlsafe(32)
    _insert(
        source,
        OAuthAttempt(
            provider=provider,
            purpose=HANDOFF,
            state=_digest(code),  # only the hash is stored, like every other token
            code_verifier="",
            redirect_to=next_path,
            user_id=user_id,
            expires_at=utcnow() + HANDOFF_TTL,
        ),
    )
    return code


def exchange_handoff(session: Session, code: str, *, user_agent: str = "", ip: str = "") -> str:
    """Redeem a handoff code once (within two minutes) for a new session; returns its raw token.

    The caller commits. The session is created here rather than at the callback, so no raw
    session token is ever stored or put in a URL.
    """
    now = utcnow()
    redeemed = session.execute(
        sa.update(OAuthAttempt)
        .where(
            OAuthAttempt.state == _digest(code.strip()),  # type: ignore[arg-type]
            OAuthAttempt.purpose == HANDOFF,  # type: ignore[arg-type]
            OAuthAttempt.used_at.is_(None),  # type: ignore[union-attr]
            OAuthAttempt.expires_at > now,  # type: ignore[arg-type]
        )
        .values(used_at=now)
        .returning(OAuthAttempt.user_id)
    ).first()
    user = session.get(User, redeemed.user_id) if redeemed and redeemed.user_id else None
    if user is None or not user.is_active:
        raise ValidationFailed(
            "This sign-in link has expired or was already used. Please sign in again.", field="code"
        )
    return create_session(session, user, user_agent=user_agent, ip=ip)


def purge_expired_attempts(session: Session, *, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete sign-in attempts and handoffs that expired more than `older_than` ago (a periodic job)."""
    result = session.execute(
        sa.delete(OAuthAttempt).where(OAuthAttempt.expires_at < utcnow() - older_than)  # type: ignore[arg-type]
    )
    return result.rowcount or 0


# --- HTTP helpers -----------------------------------------------------------------------------------

_metadata_cache: dict[str, tuple[float, Any]] = {}


def _oauth_client(provider: OIDCProviderConfig, redirect_uri: str) -> AsyncOAuth2Client:
    """authlib's client following the outbound policy: each call (discovery, keys, token,
    profile) ends within the deadline, reads at most the size cap and follows no redirect."""
    policy = outbound.policy_for(user_named=False, deadline_seconds=HTTP_TIMEOUT_SECONDS)
    return AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        scope=provider.scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=provider.token_auth_method,
        headers={"User-Agent": "PostForge", "Accept": "application/json"},
        **outbound.client_options(httpx2, policy, asynchronous=True),
    )


async def _endpoints(client: AsyncOAuth2Client, provider: OIDCProviderConfig) -> _Endpoints:
    if provider.kind == "github":
        return _Endpoints(authorize_url=provider.authorize_url, token_url=provider.token_url)
    metadata = await _cached_json(client, provider, f"{provider.issuer}/.well-known/openid-configuration")
    if not isinstance(metadata, dict) or metadata.get("issuer") != provider.issuer:
        # OIDC Discovery 4.3: the document must name the issuer it was fetched for.
        raise ProviderUnavailable(f"{provider.label}'s discovery document does not match its issuer URL.")
    try:
        return _Endpoints(
            authorize_url=metadata["authorization_endpoint"],
            token_url=metadata["token_endpoint"],
            issuer=metadata["issuer"],
            jwks_uri=metadata["jwks_uri"],
            userinfo_url=metadata.get("userinfo_endpoint", ""),
        )
    except KeyError as missing:
        raise ProviderUnavailable(f"{provider.label}'s discovery document lacks {missing}.") from None


async def _jwks(
    client: AsyncOAuth2Client, provider: OIDCProviderConfig, jwks_uri: str, *, fresh: bool = False
) -> Any:
    keys = await _cached_json(client, provider, jwks_uri, fresh=fresh)
    if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
        raise ProviderUnavailable(f"{provider.label} published no signing keys.")
    return keys


async def _cached_json(
    client: AsyncOAuth2Client, provider: OIDCProviderConfig, url: str, *, fresh: bool = False
) -> Any:
    """Discovery documents and key sets change rarely: keep them for an hour."""
    cached = _metadata_cache.get(url)
    if cached and not fresh and cached[0] > time.monotonic():
        return cached[1]
    document = await _get_json(client, provider, url, with_token=False)
    _metadata_cache[url] = (time.monotonic() + METADATA_TTL_SECONDS, document)
    return document


async def _get_json(
    client: AsyncOAuth2Client, provider: OIDCProviderConfig, url: str, *, with_token: bool = True
) -> Any:
    try:
        response = await client.request("GET", url, withhold_token=not with_token)
        response.raise_for_status()
        return response.json()
    except httpx2.HTTPStatusError as failure:
        raise ProviderUnavailable(
            f"{provider.label} answered {failure.response.status_code} for {urlsplit(url).path}. Please try again."
        ) from None
    except (httpx2.HTTPError, OAuthError):
        raise ProviderUnavailable(f"{provider.label} could not be reached. Please try again.") from None
    except ValueError:
        raise ProviderUnavailable(
            f"{provider.label} answered {urlsplit(url).path} with something not JSON."
        ) from None


def _insert(source: SessionSource, row: OAuthAttempt) -> None:
    with open_session(source) as session:
        session.add(row)
        session.commit()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()

"""Sign-in with an external provider: `GET /api/auth/oidc/{provider}/start` and `…/callback`.

`start?next=/path` stores the attempt, gives the browser a short-lived HttpOnly cookie holding the
state and redirects to the provider. `callback` checks that cookie against the returned state,
finishes the round trip through `postforge.services.identity.oidc` and redirects to
`APP_URL/auth/complete?code=…&next=/path` with a one-time handoff code (valid 2 minutes) that the
web app redeems with `oidc.exchange_handoff(session, code)` for a session token. Every refusal is a small HTML page
with status 400 (502 when the provider is unreachable) — never a stack trace.
"""

from __future__ import annotations

import hashlib
import html
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from postforge import routes
from postforge.services.identity.oidc import (
    OIDCProviderConfig,
    ProviderUnavailable,
    begin_sign_in,
    complete_sign_in,
    providers_from_settings,
)
from postforge.services.identity.onboarding import SessionSource
from postforge.services.kernel.errors import ServiceError

log = logging.getLogger(__name__)

OIDC_START = "/api/auth/oidc/{provider}/start"
OIDC_CALLBACK = "/api/auth/oidc/{provider}/callback"
STATE_COOKIE_PATH = "/api/auth/oidc/"
STATE_COOKIE_MAX_AGE = 10 * 60
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class OAuthRouteConfig:
    providers: Mapping[str, OIDCProviderConfig]
    api_url: str  # where browsers reach this backend: the callback URLs registered at providers
    app_url: str  # the web app: /auth/complete and /sign-in
    source: SessionSource  # engine or session factory

    def callback_url(self, provider: str) -> str:
        return self.api_url.rstrip("/") + OIDC_CALLBACK.format(provider=provider)


def default_oauth_config() -> OAuthRouteConfig:
    from postforge.db import get_engine
    from postforge.settings import get_settings

    settings = get_settings()
    return OAuthRouteConfig(
        providers=providers_from_settings(settings),
        api_url=settings.api_url or settings.app_url,
        app_url=settings.app_url,
        source=get_engine(),
    )


def oauth_routes(config: Callable[[], OAuthRouteConfig] = default_oauth_config) -> list[Route]:
    """The two routes; `config` is read per request (settings and engine are built lazily)."""

    async def start(request: Request) -> Response:
        current = config()
        provider = current.providers.get(request.path_params["provider"])
        if provider is None:
            return _error_page(current, "This sign-in method is not available.", status=404)
        try:
            url, state = await begin_sign_in(
                current.source,
                provider,
                redirect_uri=current.callback_url(provider.name),
                next_path=request.query_params.get("next", ""),
            )
        except ServiceError as refusal:
            return _error_page(current, refusal.message, status=_status(refusal))
        except Exception:
            log.exception("starting sign-in with %s failed", provider.name)
            return _error_page(
                current, "Sign-in could not start because of an error on our side.", status=500
            )
        response = RedirectResponse(url, status_code=303, headers=NO_STORE)
        response.set_cookie(
            state_cookie_name(state),
            state,
            max_age=STATE_COOKIE_MAX_AGE,
            path=STATE_COOKIE_PATH,
            httponly=True,
            samesite="lax",  # sent on the provider's top-level redirect back to us
            secure=current.api_url.startswith("https://"),
        )
        return response

    async def callback(request: Request) -> Response:
        current = config()
        provider = current.providers.get(request.path_params["provider"])
        if provider is None:
            return _error_page(current, "This sign-in method is not available.", status=404)
        query = request.query_params
        state = query.get("state", "")
        cookie = state_cookie_name(state)
        try:
            code, next_path = await complete_sign_in(
                current.source,
                provider,
                redirect_uri=current.callback_url(provider.name),
                state=state,
                browser_state=request.cookies.get(cookie, ""),
                code=query.get("code", ""),
                error=query.get("error", ""),
            )
        except ServiceError as refusal:
            response = _error_page(current, refusal.message, status=_status(refusal))
        except Exception:
            log.exception("completing sign-in with %s failed", provider.name)
            response = _error_page(current, "Sign-in failed because of an error on our side.", status=500)
        else:
            query = urlencode({"code": code, "next": next_path})
            target = f"{current.app_url.rstrip('/')}{routes.AUTH_COMPLETE}?{query}"
            response = RedirectResponse(target, status_code=303, headers=NO_STORE)
        response.delete_cookie(cookie, path=STATE_COOKIE_PATH)
        return response

    return [
        Route(OIDC_START, start, methods=["GET"]),
        Route(OIDC_CALLBACK, callback, methods=["GET"]),
    ]


def state_cookie_name(state: str) -> str:
    """One cookie per attempt, so sign-ins started in two tabs do not overwrite each other."""
    return "pf_oidc_" + hashlib.sha256(state.encode()).hexdigest()[:16]


def _status(refusal: ServiceError) -> int:
    return 502 if isinstance(refusal, ProviderUnavailable) else 400


def _error_page(config: OAuthRouteConfig, message: str, *, status: int) -> HTMLResponse:
    sign_in = html.escape(f"{config.app_url.rstrip('/')}{routes.SIGN_IN}", quote=True)
    body = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign-in failed · PostForge</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; padding: 0 1rem; color: #1f2937; }}
h1 {{ font-size: 1.4rem; }}
a {{ color: #6d28d9; }}
</style>
</head>
<body>
<main>
<h1>Sign-in failed</h1>
<p role="alert">{html.escape(message)}</p>
<p><a href="{sign_in}">Back to sign in</a></p>
</main>
</body>
</html>
"""
    return HTMLResponse(body, status_code=status, headers=NO_STORE)

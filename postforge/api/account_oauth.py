"""The platform's way back after connecting a social account: `GET /api/accounts/connect/{platform}/callback`.

The attempt is started by the accounts page (its Reflex state knows who is signed in — the
session token lives in the browser's storage, out of reach of a plain route): it calls
`account_connect.begin_oauth`, puts the returned browser state into the `pf_connect` cookie
(path `/api/accounts/connect/`, ten minutes) and sends the browser to the platform.

This route reads that cookie, finishes the round trip through `account_connect.complete_oauth`,
deletes the cookie and redirects to the accounts page: `/accounts?connect=<attempt id>`, where
the page shows the outcome stored on the attempt (to its own user only), or
`/accounts?connect=failed` when the callback cannot be tied to an attempt of this browser. A
message never travels in the URL, so nobody can make the page say something by sending a link,
and no refusal ever shows a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from postforge import routes
from postforge.services.channels.account_connect import UNTRACEABLE_PATH, ConnectRefused, complete_oauth
from postforge.services.kernel.errors import ServiceError

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class ConnectRouteConfig:
    app_url: str  # the web app: where the accounts page is
    engine: Any
    settings: Any = None  # None: the process's settings

    def page(self, path: str) -> str:
        return self.app_url.rstrip("/") + path


def default_connect_config() -> ConnectRouteConfig:
    from postforge.db import get_engine
    from postforge.settings import get_settings

    return ConnectRouteConfig(app_url=get_settings().app_url, engine=get_engine())


def account_oauth_routes(config: Callable[[], ConnectRouteConfig] = default_connect_config) -> list[Route]:
    """The callback route; `config` is read per request (settings and engine are built lazily)."""

    async def callback(request: Request) -> Response:
        current = config()
        query = request.query_params
        try:
            result = await run_in_threadpool(
                _complete,
                current,
                platform=request.path_params["platform"],
                state=query.get("state", ""),
                code=query.get("code", ""),
                browser_state=request.cookies.get(routes.CONNECT_COOKIE, ""),
                error=query.get("error") or None,
                error_description=query.get("error_description", ""),
            )
            target = result.redirect_path
        except ConnectRefused as refusal:
            target = refusal.redirect_path
        except ServiceError:
            target = UNTRACEABLE_PATH
        except Exception:
            log.exception("finishing an account connect failed")
            target = UNTRACEABLE_PATH
        response = RedirectResponse(current.page(target), status_code=303, headers=NO_STORE)
        response.delete_cookie(routes.CONNECT_COOKIE, path=routes.CONNECT_COOKIE_PATH)
        return response

    return [Route(routes.API_ACCOUNT_CONNECT_CALLBACK, callback, methods=["GET"])]


def _complete(config: ConnectRouteConfig, **kwargs: Any):
    with Session(config.engine, expire_on_commit=False) as session:
        return complete_oauth(session, settings=config.settings, **kwargs)

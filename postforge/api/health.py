"""GET /api/health: database, broker, worker heartbeat and publishing; 200 when all are fine, else 503.

Anyone sees each part's status; the details (hosts, worker names, ages) only a signed-in system
admin, who sends `Authorization: Bearer <session token>`.
"""

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from postforge.db import session_scope
from postforge.services.admin_console import guard
from postforge.services.operations.health import check_health_async

log = logging.getLogger(__name__)


async def health(request: Request) -> JSONResponse:
    report = await check_health_async()
    token = _bearer_token(request.headers.get("authorization", ""))
    detailed = bool(token) and await asyncio.to_thread(_details_allowed, token)
    return JSONResponse(
        report.as_dict() if detailed else report.public_dict(),
        status_code=200 if report.ok else 503,
        headers={"Cache-Control": "no-store"},
    )


def _bearer_token(authorization: str) -> str:
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _details_allowed(token: str) -> bool:
    # The health route answers whatever is broken: a database that cannot check the token means
    # the public answer (which says the database is down).
    try:
        with session_scope() as session:
            return guard.session_is_admin(session, token)
    except Exception:
        log.warning("could not check who asked for health details", exc_info=True)
        return False

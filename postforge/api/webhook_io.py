"""What every inbound webhook route does the same way: bounded raw body, safe enqueue, plain answers."""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse

from postforge.api.client import request_client_ip

log = logging.getLogger(__name__)


async def read_body(request: Request, limit: int) -> bytes | None:
    """The raw body (signatures are checked on these exact bytes), or None once it grows past `limit`."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def enqueue_safely(enqueue: Callable[[str], None], event_id: str, what: str) -> None:
    try:
        enqueue(event_id)
    except Exception:
        # Stored is safe: the housekeeping sweep of unprocessed events queues it again.
        log.exception("could not enqueue %s %s", what, event_id)


def answer(status: int, **content: object) -> JSONResponse:
    return JSONResponse(content, status_code=status, headers={"Cache-Control": "no-store"})


def refuse(request: Request, what: str, message: str, status: int = 400) -> JSONResponse:
    """Refuse a delivery and log who sent it: forged or misconfigured senders show up by address."""
    log.warning("%s refused from %s: %s", what, request_client_ip(request), message)
    return answer(status, error=message)

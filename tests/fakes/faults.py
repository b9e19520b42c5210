"""Fault injection shared by the fake platform servers.

Each fake keeps a `Faults` and asks it, at the top of every route, whether the next request to
that route should misbehave:

    faults.fail_next("statuses", status=429, headers={"X-RateLimit-Reset": "…"}, body={...})
    faults.fail_next("statuses", status=503, times=2)
    faults.drop_next("statuses")          # do the work, then cut the connection (no answer)
    faults.drop_next("statuses", after_seconds=30)  # do the work, then hang before cutting it
    faults.delay_next("statuses", 2.5)    # answer late (longer than the client's timeout)

    fault = faults.take("statuses")       # in the route: None, or what to do
    if fault and fault.kind == "status": return fault.response()

`drop` is "accepted but the connection dropped": the fake performs the request (the post
exists) and then sends a truncated response, so the client sees its connection fail after
the request landed — the `Unknown` outcome. `dropped_response()` builds it.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send


@dataclass(frozen=True)
class Fault:
    kind: Literal["status", "drop", "delay"]
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    seconds: float = 0.0

    def response(self) -> Response:
        body = self.body if self.body is not None else {"error": f"injected {self.status}"}
        if isinstance(body, str | bytes):
            return Response(body, status_code=self.status, headers=self.headers)
        return JSONResponse(body, status_code=self.status, headers=self.headers)


class Faults:
    """Per-route queues of faults, safe to fill from the test thread while the server runs."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Fault]] = defaultdict(deque)
        self._lock = threading.Lock()

    def fail_next(
        self,
        route: str,
        *,
        status: int,
        headers: dict[str, str] | None = None,
        body: Any = None,
        times: int = 1,
    ) -> None:
        self._push(route, Fault("status", status=status, headers=dict(headers or {}), body=body), times)

    def drop_next(self, route: str, *, times: int = 1, after_seconds: float = 0.0) -> None:
        """Do the work, then (after `after_seconds`: time to kill the client) cut the connection."""
        self._push(route, Fault("drop", seconds=after_seconds), times)

    def delay_next(self, route: str, seconds: float, *, times: int = 1) -> None:
        self._push(route, Fault("delay", seconds=seconds), times)

    def take(self, route: str) -> Fault | None:
        with self._lock:
            queue = self._queues.get(route)
            return queue.popleft() if queue else None

    def pending(self, route: str) -> int:
        with self._lock:
            return len(self._queues.get(route, ()))

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()

    def _push(self, route: str, fault: Fault, times: int) -> None:
        with self._lock:
            self._queues[route].extend([fault] * times)


class _Truncated(Response):
    """Promise a body, send part of it, then fail: the server closes the connection mid-answer."""

    def __init__(self, status_code: int = 200, stall_seconds: float = 0.0) -> None:
        super().__init__(b"", status_code=status_code)
        self.stall_seconds = stall_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.stall_seconds:
            await asyncio.sleep(self.stall_seconds)
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"id": "', "more_body": True})
        raise ConnectionAbortedError("fake platform: connection dropped after the request was accepted")


def dropped_response(status_code: int = 200, fault: Fault | None = None) -> Response:
    """What a route returns for a `drop` fault, after it has done the work."""
    return _Truncated(status_code, fault.seconds if fault else 0.0)

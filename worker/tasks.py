"""Celery tasks: thin doors into `postforge.services`; every rule lives in the services."""

from __future__ import annotations

import os
import socket
from typing import Any

from postforge.db import session_scope
from postforge.services.heartbeat import record_heartbeat
from worker.celery_app import HEARTBEAT_TASK, PING_TASK, celery_app


def _worker_name(request: Any) -> str:
    # `request.hostname` is the node name given with `-n` (e.g. "default@host"); empty when
    # the function is called directly rather than by a worker.
    return request.hostname or f"{socket.gethostname()}:{os.getpid()}"


@celery_app.task(name=HEARTBEAT_TASK, bind=True, ignore_result=True)
def record_heartbeat_task(self) -> None:
    """Record that this worker is alive; beat sends it every `HEARTBEAT_INTERVAL_SECONDS`."""
    with session_scope() as session:
        record_heartbeat(
            session, worker=_worker_name(self.request), hostname=socket.gethostname(), pid=os.getpid()
        )


@celery_app.task(name=PING_TASK, bind=True)
def ping_task(self) -> dict[str, Any]:
    """Answer with this worker's name: proves a message went broker → worker → result backend."""
    return {"pong": True, "worker": _worker_name(self.request)}

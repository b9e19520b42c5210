"""Is PostForge able to work? One answer for the database, the broker and the workers.

Each check runs in a daemon thread and the whole report is bounded by `time_limit` seconds:
a hung server shows up as "did not answer within …", never as a hung health route, and no
check ever raises — a failure is `ok=False` with a detail naming what failed. Credentials
never appear in details, and the details themselves (hosts, worker names) are for system admins:
the public answer is each part's status (`public_dict`). The broker is probed with plain clients (redis-py, sqlite3), not
with Celery, so this module stays free of worker imports.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, text
from sqlmodel import Session

from postforge.db import get_engine
from postforge.models.base import utcnow
from postforge.services.infra.heartbeat import heartbeat_age_seconds, latest_heartbeat, worker_alive
from postforge.services.operations import publishing_health
from postforge.settings import get_settings

CHECK_TIME_LIMIT_SECONDS = 2.5
_DETAIL_LENGTH = 240


@dataclass(frozen=True)
class ComponentHealth:
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class WorkerHealth(ComponentHealth):
    last_beat_at: datetime | None = None
    age_seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            **super().as_dict(),
            "last_beat_at": self.last_beat_at.isoformat() if self.last_beat_at else None,
            "age_seconds": self.age_seconds,
        }


@dataclass(frozen=True)
class HealthReport:
    database: ComponentHealth
    broker: ComponentHealth
    worker: WorkerHealth
    publishing: ComponentHealth

    @property
    def ok(self) -> bool:
        return self.database.ok and self.broker.ok and self.worker.ok and self.publishing.ok

    def public_dict(self) -> dict[str, Any]:
        """What anyone may see: each part's status. Details name hosts, worker names and ages."""
        return {
            "status": "ok" if self.ok else "degraded",
            **{name: {"ok": part.ok} for name, part in self._parts()},
        }

    def as_dict(self) -> dict[str, Any]:
        """Everything, details included: for system admins (`admin_console.guard.session_is_admin`) and the admin page."""
        return {
            "status": "ok" if self.ok else "degraded",
            "database": self.database.as_dict(),
            "broker": self.broker.as_dict(),
            "worker": self.worker.as_dict(),
            "publishing": self.publishing.as_dict(),
        }

    def _parts(self) -> list[tuple[str, ComponentHealth]]:
        return [
            ("database", self.database),
            ("broker", self.broker),
            ("worker", self.worker),
            ("publishing", self.publishing),
        ]


def check_health(
    engine: Engine | None = None,
    broker_url: str | None = None,
    now: datetime | None = None,
    *,
    stale_seconds: float | None = None,
    time_limit: float = CHECK_TIME_LIMIT_SECONDS,
) -> HealthReport:
    """Check database, broker and worker heartbeat concurrently; returns within about `time_limit` s.

    Unset arguments come from the settings: the app's engine, `celery_broker_url` and
    `heartbeat_stale_seconds`. `now` is the moment heartbeat ages are measured from.
    """
    checked_at = now or utcnow()

    def database() -> ComponentHealth:
        return _check_database(engine or get_engine())

    def broker() -> ComponentHealth:
        return _check_broker(
            broker_url if broker_url is not None else get_settings().celery_broker_url, time_limit
        )

    def worker() -> WorkerHealth:
        limit = stale_seconds if stale_seconds is not None else get_settings().heartbeat_stale_seconds
        return _check_worker(engine or get_engine(), checked_at, limit)

    def publishing() -> ComponentHealth:
        return _check_publishing(engine or get_engine(), checked_at)

    results = _run_bounded(
        {
            "database": (database, ComponentHealth, "database unreachable"),
            "broker": (broker, ComponentHealth, "broker check failed"),
            "worker": (worker, WorkerHealth, "cannot read worker heartbeats"),
            "publishing": (publishing, ComponentHealth, "cannot read the publishing backlog"),
        },
        time_limit,
    )
    return HealthReport(**results)


async def check_health_async(
    engine: Engine | None = None,
    broker_url: str | None = None,
    now: datetime | None = None,
    *,
    stale_seconds: float | None = None,
    time_limit: float = CHECK_TIME_LIMIT_SECONDS,
) -> HealthReport:
    """`check_health` off the event loop, for async HTTP routes."""
    return await asyncio.to_thread(
        check_health, engine, broker_url, now, stale_seconds=stale_seconds, time_limit=time_limit
    )


# Checks --------------------------------------------------------------------------------


def _check_database(engine: Engine) -> ComponentHealth:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1")).scalar_one()
    return ComponentHealth(True, f"{engine.dialect.name}: SELECT 1 answered")


def _check_worker(engine: Engine, now: datetime, stale_seconds: float) -> WorkerHealth:
    latest = latest_heartbeat(engine)
    if latest is None:
        return WorkerHealth(False, "no worker heartbeat recorded yet — is a Celery worker with beat running?")
    age = heartbeat_age_seconds(latest, now)
    if worker_alive(latest, now, stale_seconds):
        detail = f"worker {latest.worker} last beat {age:.1f} s ago"
        return WorkerHealth(True, detail, last_beat_at=latest.beat_at, age_seconds=age)
    detail = f"last heartbeat ({latest.worker}) is {age:.0f} s old, over the {stale_seconds:g} s limit"
    return WorkerHealth(False, detail, last_beat_at=latest.beat_at, age_seconds=age)


def _check_publishing(engine: Engine, now: datetime) -> ComponentHealth:
    """Degraded when due posts wait far past their time: dispatch is not running or not keeping up."""
    with Session(engine) as session:
        waiting = publishing_health.backlog(session, now)
    return ComponentHealth(not waiting.stuck, waiting.summary())


def _check_broker(url: str, timeout: float) -> ComponentHealth:
    scheme = urlsplit(url).scheme
    if scheme in {"redis", "rediss", "unix"}:
        return _check_redis(url, timeout)
    if scheme == "sqla+sqlite":
        return _check_sqlite_broker(url, timeout)
    return ComponentHealth(False, f"no health probe for broker scheme {scheme or url[:20]!r}")


def _check_redis(url: str, timeout: float) -> ComponentHealth:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    where = _without_credentials(url)
    # Below the overall bound, so a silent server is reported with its address; no retries.
    socket_timeout = timeout * 0.8
    client = redis.Redis.from_url(
        url, socket_connect_timeout=socket_timeout, socket_timeout=socket_timeout, retry=Retry(NoBackoff(), 0)
    )
    try:
        client.ping()
    except redis.RedisError as error:
        return ComponentHealth(False, f"Redis at {where} did not answer PING: {_describe(error)}")
    finally:
        client.close()
    return ComponentHealth(True, f"Redis at {where} answered PING")


def _check_sqlite_broker(url: str, timeout: float) -> ComponentHealth:
    """The embedded broker has no server: the best available proof is that its file opens."""
    path = Path(url.split(":///", 1)[-1]).resolve()
    if not path.exists():
        if path.parent.is_dir() and os.access(path.parent, os.W_OK):
            return ComponentHealth(
                True, f"embedded SQLite broker {path.name} not created yet; its directory is writable"
            )
        return ComponentHealth(
            False, f"embedded SQLite broker directory for {path.name} is missing or read-only"
        )
    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=timeout)
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            connection.close()
    except sqlite3.Error as error:
        return ComponentHealth(
            False, f"embedded SQLite broker {path.name} cannot be read: {_describe(error)}"
        )
    return ComponentHealth(True, f"embedded SQLite broker {path.name} opens and reads (no server to ping)")


# Plumbing ------------------------------------------------------------------------------

_Check = tuple[Callable[[], ComponentHealth], type[ComponentHealth], str]


def _run_bounded(checks: dict[str, _Check], timeout: float) -> dict[str, Any]:
    """Run every check in its own daemon thread; whatever is unfinished at the deadline fails."""
    boxes: dict[str, dict[str, Any]] = {name: {} for name in checks}
    threads = {
        name: threading.Thread(target=_fill, args=(check, boxes[name]), name=f"health-{name}", daemon=True)
        for name, (check, _, _) in checks.items()
    }
    for thread in threads.values():
        thread.start()
    deadline = time.monotonic() + timeout
    results: dict[str, Any] = {}
    for name, (_, result_type, failure) in checks.items():
        threads[name].join(max(0.0, deadline - time.monotonic()))
        box = boxes[name]
        if "result" in box:
            results[name] = box["result"]
        elif "error" in box:
            results[name] = result_type(False, f"{failure}: {_describe(box['error'])}")
        else:
            results[name] = result_type(False, f"{name} check got no answer within {timeout:g} s")
    return results


def _fill(check: Callable[[], ComponentHealth], box: dict[str, Any]) -> None:
    try:
        box["result"] = check()
    except Exception as error:
        box["error"] = error


def _describe(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error  # SQLAlchemy wraps the driver's error
    message = " ".join(str(cause).split())
    return f"{type(cause).__name__}: {message}"[:_DETAIL_LENGTH]


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"

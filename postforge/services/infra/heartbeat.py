"""Worker heartbeats: each worker upserts one row; the health check reads the newest.

The upsert is a single `INSERT … ON CONFLICT (worker) DO UPDATE`, atomic on SQLite and
PostgreSQL alike, so two deliveries of the same heartbeat can never collide.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from postforge.models import WorkerHeartbeat
from postforge.models.base import utcnow

_NAME_LENGTH = 255  # both `worker` and `hostname` columns are VARCHAR(255)

_INSERT_BY_DIALECT = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def record_heartbeat(
    target: Session | Engine,
    worker: str,
    hostname: str,
    pid: int,
    at: datetime | None = None,
) -> WorkerHeartbeat:
    """Store that `worker` was alive at `at` (default: now).

    Given a session, the caller commits; given an engine, the upsert commits on its own.
    """
    worker = worker.strip()
    if not worker:
        raise ValueError("a heartbeat needs a worker name")
    if at is not None and at.tzinfo is None:
        raise ValueError(f"heartbeat time {at!r} must be timezone-aware (UTC)")
    beat = WorkerHeartbeat(
        worker=worker[:_NAME_LENGTH], hostname=hostname[:_NAME_LENGTH], pid=pid, beat_at=at or utcnow()
    )
    statement = _upsert(_dialect_name(target), beat)
    if isinstance(target, Engine):
        with target.begin() as connection:
            connection.execute(statement)
    else:
        target.execute(statement)
    return beat


def latest_heartbeat(target: Session | Engine, worker: str | None = None) -> WorkerHeartbeat | None:
    """The most recent heartbeat of any worker (or of `worker`), or None if none was recorded."""
    query = select(WorkerHeartbeat).order_by(WorkerHeartbeat.beat_at.desc()).limit(1)  # type: ignore[attr-defined]
    if worker is not None:
        query = query.where(WorkerHeartbeat.worker == worker)
    if isinstance(target, Engine):
        with Session(target) as session:
            return session.scalars(query).first()
    return target.scalars(query).first()


def heartbeat_age_seconds(latest: WorkerHeartbeat, now: datetime) -> float:
    return (now - latest.beat_at).total_seconds()


def worker_alive(latest: WorkerHeartbeat | None, now: datetime, stale_seconds: float) -> bool:
    """True when a heartbeat exists and is no older than `stale_seconds` at `now`."""
    if latest is None:
        return False
    return heartbeat_age_seconds(latest, now) <= stale_seconds


def _dialect_name(target: Session | Engine) -> str:
    bind = target if isinstance(target, Engine) else target.get_bind()
    return bind.dialect.name


def _upsert(dialect: str, beat: WorkerHeartbeat):
    try:
        insert = _INSERT_BY_DIALECT[dialect]
    except KeyError:
        raise ValueError(f"heartbeats support SQLite and PostgreSQL, not {dialect!r}") from None
    values = {"worker": beat.worker, "hostname": beat.hostname, "pid": beat.pid, "beat_at": beat.beat_at}
    statement = insert(WorkerHeartbeat).values(**values)
    return statement.on_conflict_do_update(
        index_elements=["worker"],
        set_={
            "hostname": statement.excluded.hostname,
            "pid": statement.excluded.pid,
            "beat_at": statement.excluded.beat_at,
        },
    )

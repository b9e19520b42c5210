"""Operational tables: API keys, the audit log and worker heartbeats."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from postforge.models.base import created_at_field, fk, json_field, time_field


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = fk("workspaces.id", ondelete="CASCADE")
    created_by_id: int | None = fk("users.id", ondelete="SET NULL", nullable=True)
    name: str = Field(max_length=120, nullable=False)
    prefix: str = Field(max_length=16, unique=True, nullable=False)  # shown to people; not secret
    key_hash: str = Field(max_length=64, unique=True, nullable=False)
    scopes: list[str] = json_field(list)
    last_used_at: datetime | None = time_field()
    expires_at: datetime | None = time_field()
    revoked_at: datetime | None = time_field()
    created_at: datetime = created_at_field()


class AuditLog(SQLModel, table=True):
    """Append-only: rows are written with the change they record, never updated or deleted.

    `details` holds what the action changed (`before`, `after`), the reason given and the actor's
    email at the time (the actor row may go later).
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_workspace_id_created_at", "workspace_id", "created_at"),
        # The admin console's audit page: newest first, and everything done to one target.
        sa.Index("ix_audit_log_created_at", "created_at"),
        sa.Index("ix_audit_log_target_type_target_id_created_at", "target_type", "target_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int | None = fk("workspaces.id", ondelete="SET NULL", nullable=True, index=False)
    actor_user_id: int | None = fk("users.id", ondelete="SET NULL", nullable=True)
    action: str = Field(max_length=64, nullable=False, index=True)
    target_type: str = Field(default="", max_length=64, nullable=False)
    target_id: str = Field(default="", max_length=64, nullable=False)
    details: dict[str, Any] = json_field()
    ip_address: str = Field(default="", max_length=64, nullable=False)
    created_at: datetime = created_at_field()


class WorkerHeartbeat(SQLModel, table=True):
    """The last time each Celery worker ran the heartbeat task; read by /api/health."""

    __tablename__ = "worker_heartbeats"

    worker: str = Field(primary_key=True, max_length=255)
    hostname: str = Field(default="", max_length=255, nullable=False)
    pid: int = Field(default=0, nullable=False)
    beat_at: datetime = created_at_field()


class OutboxMessage(SQLModel, table=True):
    """Every email PostForge sends; in embedded mode this table is the inbox (dev outbox page)."""

    __tablename__ = "outbox_messages"

    id: int | None = Field(default=None, primary_key=True)
    to_address: str = Field(max_length=320, nullable=False, index=True)
    subject: str = Field(max_length=255, nullable=False)
    body_text: str = Field(sa_type=sa.Text, nullable=False)
    created_at: datetime = created_at_field()
    sent_at: datetime | None = time_field()
    error: str = Field(default="", sa_type=sa.Text, nullable=False)


class RateLimitCounter(SQLModel, table=True):
    """Fixed-window attempt counters: the embedded stand-in for the Redis limiter."""

    __tablename__ = "rate_limit_counters"

    key: str = Field(primary_key=True, max_length=255)
    count: int = Field(default=0, nullable=False)
    window_ends_at: datetime = time_field(nullable=False)


class TokenBucket(SQLModel, table=True):
    """A per-account publish bucket: the embedded stand-in for the Redis token bucket."""

    __tablename__ = "token_buckets"

    key: str = Field(primary_key=True, max_length=255)
    tokens: float = Field(nullable=False)
    updated_at: datetime = time_field(nullable=False)
    # The platform said "not before" (a 429 with a reset time): every publish on the key waits.
    blocked_until: datetime | None = time_field()

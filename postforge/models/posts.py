"""Posts, where each goes (destinations), every publish try, media and metrics."""

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from postforge.models.base import (
    created_at_field,
    enum_field,
    enum_type,
    fk,
    json_field,
    time_field,
    updated_at_field,
)


class PostStatus(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    PARTIALLY_PUBLISHED = "partially_published"
    # Some account's post may be live but the platform never confirmed it: a person must check.
    NEEDS_REVIEW = "needs_review"
    FAILED = "failed"
    CANCELLED = "cancelled"


class DestinationStatus(enum.StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    NEEDS_REVIEW = "needs_review"
    CANCELLED = "cancelled"


class AttemptOutcome(enum.StrEnum):
    PUBLISHED = "published"
    RATE_LIMITED = "rate_limited"
    TRANSIENT = "transient"
    AUTH_EXPIRED = "auth_expired"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


class Post(SQLModel, table=True):
    __tablename__ = "posts"
    __table_args__ = (
        # The calendar and posts list: a workspace's posts in a time range.
        sa.Index("ix_posts_workspace_id_scheduled_at", "workspace_id", "scheduled_at"),
        # The posts list sorted by last change.
        sa.Index("ix_posts_workspace_id_updated_at", "workspace_id", "updated_at"),
        # Substring search (ILIKE '%…%') on PostgreSQL: a trigram GIN index (pg_trgm); none on SQLite.
        sa.Index(
            "ix_posts_content_trgm",
            "content",
            postgresql_using="gin",
            postgresql_ops={"content": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = fk("workspaces.id", ondelete="CASCADE", index=False)
    author_id: int | None = fk("users.id", ondelete="SET NULL", nullable=True)
    brand_id: int | None = fk("brands.id", ondelete="SET NULL", nullable=True)
    content: str = Field(default="", sa_type=sa.Text, nullable=False)
    status: PostStatus = enum_field(PostStatus, "post_status", PostStatus.DRAFT)
    scheduled_at: datetime | None = time_field()
    # The wall-clock zone the author scheduled in, so a move keeps the local time across DST.
    timezone: str = Field(default="UTC", max_length=64, nullable=False)
    # hashtags, best_time, best_time_reason, tone, language, platform, ai_generated, sample
    meta: dict[str, Any] = json_field()
    version: int = Field(default=1, nullable=False)  # optimistic concurrency
    published_at: datetime | None = time_field()
    # Set the first time the post is scheduled: from then on a delete keeps the row (soft delete).
    first_scheduled_at: datetime | None = time_field()
    deleted_at: datetime | None = time_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class PostDestination(SQLModel, table=True):
    """One post on one social account: the unit the worker publishes."""

    __tablename__ = "post_destinations"
    __table_args__ = (
        sa.UniqueConstraint("post_id", "social_account_id"),
        # The dispatcher's query: due rows by status and time.
        sa.Index("ix_post_destinations_status_next_attempt_at", "status", "next_attempt_at"),
        # The reaper's query: claimed rows whose lease ran out.
        sa.Index("ix_post_destinations_status_lease_until", "status", "lease_until"),
        # The live-status poller: what changed in a workspace since the last look.
        sa.Index("ix_post_destinations_updated_at", "updated_at"),
        # Metrics collection: the posts published in the last days.
        sa.Index("ix_post_destinations_status_published_at", "status", "published_at"),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = fk("posts.id", ondelete="CASCADE")
    social_account_id: int = fk("social_accounts.id", ondelete="CASCADE")
    status: DestinationStatus = enum_field(DestinationStatus, "destination_status", DestinationStatus.PENDING)
    content_override: str | None = Field(default=None, sa_type=sa.Text)
    platform_post_id: str | None = Field(default=None, max_length=255)
    platform_post_url: str | None = Field(default=None, max_length=1024)
    attempts: int = Field(default=0, nullable=False)
    next_attempt_at: datetime | None = time_field()
    lease_until: datetime | None = time_field()
    last_error: str = Field(default="", sa_type=sa.Text, nullable=False)
    # Sent to platforms that deduplicate (Mastodon Idempotency-Key, Bluesky record key).
    idempotency_key: str = Field(max_length=64, unique=True, nullable=False)
    platform_state: dict[str, Any] = json_field()  # e.g. a container id created before publish
    # What the author chose for this destination on its platform (a YouTube video's privacy, a
    # TikTok post's audience and disclosures); each adapter reads its own keys, with safe defaults.
    options: dict[str, Any] = json_field()
    published_at: datetime | None = time_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class PublishAttempt(SQLModel, table=True):
    __tablename__ = "publish_attempts"

    id: int | None = Field(default=None, primary_key=True)
    destination_id: int = fk("post_destinations.id", ondelete="CASCADE")
    attempt_number: int = Field(nullable=False)
    started_at: datetime = created_at_field()
    finished_at: datetime | None = time_field()
    outcome: AttemptOutcome | None = Field(
        default=None,
        sa_type=enum_type(AttemptOutcome, "attempt_outcome"),
        nullable=True,
    )
    http_status: int | None = Field(default=None)
    error: str = Field(default="", sa_type=sa.Text, nullable=False)


class MediaKind(enum.StrEnum):
    IMAGE = "image"
    VIDEO = "video"


class MediaStatus(enum.StrEnum):
    PENDING = "pending"  # an upload was started; the file is not checked yet
    READY = "ready"  # checked and usable
    FAILED = "failed"  # the file was accepted but can no longer be read (its preview could not be made)


class MediaAsset(SQLModel, table=True):
    """A file of the workspace's media library.

    A row is written when an upload starts (status pending, `size_bytes` the declared size, so the
    storage quota counts uploads under way) and completed by the confirm step, which decides the
    type from the file's own bytes. `deleted_at` hides it from the library; the file is purged
    once no scheduled post uses it and the grace period is over.
    """

    __tablename__ = "media_assets"
    __table_args__ = (
        sa.CheckConstraint("size_bytes >= 0", name="size_not_negative"),
        sa.Index("ix_media_assets_workspace_id_created_at", "workspace_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = fk("workspaces.id", ondelete="CASCADE")
    uploaded_by_id: int | None = fk("users.id", ondelete="SET NULL", nullable=True)
    storage_key: str = Field(max_length=512, unique=True, nullable=False)
    filename: str = Field(default="", max_length=255, nullable=False)
    mime_type: str = Field(max_length=127, nullable=False)
    size_bytes: int = Field(nullable=False)
    width: int | None = Field(default=None)
    height: int | None = Field(default=None)
    sha256: str = Field(default="", max_length=64, nullable=False, index=True)
    created_at: datetime = created_at_field()
    kind: MediaKind = enum_field(MediaKind, "media_kind", MediaKind.IMAGE)
    status: MediaStatus = enum_field(MediaStatus, "media_status", MediaStatus.PENDING)
    alt_text: str = Field(default="", max_length=1500, nullable=False)
    duration_seconds: float | None = Field(default=None)
    frame_rate: float | None = Field(default=None)
    video_codec: str | None = Field(default=None, max_length=32)
    audio_codec: str | None = Field(default=None, max_length=32)
    thumbnail_key: str | None = Field(default=None, max_length=512)
    poster_key: str | None = Field(default=None, max_length=512)  # a video's first frame, full size
    upload_id: str | None = Field(default=None, max_length=1024)  # the storage's multipart upload
    confirmed_at: datetime | None = time_field()
    deleted_at: datetime | None = time_field()


class PostMedia(SQLModel, table=True):
    __tablename__ = "post_media"

    post_id: int = Field(foreign_key="posts.id", ondelete="CASCADE", primary_key=True)
    media_id: int = Field(foreign_key="media_assets.id", ondelete="CASCADE", primary_key=True, index=True)
    position: int = Field(default=0, nullable=False)


class PostMetrics(SQLModel, table=True):
    __tablename__ = "post_metrics"
    __table_args__ = (sa.UniqueConstraint("destination_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    destination_id: int = fk("post_destinations.id", ondelete="CASCADE", index=False)
    day: date = Field(nullable=False)
    impressions: int = Field(default=0, nullable=False)
    reach: int = Field(default=0, nullable=False)
    likes: int = Field(default=0, nullable=False)
    comments: int = Field(default=0, nullable=False)
    shares: int = Field(default=0, nullable=False)
    collected_at: datetime = created_at_field()

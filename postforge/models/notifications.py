"""What the app tells a workspace's people: a post published, a publish failed, an account lost."""

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from postforge.models.base import created_at_field, enum_field, fk, time_field


class NotificationKind(enum.StrEnum):
    PUBLISHED = "published"
    FAILED = "failed"
    NEEDS_REVIEW = "needs_review"
    ACCOUNT_NEEDS_RECONNECT = "account_needs_reconnect"


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (
        # The live poller's query: a workspace's notifications after the last one a page saw.
        sa.Index("ix_notifications_workspace_id_id", "workspace_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = fk("workspaces.id", ondelete="CASCADE", index=False)
    user_id: int | None = fk("users.id", ondelete="CASCADE", nullable=True)  # None: everyone in it
    kind: NotificationKind = enum_field(NotificationKind, "notification_kind", NotificationKind.PUBLISHED)
    title: str = Field(max_length=255, nullable=False)
    body: str = Field(default="", sa_type=sa.Text, nullable=False)
    link: str = Field(default="", max_length=512, nullable=False)  # deep link to the post
    post_id: int | None = fk("posts.id", ondelete="CASCADE", nullable=True)
    destination_id: int | None = fk("post_destinations.id", ondelete="CASCADE", nullable=True, index=False)
    social_account_id: int | None = fk("social_accounts.id", ondelete="CASCADE", nullable=True, index=False)
    created_at: datetime = created_at_field()
    read_at: datetime | None = time_field()

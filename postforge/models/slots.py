"""A workspace's weekly posting schedule: the times "add to next free slot" fills."""

from datetime import datetime, time

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from postforge.models.base import created_at_field, fk


class PostingSlot(SQLModel, table=True):
    """One weekly time, e.g. Monday 09:00, as a wall-clock time in the workspace's zone."""

    __tablename__ = "posting_slots"
    __table_args__ = (
        # Also the index for "this workspace's slots" (workspace_id leads).
        sa.UniqueConstraint("workspace_id", "weekday", "local_time"),
        sa.CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday_in_week"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = fk("workspaces.id", ondelete="CASCADE", index=False)
    weekday: int = Field(nullable=False)  # 0 = Monday … 6 = Sunday, as date.weekday()
    local_time: time = Field(sa_type=sa.Time, nullable=False)  # minutes precision, no zone
    created_at: datetime = created_at_field()

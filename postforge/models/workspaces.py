"""Workspaces own everything a team shares: posts, accounts, brands, media and credits."""

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from postforge.models.base import created_at_field, enum_field, fk, json_field, time_field, updated_at_field


class Role(enum.StrEnum):
    ADMIN = "admin"  # members, billing, accounts
    EDITOR = "editor"  # writes posts
    VIEWER = "viewer"  # reads only


class Workspace(SQLModel, table=True):
    __tablename__ = "workspaces"
    __table_args__ = (
        sa.CheckConstraint("credits >= 0", name="credits_not_negative"),
        # The admin console's workspace list, newest first, and its search (ILIKE '%…%') on PostgreSQL.
        sa.Index("ix_workspaces_created_at", "created_at"),
        sa.Index(
            "ix_workspaces_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}
        ).ddl_if(dialect="postgresql"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, nullable=False)
    slug: str = Field(max_length=140, unique=True, nullable=False)
    is_personal: bool = Field(default=False, nullable=False)
    # Balance in credits; the ledger (credit_transactions) must always sum to it.
    credits: int = Field(default=0, nullable=False)
    timezone: str = Field(default="UTC", max_length=64, nullable=False)
    created_by_id: int | None = fk("users.id", ondelete="SET NULL", nullable=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = fk("workspaces.id", ondelete="CASCADE")
    user_id: int = fk("users.id", ondelete="CASCADE")
    role: Role = enum_field(Role, "membership_role", Role.EDITOR)
    created_at: datetime = created_at_field()


class Brand(SQLModel, table=True):
    """Voice and audience that shape AI generation for a workspace."""

    __tablename__ = "brands"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = fk("workspaces.id", ondelete="CASCADE")
    name: str = Field(max_length=120, nullable=False)
    tone_of_voice: str = Field(default="", sa_type=sa.Text, nullable=False)
    target_audience: str = Field(default="", sa_type=sa.Text, nullable=False)
    sample_posts: list[str] = json_field(list)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Invite(SQLModel, table=True):
    """An emailed invitation: expiring, single use, for one workspace and one role."""

    __tablename__ = "invites"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = fk("workspaces.id", ondelete="CASCADE")
    email: str = Field(max_length=320, nullable=False)
    role: Role = enum_field(Role, "invite_role", Role.EDITOR)
    token_hash: str = Field(max_length=64, unique=True, nullable=False)
    invited_by_id: int | None = fk("users.id", ondelete="SET NULL", nullable=True)
    created_at: datetime = created_at_field()
    expires_at: datetime = time_field(nullable=False)
    accepted_at: datetime | None = time_field()
    accepted_by_id: int | None = fk("users.id", ondelete="SET NULL", nullable=True, index=False)
    revoked_at: datetime | None = time_field()

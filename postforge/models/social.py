"""Connected social accounts. Tokens are stored only as ciphertext (MultiFernet)."""

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from postforge.models.base import created_at_field, enum_field, fk, json_field, time_field, updated_at_field


class Platform(enum.StrEnum):
    SANDBOX = "sandbox"
    MASTODON = "mastodon"
    BLUESKY = "bluesky"
    LINKEDIN = "linkedin"
    X = "x"
    THREADS = "threads"
    INSTAGRAM = "instagram"
    FACEBOOK = "facebook"


class AccountStatus(enum.StrEnum):
    CONNECTED = "connected"
    NEEDS_RECONNECT = "needs_reconnect"
    DISCONNECTED = "disconnected"


class SocialAccount(SQLModel, table=True):
    __tablename__ = "social_accounts"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "platform", "platform_account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = fk("workspaces.id", ondelete="CASCADE")
    connected_by_id: int | None = fk("users.id", ondelete="SET NULL", nullable=True)
    platform: Platform = enum_field(Platform, "social_platform", Platform.SANDBOX)
    platform_account_id: str = Field(max_length=255, nullable=False)
    handle: str = Field(default="", max_length=255, nullable=False)
    display_name: str = Field(default="", max_length=255, nullable=False)
    avatar_url: str = Field(default="", max_length=1024, nullable=False)
    instance_url: str = Field(default="", max_length=255, nullable=False)  # Mastodon instance etc.
    access_token_enc: str | None = Field(default=None, sa_type=sa.Text)
    refresh_token_enc: str | None = Field(default=None, sa_type=sa.Text)
    token_expires_at: datetime | None = time_field()
    scopes: str = Field(default="", max_length=1024, nullable=False)
    status: AccountStatus = enum_field(AccountStatus, "social_account_status", AccountStatus.CONNECTED)
    last_error: str = Field(default="", sa_type=sa.Text, nullable=False)
    settings: dict[str, Any] = json_field()  # per-account limits, e.g. Mastodon max_characters
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

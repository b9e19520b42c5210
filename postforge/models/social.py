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
    YOUTUBE = "youtube"
    TIKTOK = "tiktok"


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


class PlatformApp(SQLModel, table=True):
    """An OAuth client PostForge registered itself (Mastodon registers one app per instance)."""

    __tablename__ = "platform_apps"
    __table_args__ = (sa.UniqueConstraint("platform", "instance_url", "redirect_uri"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: Platform = enum_field(Platform, "platform_app_platform", Platform.MASTODON)
    instance_url: str = Field(max_length=255, nullable=False)
    redirect_uri: str = Field(max_length=512, nullable=False)
    client_id: str = Field(max_length=255, nullable=False)
    client_secret_enc: str = Field(sa_type=sa.Text, nullable=False)
    scopes: str = Field(default="", max_length=1024, nullable=False)
    created_at: datetime = created_at_field()


class SandboxPost(SQLModel, table=True):
    """A post on the built-in sandbox platform: its public "feed" is the sandbox page."""

    __tablename__ = "sandbox_posts"

    id: int | None = Field(default=None, primary_key=True)
    social_account_id: int = fk("social_accounts.id", ondelete="CASCADE")
    # The destination's idempotency key: the sandbox, like Mastodon, never posts a key twice.
    idempotency_key: str = Field(max_length=64, unique=True, nullable=False)
    text: str = Field(sa_type=sa.Text, nullable=False)
    created_at: datetime = created_at_field()

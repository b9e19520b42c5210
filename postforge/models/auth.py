"""Short-lived sign-in artefacts: reset and verification links, OAuth attempts, identity-provider events."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from postforge.models.base import created_at_field, fk, json_field, time_field


class PasswordResetToken(SQLModel, table=True):
    """A one-time reset link; only the SHA-256 of its token is stored."""

    __tablename__ = "password_reset_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("users.id", ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True, nullable=False)
    created_at: datetime = created_at_field()
    expires_at: datetime = time_field(nullable=False)
    used_at: datetime | None = time_field()


class EmailVerificationToken(SQLModel, table=True):
    """A one-time link proving that a user receives mail at `email`; only its SHA-256 is stored.

    The address is kept with the link: a link mailed to an address the account no longer uses
    proves nothing about the current one.
    """

    __tablename__ = "email_verification_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("users.id", ondelete="CASCADE")
    email: str = Field(max_length=320, nullable=False)
    token_hash: str = Field(max_length=64, unique=True, nullable=False)
    created_at: datetime = created_at_field()
    expires_at: datetime = time_field(nullable=False)
    used_at: datetime | None = time_field()


class OAuthAttempt(SQLModel, table=True):
    """One authorization-code round trip: state, nonce and PKCE verifier, used at most once."""

    __tablename__ = "oauth_attempts"

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=64, nullable=False)
    purpose: str = Field(default="signin", max_length=32, nullable=False)  # signin | connect
    state: str = Field(max_length=128, unique=True, nullable=False)
    nonce: str = Field(default="", max_length=128, nullable=False)
    code_verifier: str = Field(max_length=128, nullable=False)
    redirect_to: str = Field(default="", max_length=512, nullable=False)
    user_id: int | None = fk("users.id", ondelete="CASCADE", nullable=True)  # who connects an account
    workspace_id: int | None = fk("workspaces.id", ondelete="CASCADE", nullable=True, index=False)
    # Connect flows: the platform, the Mastodon instance, the account being reconnected.
    details: dict[str, Any] = json_field()
    created_at: datetime = created_at_field()
    expires_at: datetime = time_field(nullable=False)
    used_at: datetime | None = time_field()


class IdentityEvent(SQLModel, table=True):
    """A webhook from an external user directory (svix-signed), stored before it is applied."""

    __tablename__ = "identity_events"
    __table_args__ = (sa.Index("ix_identity_events_processed_at", "processed_at"),)

    id: str = Field(primary_key=True, max_length=255)  # the svix message id: a replay cannot insert twice
    provider: str = Field(default="clerk", max_length=64, nullable=False)
    type: str = Field(max_length=128, nullable=False)
    payload: dict[str, Any] = json_field()
    received_at: datetime = created_at_field()
    processed_at: datetime | None = time_field()
    error: str = Field(default="", sa_type=sa.Text, nullable=False)

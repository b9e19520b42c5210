"""People and how they sign in: users, external identities, browser sessions."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from postforge.models.base import created_at_field, fk, time_field, updated_at_field


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        # The admin console's user list, newest first (and a search that matches most users).
        sa.Index("ix_users_created_at", "created_at"),
        # The admin console's user search (ILIKE '%…%') on PostgreSQL: trigram GIN indexes.
        sa.Index(
            "ix_users_email_trgm", "email", postgresql_using="gin", postgresql_ops={"email": "gin_trgm_ops"}
        ).ddl_if(dialect="postgresql"),
        sa.Index(
            "ix_users_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}
        ).ddl_if(dialect="postgresql"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Stored case-folded by the accounts service; unique so one person has one account.
    email: str = Field(max_length=320, unique=True, nullable=False)
    password_hash: str | None = Field(default=None, max_length=255)  # None: OAuth-only account
    name: str = Field(default="", max_length=120, nullable=False)
    timezone: str = Field(default="UTC", max_length=64, nullable=False)  # IANA zone name
    is_admin: bool = Field(default=False, nullable=False)
    is_active: bool = Field(default=True, nullable=False)
    # Set by a system admin's suspension (is_active is then False too); None once restored.
    suspended_at: datetime | None = time_field()
    email_verified_at: datetime | None = time_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class AuthIdentity(SQLModel, table=True):
    """A sign-in identity at an external provider (OIDC, GitHub, Google, an identity webhook).

    A `subject` is unique only within the issuer that assigned it, so (issuer, subject) is the
    key: another provider's user with the same subject is another person. `provider` is the
    sign-in button the identity came through (for people to read), never part of the key.
    """

    __tablename__ = "auth_identities"
    __table_args__ = (sa.UniqueConstraint("issuer", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("users.id", ondelete="CASCADE")
    provider: str = Field(max_length=64, nullable=False)
    issuer: str = Field(max_length=255, nullable=False)
    subject: str = Field(max_length=255, nullable=False)
    email: str | None = Field(default=None, max_length=320)
    created_at: datetime = created_at_field()


class UserSession(SQLModel, table=True):
    """A signed-in browser. Only the SHA-256 of the token is stored."""

    __tablename__ = "sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("users.id", ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True, nullable=False)
    # The workspace this browser is working in (the header's switcher).
    workspace_id: int | None = fk("workspaces.id", ondelete="SET NULL", nullable=True, index=False)
    user_agent: str = Field(default="", max_length=512, nullable=False)
    ip_address: str = Field(default="", max_length=64, nullable=False)
    created_at: datetime = created_at_field()
    last_seen_at: datetime = created_at_field()
    expires_at: datetime = time_field(nullable=False)
    revoked_at: datetime | None = time_field()

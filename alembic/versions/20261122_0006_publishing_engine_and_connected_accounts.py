"""publishing engine and connected accounts

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 04:42:02.218152
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "platform_apps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "platform",
            sa.Enum(
                "sandbox",
                "mastodon",
                "bluesky",
                "linkedin",
                "x",
                "threads",
                "instagram",
                "facebook",
                name="platform_app_platform",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("instance_url", sa.String(length=255), nullable=False),
        sa.Column("redirect_uri", sa.String(length=512), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret_enc", sa.Text(), nullable=False),
        sa.Column("scopes", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_apps")),
        sa.UniqueConstraint(
            "platform",
            "instance_url",
            "redirect_uri",
            name=op.f("uq_platform_apps_platform_instance_url_redirect_uri"),
        ),
    )
    op.create_table(
        "token_buckets",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_token_buckets")),
    )
    op.create_table(
        "sandbox_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("social_account_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["social_account_id"],
            ["social_accounts.id"],
            name=op.f("fk_sandbox_posts_social_account_id_social_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_posts")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_sandbox_posts_idempotency_key")),
    )
    op.create_index(
        op.f("ix_sandbox_posts_social_account_id"), "sandbox_posts", ["social_account_id"], unique=False
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "published",
                "failed",
                "needs_review",
                "account_needs_reconnect",
                name="notification_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=512), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("destination_id", sa.Integer(), nullable=True),
        sa.Column("social_account_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["destination_id"],
            ["post_destinations.id"],
            name=op.f("fk_notifications_destination_id_post_destinations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_notifications_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["social_account_id"],
            ["social_accounts.id"],
            name=op.f("fk_notifications_social_account_id_social_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_notifications_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_post_id"), "notifications", ["post_id"], unique=False)
    op.create_index(op.f("ix_notifications_user_id"), "notifications", ["user_id"], unique=False)
    op.create_index("ix_notifications_workspace_id_id", "notifications", ["workspace_id", "id"], unique=False)
    with op.batch_alter_table("oauth_attempts") as batch:
        batch.add_column(sa.Column("workspace_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("details", JSON_TYPE, nullable=False, server_default=sa.text("'{}'")))
        batch.create_foreign_key(
            op.f("fk_oauth_attempts_workspace_id_workspaces"),
            "workspaces",
            ["workspace_id"],
            ["id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("post_destinations") as batch:
        batch.create_index("ix_post_destinations_status_lease_until", ["status", "lease_until"], unique=False)
        batch.create_index("ix_post_destinations_updated_at", ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("post_destinations") as batch:
        batch.drop_index("ix_post_destinations_updated_at")
        batch.drop_index("ix_post_destinations_status_lease_until")
    with op.batch_alter_table("oauth_attempts") as batch:
        batch.drop_constraint(op.f("fk_oauth_attempts_workspace_id_workspaces"), type_="foreignkey")
        batch.drop_column("details")
        batch.drop_column("workspace_id")
    op.drop_index("ix_notifications_workspace_id_id", table_name="notifications")
    op.drop_index(op.f("ix_notifications_user_id"), table_name="notifications")
    op.drop_index(op.f("ix_notifications_post_id"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(op.f("ix_sandbox_posts_social_account_id"), table_name="sandbox_posts")
    op.drop_table("sandbox_posts")
    op.drop_table("token_buckets")
    op.drop_table("platform_apps")

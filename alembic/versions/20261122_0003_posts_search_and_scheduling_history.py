"""posts search and scheduling history

Adds `posts.first_scheduled_at` (a post scheduled once is soft-deleted from then on), an index
for the posts list sorted by last change, and on PostgreSQL a trigram GIN index (pg_trgm) that
serves the posts page's case-insensitive substring search (`content ILIKE '%…%'`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:13:24.869378
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch_op:
        batch_op.add_column(sa.Column("first_scheduled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_posts_workspace_id_updated_at", "posts", ["workspace_id", "updated_at"], unique=False)
    if _postgres():
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_posts_content_trgm",
            "posts",
            ["content"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"content": "gin_trgm_ops"},
        )


def downgrade() -> None:
    if _postgres():
        op.drop_index("ix_posts_content_trgm", table_name="posts")
    op.drop_index("ix_posts_workspace_id_updated_at", table_name="posts")
    with op.batch_alter_table("posts") as batch_op:
        batch_op.drop_column("first_scheduled_at")

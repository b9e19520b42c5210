"""metrics collection index

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 06:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The metrics collector reads the destinations published in the last few days.
    with op.batch_alter_table("post_destinations") as batch:
        batch.create_index(
            "ix_post_destinations_status_published_at", ["status", "published_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("post_destinations") as batch:
        batch.drop_index("ix_post_destinations_status_published_at")

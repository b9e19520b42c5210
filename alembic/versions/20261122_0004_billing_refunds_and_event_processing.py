"""billing: refunds and owed credits on payments, event processing attempts, subscription ordering

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 03:11:22.189053
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    zero, empty = sa.text("0"), sa.text("''")
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("plan_name", sa.String(length=120), nullable=False, server_default=empty))
        batch.add_column(
            sa.Column("stripe_customer_id", sa.String(length=255), nullable=False, server_default=empty)
        )
        batch.add_column(
            sa.Column("stripe_subscription_id", sa.String(length=255), nullable=False, server_default=empty)
        )
        batch.add_column(
            sa.Column("stripe_invoice_id", sa.String(length=255), nullable=False, server_default=empty)
        )
        batch.add_column(sa.Column("checkout_completed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("credits_taken_back", sa.Integer(), nullable=False, server_default=zero))
        batch.add_column(sa.Column("credits_owed", sa.Integer(), nullable=False, server_default=zero))
        batch.create_check_constraint("credits_taken_back_not_negative", "credits_taken_back >= 0")
        batch.create_check_constraint("credits_owed_not_negative", "credits_owed >= 0")
    with op.batch_alter_table("stripe_events") as batch:
        batch.add_column(sa.Column("outcome", sa.String(length=500), nullable=False, server_default=empty))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default=zero))
        batch.create_index("ix_stripe_events_processed_at", ["processed_at"], unique=False)
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("last_event_at")
    with op.batch_alter_table("stripe_events") as batch:
        batch.drop_index("ix_stripe_events_processed_at")
        batch.drop_column("attempts")
        batch.drop_column("outcome")
    with op.batch_alter_table("payments") as batch:
        batch.drop_constraint("credits_owed_not_negative", type_="check")
        batch.drop_constraint("credits_taken_back_not_negative", type_="check")
        for column in (
            "credits_owed",
            "credits_taken_back",
            "paid_at",
            "checkout_completed_at",
            "stripe_invoice_id",
            "stripe_subscription_id",
            "stripe_customer_id",
            "plan_name",
        ):
            batch.drop_column(column)

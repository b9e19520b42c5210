"""admin console: suspended users, searchable users and workspaces, audit log lookups

* `users.suspended_at`: when a system admin suspended the account (None once restored);
* the user and workspace lists, newest first: indexes on their `created_at`;
* on PostgreSQL, trigram GIN indexes for the console's substring search on users' email and
  name and on workspace names (pg_trgm was created by 0003);
* `audit_log` indexes for its page (newest first) and for everything done to one target.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGRAM_INDEXES = [
    ("ix_users_email_trgm", "users", "email"),
    ("ix_users_name_trgm", "users", "name"),
    ("ix_workspaces_name_trgm", "workspaces", "name"),
]


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_users_created_at", "users", ["created_at"], unique=False)
    op.create_index("ix_workspaces_created_at", "workspaces", ["created_at"], unique=False)
    op.create_index("ix_audit_log_created_at", "audit_log", ["created_at"], unique=False)
    op.create_index(
        "ix_audit_log_target_type_target_id_created_at",
        "audit_log",
        ["target_type", "target_id", "created_at"],
        unique=False,
    )
    if _postgres():
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, column in TRIGRAM_INDEXES:
            op.create_index(
                name,
                table,
                [column],
                unique=False,
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )


def downgrade() -> None:
    if _postgres():
        for name, table, _column in reversed(TRIGRAM_INDEXES):
            op.drop_index(name, table_name=table)
    op.drop_index("ix_audit_log_target_type_target_id_created_at", table_name="audit_log")
    op.drop_index("ix_audit_log_created_at", table_name="audit_log")
    op.drop_index("ix_workspaces_created_at", table_name="workspaces")
    op.drop_index("ix_users_created_at", table_name="users")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("suspended_at")

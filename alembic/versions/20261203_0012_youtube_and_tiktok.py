"""youtube and tiktok

Two more platforms: the platform columns of `social_accounts` and `platform_apps` are VARCHARs
guarded by a named CHECK constraint listing the platforms, so the constraint is replaced with one
that also lists `youtube` and `tiktok`. Destinations get `options`: what the author chose for the
post on that platform (a YouTube video's privacy, a TikTok post's audience and disclosures).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ("sandbox", "mastodon", "bluesky", "linkedin", "x", "threads", "instagram", "facebook")
AFTER = (*BEFORE, "youtube", "tiktok")
# (table, the enum's name in the models): the CHECK constraint is ck_<table>_<enum name>.
PLATFORM_COLUMNS = (("social_accounts", "social_platform"), ("platform_apps", "platform_app_platform"))


def _allow(platforms: tuple[str, ...]) -> None:
    for table, enum_name in PLATFORM_COLUMNS:
        name = op.f(f"ck_{table}_{enum_name}")
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(name, type_="check")
            batch.create_check_constraint(name, sa.column("platform").in_(platforms))


def upgrade() -> None:
    _allow(AFTER)
    with op.batch_alter_table("post_destinations") as batch:
        batch.add_column(
            sa.Column(
                "options",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("post_destinations") as batch:
        batch.drop_column("options")
    # Accounts on the new platforms cannot live under the old constraint.
    op.execute(sa.text("DELETE FROM social_accounts WHERE platform IN ('youtube', 'tiktok')"))
    op.execute(sa.text("DELETE FROM platform_apps WHERE platform IN ('youtube', 'tiktok')"))
    _allow(BEFORE)

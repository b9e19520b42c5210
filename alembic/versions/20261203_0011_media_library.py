"""media library

Media assets gain what the library and the publishing engine need: their kind (image or video)
decided from the file's bytes, an upload status (pending until the file is checked), alt text,
video duration, frame rate and codecs, thumbnail and poster keys, the storage's multipart upload
id, and soft deletion. The sha256 is empty until the file is confirmed. The seeded subscription
tiers get a storage quota (`storage_bytes` in their features) where they have none.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
GIB = 1024 * 1024 * 1024
# The quota of each seeded tier, as `SEED_PLANS` in the billing service sets it for new databases.
TIER_STORAGE = {"tier-free": 1 * GIB, "tier-pro": 25 * GIB, "tier-business": 200 * GIB}


def upgrade() -> None:
    with op.batch_alter_table("media_assets") as batch:
        batch.add_column(
            sa.Column(
                "kind",
                sa.Enum(
                    "image",
                    "video",
                    name="media_kind",
                    native_enum=False,
                    create_constraint=True,
                    length=32,
                ),
                nullable=False,
                server_default="image",
            )
        )
        batch.add_column(
            sa.Column(
                "status",
                sa.Enum(
                    "pending",
                    "ready",
                    "failed",
                    name="media_status",
                    native_enum=False,
                    create_constraint=True,
                    length=32,
                ),
                nullable=False,
                server_default="ready",  # files stored before this revision were whole already
            )
        )
        batch.add_column(sa.Column("alt_text", sa.String(length=1500), nullable=False, server_default=""))
        batch.add_column(sa.Column("duration_seconds", sa.Float(), nullable=True))
        batch.add_column(sa.Column("frame_rate", sa.Float(), nullable=True))
        batch.add_column(sa.Column("video_codec", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("audio_codec", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("thumbnail_key", sa.String(length=512), nullable=True))
        batch.add_column(sa.Column("poster_key", sa.String(length=512), nullable=True))
        batch.add_column(sa.Column("upload_id", sa.String(length=1024), nullable=True))
        batch.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
        batch.alter_column("sha256", existing_type=sa.String(length=64), server_default="")
        batch.create_index("ix_media_assets_workspace_id_created_at", ["workspace_id", "created_at"])
    # The model carries no server defaults: the service always writes these columns.
    with op.batch_alter_table("media_assets") as batch:
        batch.alter_column("kind", existing_type=sa.String(length=32), server_default=None)
        batch.alter_column("status", existing_type=sa.String(length=32), server_default=None)
        batch.alter_column("alt_text", existing_type=sa.String(length=1500), server_default=None)
        batch.alter_column("sha256", existing_type=sa.String(length=64), server_default=None)
    _give_tiers_a_storage_quota()


def _give_tiers_a_storage_quota() -> None:
    plans = sa.table(
        "pricing_plans", sa.column("id", sa.Integer()), sa.column("code"), sa.column("features", JSON_TYPE)
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(plans.c.id, plans.c.code, plans.c.features).where(plans.c.code.in_(list(TIER_STORAGE)))
    ).all()
    for plan_id, code, features in rows:
        features = dict(features or {})
        if "storage_bytes" in features:
            continue  # an administrator set it already
        features["storage_bytes"] = TIER_STORAGE[code]
        connection.execute(sa.update(plans).where(plans.c.id == plan_id).values(features=features))


def downgrade() -> None:
    with op.batch_alter_table("media_assets") as batch:
        batch.drop_index("ix_media_assets_workspace_id_created_at")
        batch.drop_constraint(op.f("ck_media_assets_media_kind"), type_="check")
        batch.drop_constraint(op.f("ck_media_assets_media_status"), type_="check")
        for column in (
            "deleted_at",
            "confirmed_at",
            "upload_id",
            "poster_key",
            "thumbnail_key",
            "audio_codec",
            "video_codec",
            "frame_rate",
            "duration_seconds",
            "alt_text",
            "status",
            "kind",
        ):
            batch.drop_column(column)

"""email verification links; sign-in identities keyed by issuer and subject

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 09:00:00

Until now an identity was keyed by (provider name, subject), so the generic provider's rows said
"oidc" whatever OIDC_ISSUER pointed at. Existing rows get the issuer that is known for them:

* google → https://accounts.google.com (Google's issuer is fixed);
* github → GITHUB_WEB_BASE as configured now (https://github.com unless GitHub Enterprise);
* clerk → "clerk" (the identity webhook's directory; its user ids are unique across instances);
* oidc → OIDC_ISSUER as configured now, i.e. the provider those identities were made with —
  run this migration before pointing OIDC_ISSUER elsewhere;
* anything else, and oidc without OIDC_ISSUER → "urn:postforge:unknown-issuer:<provider>", an
  issuer no provider has: such an identity never signs anyone in again, and its owner's next
  sign-in links a fresh identity through the verified email address instead.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GOOGLE_ISSUER = "https://accounts.google.com"
CLERK_ISSUER = "clerk"
UNKNOWN_ISSUER = "urn:postforge:unknown-issuer:"


def _known_issuers() -> dict[str, str]:
    # The settings as this deployment has them now; read here only, never stored elsewhere.
    from postforge.settings import get_settings

    settings = get_settings()
    issuers = {
        "google": GOOGLE_ISSUER,
        "github": settings.github_web_base.rstrip("/"),
        "clerk": CLERK_ISSUER,
    }
    if settings.oidc_issuer.strip():
        issuers["oidc"] = settings.oidc_issuer.strip().rstrip("/")
    return issuers


def upgrade() -> None:
    op.create_table(
        "email_verification_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_email_verification_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_verification_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_email_verification_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_email_verification_tokens_user_id"), "email_verification_tokens", ["user_id"], unique=False
    )

    with op.batch_alter_table("auth_identities") as batch:
        batch.add_column(sa.Column("issuer", sa.String(length=255), nullable=True))

    identities = sa.table("auth_identities", sa.column("provider", sa.String), sa.column("issuer", sa.String))
    for provider, issuer in _known_issuers().items():
        op.execute(identities.update().where(identities.c.provider == provider).values(issuer=issuer))
    op.execute(
        identities.update()
        .where(identities.c.issuer.is_(None))
        .values(issuer=sa.literal(UNKNOWN_ISSUER) + identities.c.provider)
    )

    with op.batch_alter_table("auth_identities") as batch:
        batch.alter_column("issuer", existing_type=sa.String(length=255), nullable=False)
        batch.drop_constraint("uq_auth_identities_provider_subject", type_="unique")
        batch.create_unique_constraint("uq_auth_identities_issuer_subject", ["issuer", "subject"])


def downgrade() -> None:
    # Back to one identity per (provider, subject): where several issuers' identities share a
    # provider name and subject, only the oldest survives.
    identities = sa.table(
        "auth_identities",
        sa.column("id", sa.Integer),
        sa.column("provider", sa.String),
        sa.column("subject", sa.String),
    )
    older = identities.alias("older")
    op.execute(
        identities.delete().where(
            sa.exists()
            .where(older.c.provider == identities.c.provider)
            .where(older.c.subject == identities.c.subject)
            .where(older.c.id < identities.c.id)
        )
    )
    with op.batch_alter_table("auth_identities") as batch:
        batch.drop_constraint("uq_auth_identities_issuer_subject", type_="unique")
        batch.create_unique_constraint("uq_auth_identities_provider_subject", ["provider", "subject"])
        batch.drop_column("issuer")

    op.drop_index(op.f("ix_email_verification_tokens_user_id"), table_name="email_verification_tokens")
    op.drop_table("email_verification_tokens")

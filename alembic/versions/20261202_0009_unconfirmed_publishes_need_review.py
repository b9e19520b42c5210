"""unconfirmed publishes need review

A destination whose publish once ended `unknown` (the request may have reached the platform)
and that the engine later marked `failed` may be live: from now on the engine sends such a
destination to `needs_review` instead, and this moves the ones failed before that rule to
`needs_review` too, so a retry never posts them twice. Data only; the post statuses stay as they
are (failed and needs_review destinations derive the same post status).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = (
    "An earlier try may already have published this post: the platform never confirmed it. "
    "Check the account's profile, then mark it as published or post it again."
)


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE post_destinations SET status = 'needs_review', "
            "last_error = :message || ' Since then: ' || COALESCE(last_error, ''), next_attempt_at = NULL "
            "WHERE status = 'failed' AND EXISTS (SELECT 1 FROM publish_attempts a "
            "WHERE a.destination_id = post_destinations.id AND a.outcome = 'unknown')"
        ).bindparams(message=MESSAGE)
    )


def downgrade() -> None:
    # Nothing to undo: needs_review is a state the schema always had.
    pass

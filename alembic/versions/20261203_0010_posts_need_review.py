"""posts need review

A post that may be live must never read "failed": a post whose destinations are settled and one
of them needs review (an unconfirmed try may have published it) now has a status of its own,
`needs_review`. This widens the CHECK constraint on `posts.status` and moves the posts that
already are in that state (failed or partially published, with a destination needing review and
none still waiting or being published) to `needs_review`. Cancelled posts stay cancelled.

Downgrade gives those posts the status the old rule derived: partially published when one of
their destinations was published, else failed.

SQLite cannot alter a CHECK constraint: batch mode rebuilds `posts`. With foreign keys on, dropping
the old table would cascade-delete every destination, media link and notice of every post; env.py
switches them off around the whole migration run and checks every reference afterwards.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ("draft", "scheduled", "publishing", "published", "partially_published", "failed", "cancelled")
AFTER = (
    "draft",
    "scheduled",
    "publishing",
    "published",
    "partially_published",
    "needs_review",
    "failed",
    "cancelled",
)
CONSTRAINT = "ck_posts_post_status"


def _allowed(statuses: Sequence[str]) -> str:
    return "status IN (" + ", ".join(f"'{status}'" for status in statuses) + ")"


def _replace_check(statuses: Sequence[str]) -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f(CONSTRAINT), "posts", type_="check")
        op.create_check_constraint(op.f(CONSTRAINT), "posts", _allowed(statuses))
        return
    # env.py switches SQLite's foreign keys off around every migration run, so dropping the old
    # `posts` cascades to nothing; it checks every reference afterwards.
    with op.batch_alter_table("posts", recreate="always") as batch:
        batch.drop_constraint(op.f(CONSTRAINT), type_="check")
        batch.create_check_constraint(op.f(CONSTRAINT), _allowed(statuses))


def upgrade() -> None:
    _replace_check(AFTER)
    op.execute(
        "UPDATE posts SET status = 'needs_review', version = version + 1 "
        "WHERE status IN ('failed', 'partially_published') "
        "AND EXISTS (SELECT 1 FROM post_destinations d "
        "WHERE d.post_id = posts.id AND d.status = 'needs_review') "
        "AND NOT EXISTS (SELECT 1 FROM post_destinations d "
        "WHERE d.post_id = posts.id AND d.status IN ('pending', 'queued', 'publishing'))"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE posts SET version = version + 1, status = CASE WHEN EXISTS (SELECT 1 FROM post_destinations d "
        "WHERE d.post_id = posts.id AND d.status = 'published') THEN 'partially_published' ELSE 'failed' END "
        "WHERE status = 'needs_review'"
    )
    _replace_check(BEFORE)

"""What a destination's publish attempts say: whether an earlier try may have published it unseen.

A try whose outcome was `Unknown` (a timeout after sending, a dropped connection, an adapter
that raised, a worker that died mid-call) may have put the post on the platform. Until a person
has checked the platform and answered (`publishing.resolve_review`), such a destination is never
marked failed and never sent again by a retry or an edit: whatever happens after the Unknown —
transient errors up to the try limit, a rejection (a "duplicate" refusal is evidence it landed),
an expired sign-in, a disconnected account — it ends in `needs_review`, where the person is asked
to check. The answer is remembered in the destination's `platform_state` as the last attempt
number it covers, so failures after "post it again" (or a retry after "it was not published") are
ordinary failures again.

Reads `PublishAttempt` rows only; imported by the publishing engine, the posts service and
account disconnection alike (it imports none of them).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session, col, select

from postforge.models import AttemptOutcome, PostDestination, PublishAttempt

REVIEWED_THROUGH = "reviewed_through_attempt"  # platform_state key: tries up to this one were checked
MAY_BE_LIVE = (
    "An earlier try may already have published this post: the platform never confirmed it. "
    "Check the account's profile, then say whether it was published, should be posted again, "
    "or was not published."
)


def review_message(since: str) -> str:
    """The needs_review message for a destination that may be live, with what happened since."""
    return f"{MAY_BE_LIVE} Since then: {since}" if since else MAY_BE_LIVE


def _reviewed_through(destination: PostDestination) -> int:
    value = (destination.platform_state or {}).get(REVIEWED_THROUGH, 0)
    return value if isinstance(value, int) else 0


def unconfirmed(session: Session, destinations: Sequence[PostDestination]) -> set[int]:
    """The ids of `destinations` with an Unknown try that no person has checked since."""
    by_id = {d.id: d for d in destinations if d.id is not None}
    if not by_id:
        return set()
    rows = session.exec(
        select(PublishAttempt.destination_id, sa.func.max(PublishAttempt.attempt_number))
        .where(
            col(PublishAttempt.destination_id).in_(sorted(by_id)),
            PublishAttempt.outcome == AttemptOutcome.UNKNOWN,
        )
        .group_by(col(PublishAttempt.destination_id))
    ).all()
    return {ident for ident, last in rows if last > _reviewed_through(by_id[ident])}


def may_be_live(session: Session, destination: PostDestination) -> bool:
    return bool(unconfirmed(session, [destination]))


def mark_reviewed(session: Session, destination: PostDestination) -> dict:
    """`destination.platform_state` saying a person has checked every try made so far."""
    last = session.exec(
        select(sa.func.max(PublishAttempt.attempt_number)).where(
            PublishAttempt.destination_id == destination.id
        )
    ).one()
    return {**(destination.platform_state or {}), REVIEWED_THROUGH: int(last or 0)}

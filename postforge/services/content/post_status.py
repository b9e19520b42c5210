"""The post status machine: which moves are legal, and a post's status from its destinations.

```
draft ──schedule──▶ scheduled ──dispatch──▶ publishing ──▶ published
  ▲  ◀──unschedule──┘   │  ▲                   │      ├──▶ partially_published ──retry──▶ publishing
  │                     │  └─waiting for retry─┘      ├──▶ failed ──retry/reschedule──▶ scheduled
  │                  cancel                           │      │ └─edit──▶ draft
  └──edit── cancelled ◀──────────────────────────────────────cancel
                                                      └──▶ needs_review ──answered / retry──▶ publishing, scheduled,
                                                                       published, partially_published, failed
```

A post's own status, once it is out of the author's hands, is derived from its destinations
(`derive_post_status`): the publishing engine sets each destination's outcome and then asks
here what the post as a whole now is.

**A post that may be live never reads "failed".** A destination in `needs_review` (a try the
platform never confirmed: the post may be on the account) makes the whole post `needs_review`
once nothing else is on its way — not failed, and not "partially published" while an answer is
owed. Such a post cannot be edited, moved or cancelled: each would pretend the post is not out
there (and an edit or a new time would send it again). The person answers the review for each
account in the post's publishing details — "It was published", "Post it again", "It was not
published" (`publishing.resolve_review`) — and the post settles to what the answers say. Its
failed accounts, which are certainly not live, may still be retried meanwhile. Deleting it is
allowed and keeps the row, status and all, like any post that went out.
"""

from __future__ import annotations

from collections.abc import Iterable

from postforge.models import DestinationStatus, PostStatus
from postforge.services.kernel.errors import Conflict

S = PostStatus
ALLOWED_MOVES: dict[PostStatus, frozenset[PostStatus]] = {
    S.DRAFT: frozenset({S.SCHEDULED}),
    S.SCHEDULED: frozenset({S.DRAFT, S.PUBLISHING, S.CANCELLED}),
    # The engine's outcomes; back to scheduled when every destination waits for a later retry.
    S.PUBLISHING: frozenset({S.PUBLISHED, S.PARTIALLY_PUBLISHED, S.NEEDS_REVIEW, S.FAILED, S.SCHEDULED}),
    S.PUBLISHED: frozenset(),
    S.PARTIALLY_PUBLISHED: frozenset({S.PUBLISHING}),  # retry the failed destinations
    # "Post it again" or a retry of the failed accounts → publishing (scheduled when nothing else
    # has an outcome: it waits for the worker); the other answers settle it. Never cancelled,
    # edited or moved to another time while it may be live (see the module's docstring).
    S.NEEDS_REVIEW: frozenset({S.SCHEDULED, S.PUBLISHING, S.PUBLISHED, S.PARTIALLY_PUBLISHED, S.FAILED}),
    S.FAILED: frozenset({S.SCHEDULED, S.PUBLISHING, S.DRAFT, S.CANCELLED}),
    S.CANCELLED: frozenset({S.DRAFT, S.SCHEDULED}),
}
# Statuses whose content, accounts and time the author may still change.
EDITABLE = frozenset({S.DRAFT, S.SCHEDULED, S.FAILED, S.CANCELLED})
# Statuses that can be moved to another time (a draft gets its first time this way).
RESCHEDULABLE = frozenset({S.DRAFT, S.SCHEDULED, S.FAILED, S.CANCELLED})

LABELS = {
    S.DRAFT: "a draft",
    S.SCHEDULED: "scheduled",
    S.PUBLISHING: "being published right now",
    S.PUBLISHED: "already published",
    S.PARTIALLY_PUBLISHED: "already published on some accounts",
    S.NEEDS_REVIEW: "waiting for you to check whether it went out",
    S.FAILED: "failed",
    S.CANCELLED: "cancelled",
}
REVIEW_FIRST = (
    "Answer the review first: check the platform, then say in the post's publishing details whether "
    "it was published, should be posted again, or was not published."
)
# What to do instead, by (status, "edit") for edits and moves to another time, and by
# (status, target) for a refused move.
REASONS: dict[tuple[PostStatus, str], str] = {
    (S.PUBLISHING, "edit"): "Wait until publishing has finished.",
    (S.PUBLISHED, "edit"): "Duplicate it to post it again.",
    (S.PARTIALLY_PUBLISHED, "edit"): "Retry the failed accounts, or duplicate it to post it again.",
    (S.NEEDS_REVIEW, "edit"): REVIEW_FIRST,
    (S.NEEDS_REVIEW, S.CANCELLED): REVIEW_FIRST,
}


def status_of(value: PostStatus | str) -> PostStatus:
    return PostStatus(str(value))


def can_move(current: PostStatus | str, target: PostStatus | str) -> bool:
    return status_of(target) in ALLOWED_MOVES[status_of(current)]


def require_move(current: PostStatus | str, target: PostStatus | str) -> PostStatus:
    """`target` if a post may move there from `current`, else Conflict with a reason to show."""
    now, then = status_of(current), status_of(target)
    if then not in ALLOWED_MOVES[now]:
        reason = REASONS.get((now, then), "")
        raise Conflict(f"This post is {LABELS[now]}, so it can't become {LABELS[then]}. {reason}".strip())
    return then


def require_editable(current: PostStatus | str, action: str = "edit") -> PostStatus:
    now = status_of(current)
    allowed = EDITABLE if action == "edit" else RESCHEDULABLE
    if now not in allowed:
        reason = REASONS.get((now, "edit"), "")
        verb = "edited" if action == "edit" else "moved to another time"
        raise Conflict(f"This post is {LABELS[now]}, so it can't be {verb}. {reason}".strip())
    return now


def derive_post_status(destination_statuses: Iterable[DestinationStatus | str]) -> PostStatus | None:
    """A post's status from its destinations' statuses; None when it has no destinations.

    * all cancelled → cancelled (cancelled ones are otherwise ignored);
    * any queued or publishing → publishing;
    * any pending: publishing if some already have an outcome (a retry is on its way), else scheduled;
    * all published → published;
    * any needing review → needs_review (it may be live: never failed, nor partially published
      while a person's answer is owed);
    * some published, the rest failed → partially_published;
    * none published, all failed → failed.
    """
    statuses = [DestinationStatus(str(status)) for status in destination_statuses]
    if not statuses:
        return None
    D = DestinationStatus
    live = [status for status in statuses if status != D.CANCELLED]
    if not live:
        return S.CANCELLED
    if any(status in (D.QUEUED, D.PUBLISHING) for status in live):
        return S.PUBLISHING
    if any(status == D.PENDING for status in live):
        return S.PUBLISHING if any(status != D.PENDING for status in live) else S.SCHEDULED
    published = sum(status == D.PUBLISHED for status in live)
    if published == len(live):
        return S.PUBLISHED
    if any(status == D.NEEDS_REVIEW for status in live):
        return S.NEEDS_REVIEW
    if published:
        return S.PARTIALLY_PUBLISHED
    return S.FAILED

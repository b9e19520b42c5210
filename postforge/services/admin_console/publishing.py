"""Publishing across every workspace, for system admins: what failed, what needs a person's review,
what is overdue and which accounts need reconnecting — and the same answers a member can give.

Retrying and answering a review go through the engine's own rules (`posts.retry_failed_for_operator`,
`publishing.resolve_review_for_operator`): a destination that may already be live is never resent
blindly, whoever asks. Each action is audited against the post, in the workspace it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from postforge.models import (
    AccountStatus,
    DestinationStatus,
    Post,
    PostDestination,
    SocialAccount,
    Workspace,
    utcnow,
)
from postforge.services.admin_console import audit
from postforge.services.admin_console.guard import authorize_admin
from postforge.services.admin_console.users import MAX_PAGE_SIZE, PAGE_SIZE
from postforge.services.channels import publishing
from postforge.services.content import posts
from postforge.services.kernel.errors import NotFound, ValidationFailed
from postforge.services.operations.publishing_health import OVERDUE_GRACE_SECONDS

D = DestinationStatus
# The lists an admin can open, and the destination statuses each shows.
LISTS: dict[str, tuple[DestinationStatus, ...]] = {
    "failed": (D.FAILED,),
    "needs_review": (D.NEEDS_REVIEW,),
    "overdue": (D.PENDING,),
}


@dataclass(frozen=True)
class DestinationRow:
    id: int
    post_id: int
    workspace_id: int
    workspace_name: str
    account: str
    status: str
    attempts: int
    message: str  # the platform's words (or the engine's) about the last try
    content: str  # the start of the post
    due_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class DestinationPage:
    rows: list[DestinationRow]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class AccountRow:
    id: int
    workspace_id: int
    workspace_name: str
    account: str
    last_error: str
    updated_at: datetime


def destinations(
    session: Session, *, actor_id: int, which: str, limit: int = PAGE_SIZE, offset: int = 0
) -> DestinationPage:
    """One list across all workspaces, most recently changed first (overdue: longest waiting first)."""
    authorize_admin(session, actor_id)
    if which not in LISTS:
        raise ValidationFailed("Choose failed, needs review or overdue.", field="which")
    limit, offset = max(1, min(int(limit), MAX_PAGE_SIZE)), max(0, int(offset))
    where = [col(PostDestination.status).in_(LISTS[which]), col(Post.deleted_at).is_(None)]
    order = [col(PostDestination.updated_at).desc(), col(PostDestination.id).desc()]
    if which == "overdue":
        due_before = utcnow() - timedelta(seconds=OVERDUE_GRACE_SECONDS)
        where += [
            col(PostDestination.next_attempt_at) < due_before,
            col(Post.status).in_(publishing.DISPATCHABLE_POSTS),
        ]
        order = [col(PostDestination.next_attempt_at), col(PostDestination.id)]
    joined = (
        select(PostDestination, Post, SocialAccount, Workspace)
        .join(Post, col(Post.id) == PostDestination.post_id)
        .join(SocialAccount, col(SocialAccount.id) == PostDestination.social_account_id)
        .join(Workspace, col(Workspace.id) == Post.workspace_id)
        .where(*where)
    )
    total = session.execute(
        sa.select(func.count())
        .select_from(PostDestination)
        .join(Post, col(Post.id) == PostDestination.post_id)
        .where(*where)
    ).scalar_one()
    rows = session.exec(joined.order_by(*order).limit(limit).offset(offset)).all()
    return DestinationPage(
        [
            DestinationRow(
                id=d.id or 0,
                post_id=p.id or 0,
                workspace_id=w.id or 0,
                workspace_name=w.name,
                account=posts.account_name(a),
                status=str(d.status),
                attempts=d.attempts,
                message=d.last_error,
                content=p.content[:140],
                due_at=d.next_attempt_at,
                updated_at=d.updated_at,
            )
            for d, p, a, w in rows
        ],
        int(total),
        limit,
        offset,
    )


def accounts_needing_reconnect(session: Session, *, actor_id: int, limit: int = 50) -> list[AccountRow]:
    authorize_admin(session, actor_id)
    rows = session.exec(
        select(SocialAccount, Workspace)
        .join(Workspace, col(Workspace.id) == SocialAccount.workspace_id)
        .where(SocialAccount.status == AccountStatus.NEEDS_RECONNECT)
        .order_by(col(SocialAccount.updated_at).desc(), col(SocialAccount.id).desc())
        .limit(max(1, min(int(limit), MAX_PAGE_SIZE)))
    ).all()
    return [
        AccountRow(a.id or 0, w.id or 0, w.name, posts.account_name(a), a.last_error, a.updated_at)
        for a, w in rows
    ]


def _destination(session: Session, destination_id: int) -> tuple[PostDestination, Post]:
    destination = (
        session.get(PostDestination, destination_id)
        if isinstance(destination_id, int) and destination_id > 0
        else None
    )
    post = session.get(Post, destination.post_id) if destination is not None else None
    if destination is None or post is None or post.deleted_at is not None:
        raise NotFound("That post no longer exists (it may have been deleted).")
    return destination, post


def retry(session: Session, *, actor_id: int, destination_id: int, ip: str = "") -> None:
    """Send the post's failed destinations again now (the engine's retry rules all hold)."""
    actor = authorize_admin(session, actor_id)
    destination, post = _destination(session, destination_id)
    before = str(destination.status)
    posts.retry_failed_for_operator(session, post_id=post.id or 0)
    session.refresh(destination)
    _audit(session, actor, "post.retry", post, destination, before, ip)


def resolve_review(
    session: Session, *, actor_id: int, destination_id: int, published: bool, ip: str = ""
) -> None:
    """A person checked the platform: "it was published" or "post it again"."""
    actor = authorize_admin(session, actor_id)
    destination, post = _destination(session, destination_id)
    before = str(destination.status)
    publishing.resolve_review_for_operator(
        session,
        operator_id=actor.id or 0,
        destination_id=destination.id or 0,
        answer=publishing.ReviewAnswer.PUBLISHED if published else publishing.ReviewAnswer.POST_AGAIN,
    )
    session.refresh(destination)
    action = "post.mark_published" if published else "post.post_again"
    _audit(session, actor, action, post, destination, before, ip)


def _audit(session, actor, action, post: Post, destination: PostDestination, before: str, ip: str) -> None:
    account = session.get(SocialAccount, destination.social_account_id)
    audit.record(
        session,
        actor=actor,
        action=action,
        target_type="post",
        target_id=post.id or 0,
        target_label=posts.account_name(account) if account else "",
        workspace_id=post.workspace_id,
        before={"status": before},
        after={"status": str(destination.status)},
        ip=ip,
    )

"""Figures for the dashboard, read in a handful of queries whatever the data size."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from postforge.models import (
    AccountStatus,
    DestinationStatus,
    Post,
    PostDestination,
    PostStatus,
    SocialAccount,
    Workspace,
    utcnow,
)


@dataclass(frozen=True)
class UpcomingPost:
    id: int
    content: str
    scheduled_at: datetime
    status: str


@dataclass(frozen=True)
class DashboardFigures:
    credits: int
    posts_by_status: dict[str, int]
    scheduled_next_7_days: int
    connected_accounts: int
    accounts_needing_reconnect: int
    failed_destinations: int
    # Accounts whose post may be live but was never confirmed: a person has to check them.
    review_destinations: int
    upcoming: list[UpcomingPost] = field(default_factory=list)

    @property
    def total_posts(self) -> int:
        return sum(self.posts_by_status.values())


def dashboard_figures(
    session: Session, workspace_id: int, *, now: datetime | None = None
) -> DashboardFigures:
    now = now or utcnow()
    live_posts = (Post.workspace_id == workspace_id, Post.deleted_at.is_(None))  # type: ignore[union-attr]

    credits = session.exec(select(Workspace.credits).where(Workspace.id == workspace_id)).one_or_none() or 0
    by_status = dict(
        session.exec(select(Post.status, func.count()).where(*live_posts).group_by(Post.status)).all()
    )
    upcoming_rows = session.exec(
        select(Post)
        .where(*live_posts, Post.status == PostStatus.SCHEDULED, Post.scheduled_at >= now)
        .order_by(Post.scheduled_at)
        .limit(5)
    ).all()
    scheduled_soon = session.exec(
        select(func.count())
        .select_from(Post)
        .where(
            *live_posts,
            Post.status == PostStatus.SCHEDULED,
            Post.scheduled_at >= now,
            Post.scheduled_at < now + timedelta(days=7),
        )
    ).one()
    account_counts = dict(
        session.exec(
            select(SocialAccount.status, func.count())
            .where(SocialAccount.workspace_id == workspace_id)
            .group_by(SocialAccount.status)
        ).all()
    )
    problems = dict(
        session.exec(
            select(PostDestination.status, func.count())
            .join(Post, Post.id == PostDestination.post_id)
            .where(
                *live_posts,
                PostDestination.status.in_([DestinationStatus.FAILED, DestinationStatus.NEEDS_REVIEW]),  # type: ignore[attr-defined]
            )
            .group_by(PostDestination.status)
        ).all()
    )
    return DashboardFigures(
        credits=credits,
        posts_by_status={str(status): count for status, count in by_status.items()},
        scheduled_next_7_days=scheduled_soon,
        connected_accounts=account_counts.get(AccountStatus.CONNECTED, 0),
        accounts_needing_reconnect=account_counts.get(AccountStatus.NEEDS_RECONNECT, 0),
        failed_destinations=problems.get(DestinationStatus.FAILED, 0),
        review_destinations=problems.get(DestinationStatus.NEEDS_REVIEW, 0),
        upcoming=[
            UpcomingPost(id=p.id or 0, content=p.content, scheduled_at=p.scheduled_at, status=str(p.status))
            for p in upcoming_rows
            if p.scheduled_at is not None
        ],
    )

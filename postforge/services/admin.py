"""System-wide figures for the admin pages."""

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from postforge.models import DestinationStatus, Post, PostDestination, User, Workspace


@dataclass(frozen=True)
class SystemCounts:
    users: int
    workspaces: int
    posts: int
    failed_destinations: int


def system_counts(session: Session) -> SystemCounts:
    def count(statement) -> int:
        return session.exec(statement).one()

    return SystemCounts(
        users=count(select(func.count()).select_from(User)),
        workspaces=count(select(func.count()).select_from(Workspace)),
        posts=count(select(func.count()).select_from(Post).where(Post.deleted_at.is_(None))),  # type: ignore[union-attr]
        failed_destinations=count(
            select(func.count())
            .select_from(PostDestination)
            .where(PostDestination.status == DestinationStatus.FAILED)
        ),
    )

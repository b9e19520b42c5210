"""Reading and writing posts."""

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from postforge.models import Post


@dataclass(frozen=True)
class PostRow:
    id: int
    content: str
    status: str
    scheduled_at: datetime | None
    updated_at: datetime


def list_posts(session: Session, workspace_id: int, *, limit: int = 50, offset: int = 0) -> list[PostRow]:
    """A workspace's live posts, most recently changed first."""
    rows = session.exec(
        select(Post)
        .where(Post.workspace_id == workspace_id, Post.deleted_at.is_(None))  # type: ignore[union-attr]
        .order_by(Post.updated_at.desc(), Post.id.desc())  # type: ignore[attr-defined, union-attr]
        .limit(max(1, min(limit, 200)))
        .offset(max(0, offset))
    ).all()
    return [
        PostRow(
            id=p.id or 0,
            content=p.content,
            status=str(p.status),
            scheduled_at=p.scheduled_at,
            updated_at=p.updated_at,
        )
        for p in rows
    ]

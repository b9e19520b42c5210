"""The sandbox platform's public feed, as a workspace sees it: what its sandbox accounts posted.

The sandbox adapter writes a `SandboxPost` for every publish; this reads them back newest first,
one page at a time, joined to the account that posted (display name, handle, avatar initial).
Only the workspace's own sandbox accounts are shown: another workspace's feed stays private.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from postforge.models import Platform, SandboxPost, SocialAccount
from postforge.services.tenancy import workspaces

PAGE_SIZE_MAX = 100


@dataclass(frozen=True)
class FeedPost:
    id: int
    account_id: int
    display_name: str
    handle: str
    initial: str  # what the avatar circle shows
    text: str
    created_at: datetime


@dataclass(frozen=True)
class FeedPage:
    rows: tuple[FeedPost, ...]
    total: int
    limit: int
    offset: int


def feed_page(
    session: Session, *, user_id: int, workspace_id: int, limit: int = 20, offset: int = 0
) -> FeedPage:
    """One page of the workspace's sandbox feed, newest first, and how many posts it holds."""
    workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="read")
    limit = max(1, min(int(limit), PAGE_SIZE_MAX))
    offset = max(0, int(offset))
    mine = (col(SocialAccount.workspace_id) == workspace_id) & (
        col(SocialAccount.platform) == Platform.SANDBOX
    )
    total = session.exec(
        select(sa.func.count())
        .select_from(SandboxPost)
        .join(SocialAccount, col(SocialAccount.id) == SandboxPost.social_account_id)
        .where(mine)
    ).one()
    rows = session.exec(
        select(SandboxPost, SocialAccount)
        .join(SocialAccount, col(SocialAccount.id) == SandboxPost.social_account_id)
        .where(mine)
        # Ids grow with every insert: newest first without trusting clocks to be distinct.
        .order_by(col(SandboxPost.id).desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return FeedPage(
        rows=tuple(_feed_post(post, account) for post, account in rows),
        total=int(total),
        limit=limit,
        offset=offset,
    )


def _feed_post(post: SandboxPost, account: SocialAccount) -> FeedPost:
    name = account.display_name or account.handle or "Sandbox account"
    return FeedPost(
        id=post.id or 0,
        account_id=account.id or 0,
        display_name=name,
        handle=account.handle,
        initial=(name.lstrip("@")[:1] or "?").upper(),
        text=post.text,
        created_at=post.created_at,
    )

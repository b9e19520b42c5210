"""What the app tells a workspace's people about publishing: in-app notices, and mail for trouble.

The publishing engine calls `notify_destination` in the same transaction that writes a
destination's outcome, so a notice exists exactly when the outcome does. Every notice names
the account and the post and links straight to it (`/posts?post=<id>`): "something failed"
without saying which of fifteen accounts is a notice nobody can act on. Failures, posts that
need a person's review and accounts that must be reconnected are also mailed to the post's
author (through the outbox, so embedded mode shows them on the dev outbox page).

Notices are for the whole workspace (`user_id` NULL) unless addressed to one member; each row
carries its own read mark.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from postforge.models import (
    Notification,
    NotificationKind,
    Post,
    PostDestination,
    SocialAccount,
    User,
    utcnow,
)
from postforge.platforms import rules
from postforge.services.content.posts import account_name
from postforge.services.infra.mail import MAX_SUBJECT_LENGTH, send_mail
from postforge.services.tenancy import workspaces
from postforge.settings import get_settings

K = NotificationKind
MAILED_KINDS = frozenset({K.FAILED, K.NEEDS_REVIEW, K.ACCOUNT_NEEDS_RECONNECT})
MAX_LIST = 100
PREVIEW_CHARS = 60
TITLE_MAX = 255  # the column


@dataclass(frozen=True)
class NotificationItem:
    id: int
    kind: str
    title: str
    body: str
    link: str
    post_id: int | None
    created_at: datetime
    read: bool


def post_link(post_id: int) -> str:
    return f"/posts?post={post_id}"


def notify_destination(
    session: Session, destination: PostDestination, kind: NotificationKind
) -> Notification:
    """Record a notice about one destination's outcome (the caller commits); mail the author
    when a person must act. The destination's `last_error` is the platform's message."""
    kind = NotificationKind(str(kind))
    post = session.get(Post, destination.post_id)
    account = session.get(SocialAccount, destination.social_account_id)
    if post is None or account is None:
        raise ValueError(f"destination {destination.id} has no post or account")
    title, body = _wording(kind, post, account, destination)
    notification = Notification(
        workspace_id=post.workspace_id,
        user_id=None,
        kind=kind,
        title=title[:TITLE_MAX],
        body=body,
        link=post_link(post.id or 0),
        post_id=post.id,
        destination_id=destination.id,
        social_account_id=account.id,
    )
    session.add(notification)
    session.flush()
    if kind in MAILED_KINDS:
        _mail_author(session, post, title, body)
    return notification


def list_notifications(
    session: Session, *, user_id: int, workspace_id: int, limit: int = 20, after_id: int = 0
) -> list[NotificationItem]:
    """The member's notices in the workspace, newest first; only those newer than `after_id`."""
    workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="read")
    limit = max(1, min(int(limit), MAX_LIST))
    rows = session.exec(
        select(Notification)
        .where(*_visible(user_id, workspace_id), col(Notification.id) > int(after_id or 0))
        .order_by(col(Notification.id).desc())
        .limit(limit)
    ).all()
    return [as_item(row) for row in rows]


def unread_count(session: Session, *, user_id: int, workspace_id: int) -> int:
    workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="read")
    return int(
        session.exec(
            select(sa.func.count())
            .select_from(Notification)
            .where(*_visible(user_id, workspace_id), col(Notification.read_at).is_(None))
        ).one()
    )


def mark_all_read(session: Session, *, user_id: int, workspace_id: int) -> int:
    """Mark every unread notice the member sees in the workspace as read; returns how many."""
    workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="read")
    result = session.execute(
        sa.update(Notification)
        .where(*_visible(user_id, workspace_id), col(Notification.read_at).is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def latest_id(session: Session, *, workspace_id: int) -> int:
    """The newest notice's id in the workspace (0 if none): the live poller's cheap "anything new?".
    The caller authorizes "read" first."""
    value = session.exec(
        select(sa.func.max(Notification.id)).where(Notification.workspace_id == workspace_id)
    ).one()
    return int(value or 0)


# --- Helpers ---------------------------------------------------------------------------------------


def _visible(user_id: int, workspace_id: int) -> tuple:
    return (
        Notification.workspace_id == workspace_id,
        sa.or_(col(Notification.user_id).is_(None), Notification.user_id == user_id),
    )


def as_item(row: Notification) -> NotificationItem:
    return NotificationItem(
        id=row.id or 0,
        kind=str(row.kind),
        title=row.title,
        body=row.body,
        link=row.link,
        post_id=row.post_id,
        created_at=row.created_at,
        read=row.read_at is not None,
    )


def _preview(post: Post, destination: PostDestination) -> str:
    text = (destination.content_override or "").strip() or (post.content or "").strip()
    text = " ".join(text.split())
    return text[:PREVIEW_CHARS] + ("…" if len(text) > PREVIEW_CHARS else "")


def _wording(
    kind: NotificationKind, post: Post, account: SocialAccount, destination: PostDestination
) -> tuple[str, str]:
    """Title and body: which post, which account, what the platform said, what to do."""
    name = account_name(account)
    label = rules.rules_for(account.platform).label
    preview = _preview(post, destination)
    said = (destination.last_error or "").strip()
    if kind == K.PUBLISHED:
        where = f" It is at {destination.platform_post_url}." if destination.platform_post_url else ""
        return f"Published to {name}", f"“{preview}” is live on {name}.{where}"
    if kind == K.FAILED:
        body = f"“{preview}” could not be published to {name}."
        body += f"\n\n{label} said: {said}" if said else ""
        body += "\n\nOpen the post to fix it and retry."
        return f"Couldn't publish to {name}", body
    if kind == K.NEEDS_REVIEW:
        body = f"“{preview}” may or may not have been published to {name}."
        body += f"\n\n{said}" if said else ""
        return f"Check {name}: was it published?", body
    body = f"{name} must be reconnected: {label} no longer accepts its sign-in, so “{preview}” was not published."
    body += f"\n\n{label} said: {said}" if said and said not in body else ""
    body += "\n\nReconnect the account on the Accounts page, then retry the post."
    return f"Reconnect {name}", body


def _mail_author(session: Session, post: Post, title: str, body: str) -> None:
    author = session.get(User, post.author_id) if post.author_id else None
    if author is None or not author.email or not getattr(author, "is_active", True):
        return  # nobody to mail; the in-app notice still stands
    app_url = get_settings().app_url.rstrip("/")
    subject = f"{title} — “{_subject_preview(post)}”"
    text = (
        f"{body}\n\nOpen the post: {app_url}{post_link(post.id or 0)}\n\n"
        "— PostForge (you get this because you wrote the post)"
    )
    send_mail(session, to=author.email, subject=subject[:MAX_SUBJECT_LENGTH], body=text)


def _subject_preview(post: Post) -> str:
    text = " ".join((post.content or "").split())
    return text[:40] + ("…" if len(text) > 40 else "")

"""What changed in a workspace since a browser tab last looked: the live-status poll.

Every open tab asks about once a second, so one look must stay cheap whatever the workspace
holds: the membership check, then ONE statement that answers everything else —

* the newest `post_destinations.updated_at` after the tab's last look (the filter on the
  indexed `updated_at` runs first, so only rows changed since then are joined to their posts to
  keep the workspace's), and the newest `posts.updated_at` after it (the (workspace_id,
  updated_at) index);
* the notifications newer than the last one the tab has seen (the (workspace_id, id) index),
  outer-joined to that one-row summary so an idle poll still returns exactly one row.

The first look of a tab (`since_update=None`) only takes the baseline: the current newest
change and notification, with nothing reported as new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from postforge.models import Notification, Post, PostDestination
from postforge.services.alerts import notifications
from postforge.services.alerts.notifications import NotificationItem
from postforge.services.tenancy import workspaces

NEW_NOTIFICATIONS_MAX = 20  # a tab that was asleep for long gets the newest few, not a flood


@dataclass(frozen=True)
class LiveChanges:
    # The newest change seen (the `since_update` of the next look); None while nothing exists.
    last_update: datetime | None
    # Notifications after the tab's last one, newest first (empty on the first look).
    notifications: tuple[NotificationItem, ...] = field(default_factory=tuple)
    # Whether a post or destination of the workspace changed since the last look.
    changed: bool = False
    # The newest notification id the tab has now seen (the `after_notification_id` of the next look).
    last_notification_id: int = 0


def changes_since(
    session: Session,
    *,
    user_id: int,
    workspace_id: int,
    since_update: datetime | None = None,
    after_notification_id: int = 0,
) -> LiveChanges:
    """What changed in the workspace after `since_update`, and the user's newer notifications.

    Two queries: the membership check and one statement for the rest.
    """
    workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="read")
    after = max(0, int(after_notification_id or 0))
    summary = _summary(workspace_id, since_update).subquery("summary")
    newer = _for_user(workspace_id, user_id) & (col(Notification.id) > after)
    rows = session.exec(
        select(summary.c.destination_max, summary.c.post_max, Notification)
        .select_from(summary)
        .outerjoin(Notification, newer)
        .order_by(col(Notification.id).desc())
        .limit(NEW_NOTIFICATIONS_MAX)
    ).all()
    destination_max, post_max = rows[0][0], rows[0][1]
    found = [row[2] for row in rows if row[2] is not None]
    newest = max((n.id or 0 for n in found), default=after)
    candidates = [t for t in (since_update, destination_max, post_max) if t is not None]
    last_update = max(candidates) if candidates else None
    if since_update is None:  # the baseline look: the present is not news
        return LiveChanges(last_update=last_update, last_notification_id=newest)
    return LiveChanges(
        last_update=last_update,
        notifications=tuple(notifications.as_item(n) for n in found),
        changed=last_update is not None and last_update > since_update,
        last_notification_id=newest,
    )


def _summary(workspace_id: int, since: datetime | None) -> sa.Select:
    """One row: the newest destination and post changes of the workspace after `since`."""
    destination_max = sa.select(sa.func.max(PostDestination.updated_at)).join(
        Post, col(Post.id) == PostDestination.post_id
    )
    post_max = sa.select(sa.func.max(Post.updated_at)).where(col(Post.workspace_id) == workspace_id)
    if since is not None:
        # Filter on the indexed column first: only rows changed since the last look are joined.
        destination_max = destination_max.where(col(PostDestination.updated_at) > since)
        post_max = post_max.where(col(Post.updated_at) > since)
    destination_max = destination_max.where(col(Post.workspace_id) == workspace_id)
    return sa.select(
        destination_max.scalar_subquery().label("destination_max"),
        post_max.scalar_subquery().label("post_max"),
    )


def _for_user(workspace_id: int, user_id: int) -> sa.ColumnElement[bool]:
    """The workspace's notifications for everyone in it or for this user."""
    return (col(Notification.workspace_id) == workspace_id) & (
        col(Notification.user_id).is_(None) | (col(Notification.user_id) == user_id)
    )

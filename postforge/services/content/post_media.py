"""Which library files a post shows, in which order.

The post editor saves a post's media with the post (`posts.create_post` / `update_post` take
`media_ids`), so the publishability check (a platform that needs an image) sees them in the same
transaction. Only the workspace's own files, checked and not deleted, can be attached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from postforge.models import MediaAsset, MediaStatus, Post, PostMedia
from postforge.services.kernel.errors import NotFound, ValidationFailed
from postforge.services.media.storage import get_storage
from postforge.services.tenancy import workspaces
from postforge.settings import get_settings

MAX_MEDIA = 20  # the most any platform takes (Threads' carousel); platform rules say less per platform
NOT_USABLE = "One of the chosen media files is not in this workspace's library (it may have been deleted)."


@dataclass(frozen=True)
class AttachedMedia:
    id: int
    filename: str
    kind: str
    alt_text: str
    thumbnail_url: str
    position: int


def checked_media_ids(session: Session, workspace_id: int, media_ids: Sequence[int]) -> list[int]:
    """The ids in order, once each, refused unless each is a ready file of the workspace's library.

    No user: the post services call it after authorizing `write_posts`.
    """
    ids = list(dict.fromkeys(int(media_id) for media_id in media_ids))
    if len(ids) > MAX_MEDIA:
        raise ValidationFailed(f"A post can show at most {MAX_MEDIA} media files.", field="media_ids")
    if not ids:
        return ids
    found = set(
        session.exec(
            select(MediaAsset.id).where(
                col(MediaAsset.id).in_(ids),
                MediaAsset.workspace_id == workspace_id,
                MediaAsset.status == MediaStatus.READY,
                col(MediaAsset.deleted_at).is_(None),
            )
        ).all()
    )
    if found != set(ids):
        raise ValidationFailed(NOT_USABLE, field="media_ids")
    return ids


def link_media(session: Session, post_id: int, media_ids: Sequence[int]) -> None:
    """Make the post show exactly `media_ids` (checked already), in that order."""
    session.execute(sa.delete(PostMedia).where(col(PostMedia.post_id) == post_id))
    for position, media_id in enumerate(media_ids):
        session.add(PostMedia(post_id=post_id, media_id=media_id, position=position))
    session.flush()


def attached_media(
    session: Session, *, actor_id: int, workspace_id: int, post_id: int
) -> list[AttachedMedia]:
    """The post's media files in order, with thumbnails, for the editor."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="read")
    post = session.get(Post, int(post_id))
    if post is None or post.workspace_id != workspace_id or post.deleted_at is not None:
        raise NotFound("This post does not exist (it may have been deleted).")
    settings = get_settings()
    storage = get_storage(settings)
    rows = session.exec(
        select(MediaAsset, PostMedia.position)
        .join(PostMedia, col(PostMedia.media_id) == MediaAsset.id)
        .where(PostMedia.post_id == post.id)
        .order_by(col(PostMedia.position), col(MediaAsset.id))
    ).all()
    return [
        AttachedMedia(
            id=media.id or 0,
            filename=media.filename,
            kind=str(media.kind),
            alt_text=media.alt_text,
            thumbnail_url=storage.url(media.thumbnail_key, expires_in=settings.media_url_ttl_seconds)
            if media.thumbnail_key
            else "",
            position=position,
        )
        for media, position in rows
    ]

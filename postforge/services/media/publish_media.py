"""A post's media as the platform adapters receive them.

Each `MediaItem` carries a short-lived public URL (for platforms that fetch media themselves) and
an `open` that streams the file from storage (for platforms that take an upload), in the order
the post shows them.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from postforge.models import MediaAsset, MediaStatus, PostMedia
from postforge.platforms.base import MediaItem
from postforge.services.media.storage import MediaStorage, get_storage
from postforge.settings import Settings, get_settings


def media_items(session: Session, post_id: int, *, settings: Settings | None = None) -> tuple[MediaItem, ...]:
    """The post's ready media files, by position (the publishing engine loaded the post already)."""
    settings = settings or get_settings()
    storage = get_storage(settings)
    rows = session.exec(
        select(MediaAsset)
        .join(PostMedia, col(PostMedia.media_id) == MediaAsset.id)
        .where(PostMedia.post_id == post_id, MediaAsset.status == MediaStatus.READY)
        .order_by(col(PostMedia.position), col(MediaAsset.id))
    ).all()
    return tuple(_item(storage, media, settings.media_url_ttl_seconds) for media in rows)


def _item(storage: MediaStorage, media: MediaAsset, ttl: int) -> MediaItem:
    key = media.storage_key
    return MediaItem(
        url=storage.url(key, expires_in=ttl),
        mime_type=media.mime_type,
        alt_text=media.alt_text,
        size_bytes=media.size_bytes,
        width=media.width,
        height=media.height,
        duration_seconds=media.duration_seconds,
        media_id=media.id or 0,
        open=lambda: storage.open(key),
    )

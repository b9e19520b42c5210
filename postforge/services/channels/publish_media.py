"""The files of a post as the publishing engine hands them to an adapter (`MediaItem`s).

A stand-in until media storage lands: a file is read from `DATA_DIR/media/<storage_key>`, streamed
(never loaded whole), in the post's order. Its public URL is empty: adapters that pull media by
URL (Meta's platforms) refuse such a post themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

from sqlmodel import Session, col, select

from postforge.models import MediaAsset, PostMedia
from postforge.platforms.base import MediaItem


def media_root(settings: Any) -> Path:
    return Path(settings.data_dir) / "media"


def media_items(session: Session, post_id: int, settings: Any) -> tuple[MediaItem, ...]:
    rows = session.exec(
        select(MediaAsset)
        .join(PostMedia, col(PostMedia.media_id) == MediaAsset.id)
        .where(PostMedia.post_id == post_id)
        .order_by(col(PostMedia.position), col(MediaAsset.id))
    ).all()
    root = media_root(settings)
    return tuple(_item(asset, root) for asset in rows)


def _item(asset: MediaAsset, root: Path) -> MediaItem:
    path = root / asset.storage_key

    def open_file() -> BinaryIO:
        return path.open("rb")

    return MediaItem(
        url="",
        mime_type=asset.mime_type,
        size_bytes=asset.size_bytes,
        width=asset.width,
        height=asset.height,
        media_id=asset.id or 0,
        open=open_file if path.resolve().is_relative_to(root.resolve()) else None,
    )

"""Work the worker does on media: previews, and keeping storage free of what nobody owns.

* `make_thumbnail` — a small JPEG for the library grid; for a video also a full-size poster frame
  (its first picture), which platforms that want a cover image can use.
* `sweep` — removes uploads never confirmed (file and row) after MEDIA_UNCONFIRMED_HOURS, purges
  files deleted from the library more than MEDIA_DELETED_GRACE_HOURS ago that no scheduled post
  uses, removes every file of a workspace that no longer exists, and queues thumbnails that are
  missing (a thumbnail task lost with a broker restart) for the worker to queue again.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from postforge.models import MediaAsset, MediaKind, MediaStatus, Post, PostMedia, Workspace, utcnow
from postforge.services.media import library, validation
from postforge.services.media.storage import MediaStorage, get_storage, workspace_prefix
from postforge.settings import Settings, get_settings

log = logging.getLogger(__name__)

THUMBNAIL_SIZE = (480, 480)
SWEEP_BATCH = 500


def thumbnail_key(storage_key: str) -> str:
    return storage_key.rsplit(".", 1)[0] + ".thumb.jpg"


def poster_key(storage_key: str) -> str:
    return storage_key.rsplit(".", 1)[0] + ".poster.jpg"


def make_thumbnail(engine: Engine, media_id: int, *, settings: Settings | None = None) -> str:
    """Write the file's thumbnail (and a video's poster frame); what happened, for the task log.

    Running it twice does the same work again and changes nothing (keys are derived from the
    file's key), so a redelivered task is harmless.
    """
    settings = settings or get_settings()
    storage = get_storage(settings)
    with Session(engine, expire_on_commit=False) as session:
        media = session.get(MediaAsset, media_id)
        if media is None or media.status != MediaStatus.READY or media.deleted_at is not None:
            return "skipped: not a ready media file"
        key, kind, mime_type = media.storage_key, media.kind, media.mime_type
    thumb, poster = thumbnail_key(key), poster_key(key) if kind == MediaKind.VIDEO else None
    try:
        with (
            storage.local_file(key) as path,
            tempfile.TemporaryDirectory(prefix="postforge-thumb-") as directory,
        ):
            out = Path(directory)
            if kind == MediaKind.VIDEO:
                _video_frames(path, out / "poster.jpg", out / "thumb.jpg")
                storage.put_file(poster, out / "poster.jpg", content_type=validation.JPEG)
            else:
                _image_thumbnail(path, mime_type, out / "thumb.jpg", settings.media_max_image_pixels)
            storage.put_file(thumb, out / "thumb.jpg", content_type=validation.JPEG)
    except Exception as error:
        log.exception("no thumbnail for media %s", media_id)
        _set(engine, media_id, status=MediaStatus.FAILED)
        return f"failed: {type(error).__name__}"
    _set(engine, media_id, thumbnail_key=thumb, poster_key=poster)
    return "thumbnail made"


def _set(engine: Engine, media_id: int, **values) -> None:
    with Session(engine) as session, session.begin():
        session.execute(sa.update(MediaAsset).where(col(MediaAsset.id) == media_id).values(**values))


def _image_thumbnail(path: Path, mime_type: str, target: Path, max_pixels: int) -> None:
    from PIL import Image, ImageOps

    if mime_type == validation.HEIC:
        validation._register_heif()
    with Image.open(path) as image:
        image.draft("RGB", THUMBNAIL_SIZE)  # JPEG decodes at a reduced scale: fast, little memory
        upright = ImageOps.exif_transpose(image)
        upright.thumbnail(THUMBNAIL_SIZE)
        upright.convert("RGB").save(target, format="JPEG", quality=82)


def _video_frames(path: Path, poster: Path, thumb: Path) -> None:
    import av

    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        image = frame.to_image()
    image.convert("RGB").save(poster, format="JPEG", quality=90)
    image.thumbnail(THUMBNAIL_SIZE)
    image.convert("RGB").save(thumb, format="JPEG", quality=82)


# --- clean-up -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    abandoned: int = 0  # uploads never confirmed
    purged: int = 0  # deleted files past their grace period
    workspaces: int = 0  # deleted workspaces whose files were removed
    thumbnails_to_make: tuple[int, ...] = ()  # ready files still without a thumbnail


def _keys(media: MediaAsset) -> list[str]:
    return [key for key in (media.storage_key, media.thumbnail_key, media.poster_key) if key]


def _remove(session: Session, storage: MediaStorage, rows: list[MediaAsset]) -> int:
    for media in rows:
        if media.upload_id:
            storage.abort_multipart(media.storage_key, upload_id=media.upload_id)
        storage.delete(*_keys(media))
        # Only now the row goes: a crash above leaves it for the next sweep, never a stray file.
        session.execute(sa.delete(MediaAsset).where(col(MediaAsset.id) == media.id))
        session.commit()
    return len(rows)


def sweep(engine: Engine, *, settings: Settings | None = None) -> SweepResult:
    settings = settings or get_settings()
    storage = get_storage(settings)
    now = utcnow()
    with Session(engine, expire_on_commit=False) as session:
        abandoned = session.exec(
            select(MediaAsset)
            .where(
                MediaAsset.status == MediaStatus.PENDING,
                MediaAsset.created_at < now - timedelta(hours=settings.media_unconfirmed_hours),
            )
            .limit(SWEEP_BATCH)
        ).all()
        removed_abandoned = _remove(session, storage, list(abandoned))
        live = (
            select(PostMedia.media_id)
            .join(Post, col(Post.id) == PostMedia.post_id)
            .where(col(Post.status).in_(library.LIVE_POST_STATES), col(Post.deleted_at).is_(None))
        )
        expired = session.exec(
            select(MediaAsset)
            .where(
                col(MediaAsset.deleted_at).is_not(None),
                col(MediaAsset.deleted_at) < now - timedelta(hours=settings.media_deleted_grace_hours),
                col(MediaAsset.id).not_in(live),
            )
            .limit(SWEEP_BATCH)
        ).all()
        purged = _remove(session, storage, list(expired))
        stored = storage.workspace_ids()
        existing = (
            set(session.exec(select(Workspace.id).where(col(Workspace.id).in_(stored))).all())
            if stored
            else set()
        )
        gone = sorted(stored - existing)
        for workspace_id in gone:
            storage.delete_prefix(workspace_prefix(workspace_id))
        missing = session.exec(
            select(MediaAsset.id)
            .where(
                MediaAsset.status == MediaStatus.READY,
                col(MediaAsset.thumbnail_key).is_(None),
                col(MediaAsset.deleted_at).is_(None),
                col(MediaAsset.confirmed_at) < now - timedelta(minutes=10),
            )
            .limit(SWEEP_BATCH)
        ).all()
    return SweepResult(removed_abandoned, purged, len(gone), tuple(int(media_id) for media_id in missing))

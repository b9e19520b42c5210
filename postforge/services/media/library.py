"""The workspace's media library: uploads, the checks that admit a file, and its listing.

An upload has three steps. `start_upload` checks the announced size against the caps and the
storage quota, writes a pending row and answers with where the browser sends the bytes (one
signed PUT, or signed part URLs for a large file). The browser sends them straight to the store.
`confirm_upload` then looks at what really arrived: the type from the file's own bytes, its
size, its contents (`validation`), the quota again. A file that fails any check is deleted with
its row — nothing of it stays — and the refusal says why. A file that passes becomes ready and
the worker makes its thumbnail. `abort_upload` drops an upload the browser gave up on.

Members write (upload, edit, delete) with the `write_posts` role; viewers read.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from postforge.models import MediaAsset, MediaKind, MediaStatus, Post, PostMedia, PostStatus, utcnow
from postforge.services.kernel.errors import Conflict, NotFound, ValidationFailed
from postforge.services.media import quota, validation
from postforge.services.media.storage import MediaStorage, get_storage, new_key, part_size_for
from postforge.services.tenancy import workspaces
from postforge.settings import Settings, get_settings

log = logging.getLogger(__name__)

# Above this, the browser sends the file in parts (each retried on its own, none held whole).
MULTIPART_THRESHOLD = 32 * 1024 * 1024
PAGE_SIZE = 48
FILENAME_MAX = 255
ALT_TEXT_MAX = 1500
NOT_FOUND = "This media file does not exist (it may have been deleted)."
# Posts in these states will still publish: their media must stay.
LIVE_POST_STATES = (PostStatus.SCHEDULED, PostStatus.PUBLISHING)

ThumbnailEnqueuer = Callable[[int], None]
_enqueuer: ThumbnailEnqueuer | None = None


# --- the port to the worker ---------------------------------------------------------------------


def register_enqueuer(enqueuer: ThumbnailEnqueuer | None) -> None:
    """Install the function that queues the thumbnail of a confirmed media file (the worker's)."""
    global _enqueuer
    _enqueuer = enqueuer


def enqueue_thumbnail(media_id: int) -> None:
    if _enqueuer is None:
        log.warning("no media enqueuer registered; media %s waits for the clean-up sweep", media_id)
        return
    try:
        _enqueuer(media_id)
    except Exception:
        # The file is ready; the sweep makes missing thumbnails later.
        log.exception("could not enqueue the thumbnail of media %s", media_id)


# --- views --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadPart:
    number: int
    url: str
    size_bytes: int


@dataclass(frozen=True)
class UploadPlan:
    """Where the browser sends the file: one `method url` with `headers`, or each part in turn."""

    media_id: int
    method: str
    url: str
    headers: dict[str, str]
    parts: tuple[UploadPart, ...] = ()


@dataclass(frozen=True)
class MediaView:
    id: int
    filename: str
    kind: str
    mime_type: str
    status: str
    size_bytes: int
    width: int | None
    height: int | None
    duration_seconds: float | None
    alt_text: str
    thumbnail_url: str
    created_at: datetime
    used_in_posts: int = 0


@dataclass(frozen=True)
class MediaPage:
    items: list[MediaView]
    total: int
    used_bytes: int
    quota_bytes: int


# --- helpers ------------------------------------------------------------------------------------


def _settings(settings: Settings | None) -> Settings:
    return settings or get_settings()


def _media(session: Session, workspace_id: int, media_id: int) -> MediaAsset:
    media = session.get(MediaAsset, int(media_id))
    if media is None or media.workspace_id != workspace_id or media.deleted_at is not None:
        raise NotFound(NOT_FOUND)
    return media


def size_cap(settings: Settings, kind: str) -> int:
    return settings.media_max_video_bytes if kind == "video" else settings.media_max_image_bytes


def _check_size(settings: Settings, kind: str, size_bytes: int) -> None:
    cap = size_cap(settings, kind)
    if size_bytes > cap:
        what = "A video" if kind == "video" else "An image"
        raise ValidationFailed(
            f"{what} may be at most {quota.human_bytes(cap)}; this file is {quota.human_bytes(size_bytes)}.",
            field="file",
        )


def _check_quota(
    session: Session, workspace_id: int, size_bytes: int, *, media_id: int | None = None
) -> None:
    limit = quota.quota_bytes(session, workspace_id)
    used = quota.used_bytes(session, workspace_id, except_media_id=media_id)
    if used + size_bytes > limit:
        raise ValidationFailed(
            f"This file ({quota.human_bytes(size_bytes)}) would take the workspace over its storage quota: "
            f"{quota.human_bytes(used)} of {quota.human_bytes(limit)} used. Delete media you no longer need "
            "or move to a larger plan.",
            field="file",
        )


def _clean_filename(filename: str) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:FILENAME_MAX] or "upload"


# --- uploading ----------------------------------------------------------------------------------


def start_upload(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    filename: str,
    content_type: str,
    size_bytes: int,
    settings: Settings | None = None,
) -> UploadPlan:
    """Reserve room for a file and say where to send it (refused before a byte moves when it
    is too large for its kind or for the workspace's quota)."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    settings = _settings(settings)
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared == "image/heif":
        declared = validation.HEIC
    if declared not in validation.ACCEPTED_TYPES:
        raise ValidationFailed(
            "Upload a JPEG, PNG, WebP, GIF or HEIC image, or an MP4 or MOV video.", field="file"
        )
    size_bytes = int(size_bytes)
    if size_bytes <= 0:
        raise ValidationFailed("This file is empty.", field="file")
    kind = validation.kind_of(declared)
    _check_size(settings, kind, size_bytes)
    _check_quota(session, workspace_id, size_bytes)
    storage = get_storage(settings)
    key = new_key(workspace_id, validation.EXTENSIONS[declared])
    media = MediaAsset(
        workspace_id=workspace_id,
        uploaded_by_id=actor_id,
        storage_key=key,
        filename=_clean_filename(filename),
        mime_type=declared,
        size_bytes=size_bytes,
        kind=MediaKind(kind),
        status=MediaStatus.PENDING,
    )
    ttl = settings.media_url_ttl_seconds
    if size_bytes <= MULTIPART_THRESHOLD:
        target = storage.presign_put(key, size_bytes=size_bytes, content_type=declared, expires_in=ttl)
        session.add(media)
        session.flush()
        return UploadPlan(media.id or 0, target.method, target.url, dict(target.headers))
    media.upload_id = storage.start_multipart(key, content_type=declared)
    session.add(media)
    session.flush()
    part_size = part_size_for(size_bytes)
    parts = []
    for index, start in enumerate(range(0, size_bytes, part_size), start=1):
        length = min(part_size, size_bytes - start)
        target = storage.presign_part(
            key, upload_id=media.upload_id, part_number=index, size_bytes=length, expires_in=ttl
        )
        parts.append(UploadPart(index, target.url, length))
    return UploadPlan(media.id or 0, "PUT", "", {}, tuple(parts))


def confirm_upload(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    media_id: int,
    parts: Sequence[tuple[int, str]] = (),
    settings: Settings | None = None,
) -> MediaView:
    """Admit the uploaded file after checking what really arrived, or forget it and say why.

    Commits: a refused file's row is deleted for good (even if the caller rolls back), and a
    ready file is committed before the worker is asked for its thumbnail.
    """
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    settings = _settings(settings)
    media = _media(session, workspace_id, media_id)
    if media.status != MediaStatus.PENDING:
        return _view(media, settings)
    storage = get_storage(settings)
    try:
        facts, size, digest, key = _admit(session, storage, media, parts, settings)
    except ValidationFailed:
        _forget(session, storage, media)
        raise
    media.storage_key, media.mime_type, media.size_bytes, media.sha256 = key, facts.mime_type, size, digest
    media.kind = MediaKind(facts.kind)
    media.width, media.height = facts.width, facts.height
    media.duration_seconds, media.frame_rate = facts.duration_seconds, facts.frame_rate
    media.video_codec, media.audio_codec = facts.video_codec, facts.audio_codec
    media.status, media.upload_id, media.confirmed_at = MediaStatus.READY, None, utcnow()
    session.add(media)
    session.commit()
    enqueue_thumbnail(media.id or 0)
    return _view(media, settings)


def _admit(
    session: Session,
    storage: MediaStorage,
    media: MediaAsset,
    parts: Sequence[tuple[int, str]],
    settings: Settings,
) -> tuple[validation.FileFacts, int, str, str]:
    """(facts, size, sha256, key) of the stored file, or ValidationFailed."""
    if media.upload_id:
        if not parts:
            raise ValidationFailed("The upload is not finished: no part of the file arrived.", field="file")
        storage.complete_multipart(
            media.storage_key, upload_id=media.upload_id, parts=[(int(n), str(e)) for n, e in parts]
        )
        media.upload_id = None
    size = storage.size(media.storage_key)
    if size is None:
        raise ValidationFailed("The file never arrived; upload it again.", field="file")
    if size != media.size_bytes:
        raise ValidationFailed(
            f"The file that arrived ({size:,} bytes) is not the one announced ({media.size_bytes:,} bytes); "
            "upload it again.",
            field="file",
        )
    mime_type = validation.sniff(storage.read_head(media.storage_key, validation.HEAD_BYTES))
    if mime_type is None:
        raise ValidationFailed(validation.UNKNOWN_TYPE, field="file")
    kind = validation.kind_of(mime_type)
    _check_size(settings, kind, size)
    _check_quota(session, media.workspace_id, size, media_id=media.id)
    with storage.local_file(media.storage_key) as path:
        facts = validation.inspect_file(path, mime_type, max_image_pixels=settings.media_max_image_pixels)
        if kind != "image":
            return facts, size, _sha256(path), media.storage_key
        with tempfile.TemporaryDirectory(prefix="postforge-clean-") as directory:
            cleaned = Path(directory) / "cleaned"
            written = validation.clean_image(
                path, mime_type, cleaned, max_image_pixels=settings.media_max_image_pixels
            )
            if written is None:
                return facts, size, _sha256(path), media.storage_key
            # The upright, location-free copy replaces the upload (HEIC becomes JPEG).
            key = new_key(media.workspace_id, validation.EXTENSIONS[written])
            storage.put_file(key, cleaned, content_type=written)
            new_size = cleaned.stat().st_size
            digest = _sha256(cleaned)
    storage.delete(media.storage_key)
    facts = validation.FileFacts(mime_type=written, kind="image", width=facts.width, height=facts.height)
    return facts, new_size, digest, key


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _forget(session: Session, storage: MediaStorage, media: MediaAsset) -> None:
    """Delete a refused upload: the object (and any unfinished parts) and its row, committed."""
    try:
        if media.upload_id:
            storage.abort_multipart(media.storage_key, upload_id=media.upload_id)
        storage.delete(media.storage_key)
    except Exception:
        # The row goes anyway; the clean-up sweep removes files without a row.
        log.exception("could not delete the refused upload %s", media.storage_key)
    session.rollback()
    session.execute(sa.delete(MediaAsset).where(col(MediaAsset.id) == media.id))
    session.commit()


def abort_upload(session: Session, *, actor_id: int, workspace_id: int, media_id: int) -> None:
    """Drop an upload the browser gave up on (a ready file is deleted with `delete_media` instead)."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    media = _media(session, workspace_id, media_id)
    if media.status != MediaStatus.PENDING:
        raise Conflict("This upload is finished already; delete the file from the library instead.")
    _forget(session, get_storage(), media)


# --- the library --------------------------------------------------------------------------------


def _view(media: MediaAsset, settings: Settings, used_in_posts: int = 0) -> MediaView:
    thumbnail = ""
    if media.thumbnail_key:
        thumbnail = get_storage(settings).url(media.thumbnail_key, expires_in=settings.media_url_ttl_seconds)
    return MediaView(
        id=media.id or 0,
        filename=media.filename,
        kind=str(media.kind),
        mime_type=media.mime_type,
        status=str(media.status),
        size_bytes=media.size_bytes,
        width=media.width,
        height=media.height,
        duration_seconds=media.duration_seconds,
        alt_text=media.alt_text,
        thumbnail_url=thumbnail,
        created_at=media.created_at,
        used_in_posts=used_in_posts,
    )


def list_media(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    kind: str = "",
    query: str = "",
    page: int = 1,
    settings: Settings | None = None,
) -> MediaPage:
    """One page of the workspace's ready media, newest first, with how many posts use each."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="read")
    settings = _settings(settings)
    conditions = [
        MediaAsset.workspace_id == workspace_id,
        col(MediaAsset.deleted_at).is_(None),
        MediaAsset.status != MediaStatus.PENDING,
    ]
    if kind in (MediaKind.IMAGE, MediaKind.VIDEO):
        conditions.append(MediaAsset.kind == MediaKind(kind))
    text = (query or "").strip().lower()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            sa.or_(
                sa.func.lower(MediaAsset.filename).like(pattern, escape="\\"),
                sa.func.lower(MediaAsset.alt_text).like(pattern, escape="\\"),
            )
        )
    uses = (
        select(sa.func.count())
        .select_from(PostMedia)
        .join(Post, col(Post.id) == PostMedia.post_id)
        .where(col(PostMedia.media_id) == MediaAsset.id, col(Post.deleted_at).is_(None))
        .scalar_subquery()
    )
    page = max(int(page), 1)
    rows = session.exec(
        select(MediaAsset, uses)
        .where(*conditions)
        .order_by(col(MediaAsset.created_at).desc(), col(MediaAsset.id).desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    total = session.exec(select(sa.func.count()).select_from(MediaAsset).where(*conditions)).one()
    return MediaPage(
        items=[_view(media, settings, int(count or 0)) for media, count in rows],
        total=int(total),
        used_bytes=quota.used_bytes(session, workspace_id),
        quota_bytes=quota.quota_bytes(session, workspace_id),
    )


def set_alt_text(
    session: Session, *, actor_id: int, workspace_id: int, media_id: int, alt_text: str
) -> MediaView:
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    media = _media(session, workspace_id, media_id)
    text = " ".join((alt_text or "").split())
    if len(text) > ALT_TEXT_MAX:
        raise ValidationFailed(
            f"Alt text may be at most {ALT_TEXT_MAX} characters ({len(text)} now).", field="alt_text"
        )
    media.alt_text = text
    session.add(media)
    session.flush()
    return _view(media, _settings(None))


def delete_media(session: Session, *, actor_id: int, workspace_id: int, media_id: int) -> None:
    """Take a file out of the library; refused while a scheduled post still uses it.

    The file itself is purged from storage by the clean-up sweep after the grace period (a post
    published meanwhile, or an undo, still finds it until then).
    """
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    media = _media(session, workspace_id, media_id)
    live = session.exec(
        select(sa.func.count())
        .select_from(PostMedia)
        .join(Post, col(Post.id) == PostMedia.post_id)
        .where(
            PostMedia.media_id == media.id,
            col(Post.status).in_(LIVE_POST_STATES),
            col(Post.deleted_at).is_(None),
        )
    ).one()
    if live:
        plural = "post uses" if live == 1 else "posts use"
        raise Conflict(
            f"{live} scheduled {plural} this file. Remove it from {'that post' if live == 1 else 'them'} "
            "or unschedule first."
        )
    media.deleted_at = utcnow()
    session.add(media)
    session.flush()

"""Thumbnails and poster frames, and the clean-up sweep of abandoned, deleted and orphaned files."""

from datetime import timedelta

from PIL import Image
from sqlmodel import Session, select

from postforge.models import MediaAsset, MediaStatus, Post, PostMedia, PostStatus, Workspace, utcnow
from postforge.services.media import library, processing
from tests.support.factories import make_post, make_workspace
from tests.support.media_files import image_bytes, upload_bytes, video_bytes


def add(engine, team, store, data, content_type, settings):
    with Session(engine) as session:
        plan = library.start_upload(
            session,
            actor_id=team["editor"],
            workspace_id=team["ws"],
            filename="file",
            content_type=content_type,
            size_bytes=len(data),
            settings=settings,
        )
        session.commit()
    upload_bytes(store, plan.url, data)
    with Session(engine) as session:
        return library.confirm_upload(
            session,
            actor_id=team["editor"],
            workspace_id=team["ws"],
            media_id=plan.media_id,
            settings=settings,
        )


def row(engine, media_id) -> MediaAsset | None:
    with Session(engine) as session:
        return session.get(MediaAsset, media_id)


def test_a_confirmed_photo_is_handed_to_the_worker_and_gets_a_thumbnail(engine, team, store, media_settings):
    queued = []
    library.register_enqueuer(queued.append)
    try:
        photo = add(engine, team, store, image_bytes("PNG", (1200, 600)), "image/png", media_settings)
    finally:
        library.register_enqueuer(None)
    assert queued == [photo.id]
    assert processing.make_thumbnail(engine, photo.id, settings=media_settings) == "thumbnail made"
    media = row(engine, photo.id)
    assert media.thumbnail_key.endswith(".thumb.jpg") and media.poster_key is None
    with store.local_file(media.thumbnail_key) as path, Image.open(path) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (480, 240)
    with Session(engine) as session:
        [listed] = library.list_media(session, actor_id=team["editor"], workspace_id=team["ws"]).items
    assert listed.thumbnail_url.startswith("http://app.test/api/media/files/")


def test_a_video_gets_a_poster_frame_and_a_thumbnail(engine, team, store, media_settings):
    clip = add(engine, team, store, video_bytes(1.0, (96, 64)), "video/mp4", media_settings)
    processing.make_thumbnail(engine, clip.id, settings=media_settings)
    media = row(engine, clip.id)
    with store.local_file(media.poster_key) as path, Image.open(path) as poster:
        assert poster.size == (96, 64)
    assert store.size(media.thumbnail_key) > 0


def test_a_file_that_cannot_be_read_any_more_is_marked_failed(engine, team, store, media_settings):
    photo = add(engine, team, store, image_bytes(), "image/jpeg", media_settings)
    store.path(row(engine, photo.id).storage_key).write_bytes(b"\xff\xd8\xff garbage")
    assert processing.make_thumbnail(engine, photo.id, settings=media_settings).startswith("failed")
    assert row(engine, photo.id).status == MediaStatus.FAILED


def test_the_sweep_removes_what_nobody_owns_and_keeps_the_rest(engine, team, store, media_settings):
    settings = media_settings.model_copy(
        update={"media_unconfirmed_hours": 1, "media_deleted_grace_hours": 1}
    )
    kept = add(engine, team, store, image_bytes(), "image/jpeg", settings)
    deleted = add(engine, team, store, image_bytes("PNG"), "image/png", settings)
    scheduled = add(engine, team, store, image_bytes("GIF"), "image/gif", settings)
    recent = add(engine, team, store, image_bytes("WEBP"), "image/webp", settings)
    with Session(engine) as session:
        stale = library.start_upload(
            session,
            actor_id=team["editor"],
            workspace_id=team["ws"],
            filename="never.jpg",
            content_type="image/jpeg",
            size_bytes=10,
            settings=settings,
        )
        fresh = library.start_upload(
            session,
            actor_id=team["editor"],
            workspace_id=team["ws"],
            filename="under-way.jpg",
            content_type="image/jpeg",
            size_bytes=10,
            settings=settings,
        )
        session.commit()
    upload_bytes(store, stale.url, b"0123456789")
    long_ago = utcnow() - timedelta(hours=2)
    with Session(engine) as session:
        session.get(MediaAsset, stale.media_id).created_at = long_ago
        for media_id in (deleted.id, scheduled.id):
            session.get(MediaAsset, media_id).deleted_at = long_ago
        session.get(MediaAsset, recent.id).deleted_at = utcnow()
        post = make_post(
            session, session.get(Workspace, team["ws"]), status=PostStatus.SCHEDULED, scheduled_at=utcnow()
        )
        session.add(PostMedia(post_id=post.id, media_id=scheduled.id))
        # A workspace that is gone left files behind.
        gone = make_workspace(session)
        session.commit()
        gone_id, post_id = gone.id, post.id
    orphan = store.path(f"media/{gone_id}/left-behind.jpg")
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x")
    with Session(engine) as session:
        session.delete(session.get(Workspace, gone_id))
        session.commit()
    deleted_keys = [row(engine, deleted.id).storage_key]

    result = processing.sweep(engine, settings=settings)

    assert (result.abandoned, result.purged, result.workspaces) == (1, 1, 1)
    with Session(engine) as session:
        left = set(session.exec(select(MediaAsset.id)).all())
    assert left == {kept.id, scheduled.id, recent.id, fresh.media_id}
    assert store.size(deleted_keys[0]) is None and not orphan.exists()
    assert store.size(row(engine, scheduled.id).storage_key) is not None
    # The scheduled post goes out, then the file is no longer held back.
    with Session(engine) as session:
        session.get(Post, post_id).status = PostStatus.PUBLISHED
        session.commit()
    assert processing.sweep(engine, settings=settings).purged == 1
    # Ready files without a thumbnail for a while are handed back to the worker.
    with Session(engine) as session:
        session.get(MediaAsset, kept.id).confirmed_at = long_ago
        session.commit()
    assert kept.id in processing.sweep(engine, settings=settings).thumbnails_to_make

"""The media library on the embedded store: uploads admitted for what their bytes are, every bad
file refused with a message that says why and nothing of it kept, quota, alt text, deletion."""

from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import Session, select

from postforge.models import MediaAsset, Post, PostMedia, PostStatus, Workspace, utcnow
from postforge.services.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from postforge.services.media import library
from tests.support.factories import make_post
from tests.support.media_files import bomb_png, heic_bytes, image_bytes, upload_bytes, video_bytes


def stored_files(store) -> list[Path]:
    return sorted(path for path in store.root.rglob("*") if path.is_file())


def rows(engine) -> list[MediaAsset]:
    with Session(engine) as session:
        return list(session.exec(select(MediaAsset)).all())


def start(engine, team, data_or_size, content_type, settings, filename="photo.jpg"):
    size = data_or_size if isinstance(data_or_size, int) else len(data_or_size)
    with Session(engine) as session:
        plan = library.start_upload(
            session,
            actor_id=team["editor"],
            workspace_id=team["ws"],
            filename=filename,
            content_type=content_type,
            size_bytes=size,
            settings=settings,
        )
        session.commit()
    return plan


def confirm(engine, team, plan, settings, parts=()):
    with Session(engine) as session:
        return library.confirm_upload(
            session,
            actor_id=team["editor"],
            workspace_id=team["ws"],
            media_id=plan.media_id,
            parts=parts,
            settings=settings,
        )


def add(engine, team, store, data, content_type, settings, filename="photo.jpg"):
    plan = start(engine, team, data, content_type, settings, filename)
    upload_bytes(store, plan.url, data)
    return confirm(engine, team, plan, settings)


def refused(engine, team, store, data, content_type, settings, match: str):
    plan = start(engine, team, data, content_type, settings)
    upload_bytes(store, plan.url, data)
    with pytest.raises(ValidationFailed, match=match) as refusal:
        confirm(engine, team, plan, settings)
    # Nothing of the file stays: no row, no object.
    assert rows(engine) == []
    assert stored_files(store) == []
    return refusal.value


# --- files admitted ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "declared", "expected"),
    [
        ("JPEG", "image/jpeg", "image/jpeg"),
        ("PNG", "image/png", "image/png"),
        ("GIF", "image/gif", "image/gif"),
        ("WEBP", "image/webp", "image/webp"),
        # The declared type is only a hint: the bytes decide.
        ("PNG", "image/jpeg", "image/png"),
    ],
)
def test_an_image_is_admitted_as_what_its_bytes_are(
    engine, team, store, media_settings, fmt, declared, expected
):
    data = image_bytes(fmt, (64, 48))
    view = add(engine, team, store, data, declared, media_settings)
    assert (view.status, view.kind, view.mime_type, view.width, view.height) == (
        "ready",
        "image",
        expected,
        64,
        48,
    )
    [row] = rows(engine)
    assert row.size_bytes == len(data) and len(row.sha256) == 64 and row.confirmed_at is not None
    assert store.size(row.storage_key) == len(data)


def test_a_photo_is_turned_upright_and_loses_its_location(engine, team, store, media_settings):
    data = image_bytes("JPEG", (64, 48), orientation=6, gps=True)  # 6: rotate 90° clockwise to view
    view = add(engine, team, store, data, "image/jpeg", media_settings)
    assert (view.width, view.height) == (48, 64)
    [row] = rows(engine)
    with store.local_file(row.storage_key) as path, Image.open(path) as image:
        exif = image.getexif()
        assert image.size == (48, 64)
        assert 0x8825 not in exif  # no GPS block
        assert exif.get(0x0112, 1) == 1
    assert len(stored_files(store)) == 1  # the original went


def test_a_heic_photo_becomes_a_jpeg(engine, team, store, media_settings):
    view = add(engine, team, store, heic_bytes((64, 48)), "image/heic", media_settings, "IMG_0001.HEIC")
    assert (view.mime_type, view.width, view.height) == ("image/jpeg", 64, 48)
    [row] = rows(engine)
    assert row.storage_key.endswith(".jpg")
    assert store.read_head(row.storage_key, 3) == b"\xff\xd8\xff"


@pytest.mark.parametrize(("fmt", "declared"), [("mp4", "video/mp4"), ("mov", "video/quicktime")])
def test_a_video_reports_duration_codec_size_and_frame_rate(
    engine, team, store, media_settings, fmt, declared
):
    data = video_bytes(2.0, (64, 48), fps=10, fmt=fmt)
    view = add(engine, team, store, data, declared, media_settings, f"clip.{fmt}")
    assert (view.kind, view.mime_type, view.width, view.height) == ("video", declared, 64, 48)
    assert view.duration_seconds == pytest.approx(2.0, abs=0.2)
    [row] = rows(engine)
    assert row.video_codec == "mpeg4" and row.frame_rate == pytest.approx(10.0)


def test_a_multipart_upload_is_joined_and_checked(engine, team, store, media_settings, monkeypatch):
    monkeypatch.setattr(library, "MULTIPART_THRESHOLD", 1000)
    monkeypatch.setattr(library, "part_size_for", lambda size: 700)
    data = video_bytes(1.0)
    plan = start(engine, team, data, "video/mp4", media_settings)
    assert len(plan.parts) == -(-len(data) // 700)
    etags = []
    for part in plan.parts:
        offset = (part.number - 1) * 700
        etags.append((part.number, upload_bytes(store, part.url, data[offset : offset + part.size_bytes])))
    view = confirm(engine, team, plan, media_settings, parts=etags)
    assert view.status == "ready"
    [row] = rows(engine)
    assert store.size(row.storage_key) == len(data) and row.upload_id is None
    assert not (store.root / ".uploads").exists() or not any((store.root / ".uploads").iterdir())


# --- files refused ----------------------------------------------------------------------------------


def test_wrong_magic_bytes_are_refused(engine, team, store, media_settings):
    error = refused(
        engine, team, store, b"<html>not a photo</html>" * 10, "image/jpeg", media_settings, "not a JPEG"
    )
    assert error.field == "file"


def test_a_truncated_image_is_refused(engine, team, store, media_settings):
    data = image_bytes("JPEG", (400, 300))
    refused(
        engine, team, store, data[: len(data) // 2], "image/jpeg", media_settings, "incomplete or damaged"
    )


def test_a_truncated_png_is_refused(engine, team, store, media_settings):
    data = image_bytes("PNG", (300, 300))
    refused(engine, team, store, data[: len(data) - 40], "image/png", media_settings, "incomplete or damaged")


def test_a_truncated_video_is_refused(engine, team, store, media_settings):
    data = video_bytes(2.0)
    refused(engine, team, store, data[: len(data) - 300], "video/mp4", media_settings, "bytes of its")


def test_a_video_whose_header_lies_is_refused(engine, team, store, media_settings):
    # An MP4 header followed by noise: the box sizes say the file ends long after it does.
    data = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x10\x00\x00mdat" + b"\x07" * 5000
    refused(engine, team, store, data, "video/mp4", media_settings, "incomplete or damaged")


def test_a_decompression_bomb_is_refused(engine, team, store, media_settings):
    data = bomb_png(12_000, 12_000)  # ~17 kB that unpack to 144 million pixels
    error = refused(engine, team, store, data, "image/png", media_settings, "decompression bombs")
    assert "12,000 x 12,000" in error.message


def test_an_unknown_declared_type_is_refused_before_anything_is_stored(engine, team, store, media_settings):
    with pytest.raises(ValidationFailed, match="Upload a JPEG, PNG"):
        start(engine, team, 1000, "application/pdf", media_settings)
    assert rows(engine) == [] and stored_files(store) == []


def test_a_file_over_the_size_cap_is_refused_before_the_upload(engine, team, store, media_settings):
    with pytest.raises(ValidationFailed, match=r"An image may be at most 195\.3 KB"):
        start(engine, team, 300_000, "image/jpeg", media_settings)
    assert rows(engine) == []


def test_a_file_larger_than_announced_is_cut_off_and_refused(engine, team, store, media_settings):
    data = image_bytes("JPEG")
    plan = start(engine, team, len(data) - 10, "image/jpeg", media_settings)
    with pytest.raises(ValidationFailed, match="larger than the"):
        upload_bytes(store, plan.url, data)
    with pytest.raises(ValidationFailed, match="never arrived"):
        confirm(engine, team, plan, media_settings)
    assert rows(engine) == [] and stored_files(store) == []


def test_a_video_declared_as_an_image_still_meets_the_video_cap(engine, team, store, media_settings):
    # Declared as an image (cap 200 kB), but the video cap decides once the bytes are read.
    small = media_settings.model_copy(update={"media_max_video_bytes": 1024})
    refused(engine, team, store, video_bytes(1.0), "image/jpeg", small, "A video may be at most")


def test_an_upload_over_the_quota_is_refused_before_and_after(engine, team, store, media_settings):
    from postforge.services.media import quota

    data = image_bytes("JPEG")
    with Session(engine) as session:
        assert quota.quota_bytes(session, team["ws"]) == quota.FREE_STORAGE_BYTES
    add(engine, team, store, data, "image/jpeg", media_settings)
    used = len(data)
    tight = pytest.MonkeyPatch()
    tight.setattr(quota, "FREE_STORAGE_BYTES", used + 100)
    try:
        with pytest.raises(ValidationFailed, match="storage quota"):
            start(engine, team, 200, "image/jpeg", media_settings)
        # Started while there was room; the quota shrank (a plan change) before it was confirmed.
        other = image_bytes("PNG", (8, 8))
        tight.setattr(quota, "FREE_STORAGE_BYTES", used + len(other))
        plan = start(engine, team, other, "image/png", media_settings)
        upload_bytes(store, plan.url, other)
        tight.setattr(quota, "FREE_STORAGE_BYTES", used + len(other) - 1)
        with pytest.raises(ValidationFailed, match="storage quota"):
            confirm(engine, team, plan, media_settings)
    finally:
        tight.undo()
    assert len(rows(engine)) == 1 and len(stored_files(store)) == 1


def test_a_viewer_cannot_upload(engine, team, store, media_settings):
    with Session(engine) as session, pytest.raises(PermissionDenied):
        library.start_upload(
            session,
            actor_id=team["viewer"],
            workspace_id=team["ws"],
            filename="x.jpg",
            content_type="image/jpeg",
            size_bytes=100,
            settings=media_settings,
        )


def test_an_aborted_upload_leaves_nothing(engine, team, store, media_settings):
    plan = start(engine, team, image_bytes(), "image/jpeg", media_settings)
    with Session(engine) as session:
        library.abort_upload(
            session, actor_id=team["editor"], workspace_id=team["ws"], media_id=plan.media_id
        )
    assert rows(engine) == [] and stored_files(store) == []


# --- the library -------------------------------------------------------------------------------------


def test_list_filter_search_alt_text_and_use_count(engine, team, store, media_settings):
    photo = add(engine, team, store, image_bytes(), "image/jpeg", media_settings, "beach.jpg")
    clip = add(engine, team, store, video_bytes(1.0), "video/mp4", media_settings, "launch.mp4")
    start(engine, team, 100, "image/png", media_settings)  # pending: not listed
    with Session(engine) as session:
        library.set_alt_text(
            session,
            actor_id=team["editor"],
            workspace_id=team["ws"],
            media_id=clip.id,
            alt_text="  Rocket   lifting off ",
        )
        post = make_post(session, session.get(Workspace, team["ws"]))
        session.add(PostMedia(post_id=post.id, media_id=photo.id, position=0))
        session.commit()

    def listed(**filters):
        with Session(engine) as session:
            return library.list_media(
                session, actor_id=team["viewer"], workspace_id=team["ws"], settings=media_settings, **filters
            )

    everything = listed()
    assert [item.filename for item in everything.items] == ["launch.mp4", "beach.jpg"]
    assert everything.total == 2 and everything.used_bytes > 0
    assert {item.filename: item.used_in_posts for item in everything.items} == {
        "launch.mp4": 0,
        "beach.jpg": 1,
    }
    assert [item.filename for item in listed(kind="video").items] == ["launch.mp4"]
    assert [item.filename for item in listed(query="ROCKET").items] == ["launch.mp4"]
    assert [item.filename for item in listed(query="beach").items] == ["beach.jpg"]
    assert listed(query="50%_").items == []
    assert listed(kind="video").items[0].alt_text == "Rocket lifting off"


def test_alt_text_has_a_limit(engine, team, store, media_settings):
    photo = add(engine, team, store, image_bytes(), "image/jpeg", media_settings)
    with Session(engine) as session, pytest.raises(ValidationFailed, match="at most 1500"):
        library.set_alt_text(
            session, actor_id=team["editor"], workspace_id=team["ws"], media_id=photo.id, alt_text="a" * 1501
        )


def test_delete_is_refused_while_a_scheduled_post_uses_the_file(engine, team, store, media_settings):
    photo = add(engine, team, store, image_bytes(), "image/jpeg", media_settings)
    with Session(engine) as session:
        post = make_post(
            session,
            session.get(Workspace, team["ws"]),
            status=PostStatus.SCHEDULED,
            scheduled_at=utcnow() + timedelta(days=1),
        )
        session.add(PostMedia(post_id=post.id, media_id=photo.id, position=0))
        session.commit()
        post_id = post.id
    with Session(engine) as session, pytest.raises(Conflict, match="1 scheduled post uses this file"):
        library.delete_media(session, actor_id=team["editor"], workspace_id=team["ws"], media_id=photo.id)
    with Session(engine) as session:
        session.get(Post, post_id).status = PostStatus.DRAFT
        session.commit()
    with Session(engine) as session:
        library.delete_media(session, actor_id=team["editor"], workspace_id=team["ws"], media_id=photo.id)
        session.commit()
    with Session(engine) as session:
        assert library.list_media(session, actor_id=team["editor"], workspace_id=team["ws"]).items == []
        with pytest.raises(NotFound):
            library.set_alt_text(
                session, actor_id=team["editor"], workspace_id=team["ws"], media_id=photo.id, alt_text="x"
            )
    assert len(stored_files(store)) == 1  # purged later by the sweep, after the grace period


def test_another_workspace_cannot_touch_the_file(engine, team, store, media_settings):
    photo = add(engine, team, store, image_bytes(), "image/jpeg", media_settings)
    with Session(engine) as session, pytest.raises(PermissionDenied):
        library.delete_media(session, actor_id=team["other"], workspace_id=team["ws"], media_id=photo.id)

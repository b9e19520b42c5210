"""Media end to end on both stores: an S3 server (moto's server mode on 127.0.0.1, with PostgreSQL
and Redis) and the embedded folder (SQLite and the embedded broker). Files are sent the way the
browser sends them — a presigned PUT, or presigned parts — then confirmed, thumbnailed by a real
worker process, deleted and purged."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from postforge.api.media_files import media_file_routes
from postforge.models import MediaAsset, Role, utcnow
from postforge.services.kernel.errors import ValidationFailed
from postforge.services.media import library, processing
from postforge.services.media import storage as media_storage
from postforge.services.media.storage import MediaStorage
from postforge.settings import Settings
from tests.support.factories import make_membership, make_user, make_workspace
from tests.support.media_files import image_bytes, padded_mp4, video_bytes
from tests.support.s3 import moto_s3
from tests.support.worker import celery_env, running_worker, wait_for
from worker.celery_app import MEDIA_THUMBNAIL_TASK, create_celery_app

MIB = 1024 * 1024
THUMBNAIL_TIMEOUT_SECONDS = 60


@dataclass
class Setup:
    engine: Engine
    settings: Settings
    storage: MediaStorage
    put: Callable[[str, bytes, dict[str, str]], httpx.Response]  # how the browser sends bytes
    env: dict[str, str]  # the worker's environment
    editor: int = 0
    workspace: int = 0


def _team(setup: Setup) -> Setup:
    with Session(setup.engine) as session:
        editor = make_user(session)
        workspace = make_workspace(session, owner=editor)
        make_membership(session, workspace, editor, role=Role.EDITOR)
        session.commit()
        setup.editor, setup.workspace = editor.id, workspace.id
    return setup


@pytest.fixture
def s3_setup(redis_url, migrated_postgres_url, postgres_engine, tmp_path) -> Iterator[Setup]:
    with moto_s3() as s3:
        env = celery_env(
            database_url=migrated_postgres_url, redis_url=redis_url, data_dir=tmp_path, **s3.settings_env()
        )
        settings = Settings(
            database_url=migrated_postgres_url,
            redis_url=redis_url,
            data_dir=tmp_path,
            **{key.lower(): value for key, value in s3.settings_env().items()},
        )
        storage = media_storage.S3Storage.from_settings(settings)
        media_storage.use_storage(storage)
        with httpx.Client(timeout=60) as client:
            try:
                yield _team(
                    Setup(
                        postgres_engine,
                        settings,
                        storage,
                        lambda url, body, headers: client.put(url, content=body, headers=headers),
                        env,
                    )
                )
            finally:
                media_storage.use_storage(None)


@pytest.fixture
def local_setup(sqlite_url, sqlite_engine, tmp_path) -> Iterator[Setup]:
    env = celery_env(
        database_url=sqlite_url, redis_url="", data_dir=tmp_path, secret_key="local-media-secret"
    )
    settings = Settings(
        database_url=sqlite_url, redis_url="", data_dir=tmp_path, secret_key="local-media-secret"
    )
    storage = media_storage.LocalStorage(
        tmp_path / "media-files", secret="local-media-secret", base_url="http://testserver"
    )
    media_storage.use_storage(storage)
    # The browser's PUT reaches the app's own upload route.
    with TestClient(Starlette(routes=media_file_routes())) as client:
        try:
            yield _team(
                Setup(
                    sqlite_engine,
                    settings,
                    storage,
                    lambda url, body, headers: client.put(url, content=body, headers=headers),
                    env,
                )
            )
        finally:
            media_storage.use_storage(None)


def _start(setup: Setup, data: bytes, content_type: str, filename: str) -> library.UploadPlan:
    with Session(setup.engine) as session:
        plan = library.start_upload(
            session,
            actor_id=setup.editor,
            workspace_id=setup.workspace,
            filename=filename,
            content_type=content_type,
            size_bytes=len(data),
            settings=setup.settings,
        )
        session.commit()
        return plan


def _confirm(setup: Setup, plan: library.UploadPlan, parts=()) -> library.MediaView:
    with Session(setup.engine) as session:
        return library.confirm_upload(
            session,
            actor_id=setup.editor,
            workspace_id=setup.workspace,
            media_id=plan.media_id,
            parts=parts,
            settings=setup.settings,
        )


def _send_whole(setup: Setup, data: bytes, content_type: str, filename: str) -> library.MediaView:
    plan = _start(setup, data, content_type, filename)
    assert plan.parts == ()
    answer = setup.put(plan.url, data, plan.headers)
    assert answer.status_code == 200, answer.text
    return _confirm(setup, plan)


def _send_in_parts(setup: Setup, data: bytes, content_type: str, filename: str) -> library.MediaView:
    plan = _start(setup, data, content_type, filename)
    assert len(plan.parts) > 1
    parts, offset = [], 0
    for part in plan.parts:
        answer = setup.put(part.url, data[offset : offset + part.size_bytes], {})
        assert answer.status_code == 200, answer.text
        parts.append((part.number, answer.headers["ETag"]))
        offset += part.size_bytes
    return _confirm(setup, plan, parts)


def _row(setup: Setup, media_id: int) -> MediaAsset:
    with Session(setup.engine) as session:
        return session.get(MediaAsset, media_id)


def _journey(setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A photo in one PUT, with its location stripped on the way in.
    photo = _send_whole(setup, image_bytes("JPEG", (800, 600), gps=True), "image/jpeg", "photo.jpg")
    assert (photo.status, photo.width, photo.height) == ("ready", 800, 600)

    # A 12 MiB video in 5 MiB parts (S3's smallest): a real clip padded with a `free` box.
    monkeypatch.setattr(library, "MULTIPART_THRESHOLD", 6 * MIB)
    monkeypatch.setattr(library, "part_size_for", lambda size: 5 * MIB)
    clip = _send_in_parts(setup, padded_mp4(video_bytes(2.0, (96, 64)), 12 * MIB), "video/mp4", "clip.mp4")
    assert (clip.kind, clip.width, clip.height, clip.size_bytes) == ("video", 96, 64, 12 * MIB)
    assert clip.duration_seconds == pytest.approx(2.0, abs=0.2)

    # A file whose bytes lie is refused and leaves nothing: no row, no object.
    fake = b"%PDF-1.7 not an image" * 50
    plan = _start(setup, fake, "image/jpeg", "fake.jpg")
    key = _row(setup, plan.media_id).storage_key
    assert setup.put(plan.url, fake, plan.headers).status_code == 200
    assert setup.storage.size(key) == len(fake)
    with pytest.raises(ValidationFailed, match="not a JPEG"):
        _confirm(setup, plan)
    assert _row(setup, plan.media_id) is None and setup.storage.size(key) is None

    # The real worker makes the thumbnails and the poster frame.
    queue = create_celery_app(
        Settings(database_url=setup.env["DATABASE_URL"], redis_url=setup.env["REDIS_URL"], data_dir=tmp_path)
    )
    with running_worker(setup.env, tmp_path):
        for media_id in (photo.id, clip.id):
            queue.send_task(MEDIA_THUMBNAIL_TASK, args=[media_id])
        for media_id in (photo.id, clip.id):
            wait_for(
                lambda media_id=media_id: _row(setup, media_id).thumbnail_key,
                timeout=THUMBNAIL_TIMEOUT_SECONDS,
                what=f"the thumbnail of media {media_id}",
            )
    photo_row, clip_row = _row(setup, photo.id), _row(setup, clip.id)
    with setup.storage.local_file(photo_row.thumbnail_key) as path, Image.open(path) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (480, 360)
    with setup.storage.local_file(clip_row.poster_key) as path, Image.open(path) as poster:
        assert poster.size == (96, 64)
    with setup.storage.local_file(photo_row.storage_key) as path, Image.open(path) as stored:
        assert 0x8825 not in stored.getexif()

    # Deleted, then purged once the grace period is over: the file and its previews go.
    with Session(setup.engine) as session:
        library.delete_media(session, actor_id=setup.editor, workspace_id=setup.workspace, media_id=photo.id)
        session.get(MediaAsset, photo.id).deleted_at = utcnow() - timedelta(days=30)
        session.commit()
    assert processing.sweep(setup.engine, settings=setup.settings).purged == 1
    for key in (photo_row.storage_key, photo_row.thumbnail_key):
        assert setup.storage.size(key) is None
    assert setup.storage.size(clip_row.storage_key) == 12 * MIB


def test_media_on_an_s3_server(s3_setup, tmp_path, monkeypatch):
    _journey(s3_setup, tmp_path, monkeypatch)


def test_media_on_the_embedded_store(local_setup, tmp_path, monkeypatch):
    _journey(local_setup, tmp_path, monkeypatch)


def test_an_abandoned_multipart_upload_is_aborted_on_the_s3_server(s3_setup, monkeypatch):
    monkeypatch.setattr(library, "MULTIPART_THRESHOLD", 6 * MIB)
    monkeypatch.setattr(library, "part_size_for", lambda size: 5 * MIB)
    data = padded_mp4(video_bytes(1.0), 11 * MIB)
    plan = _start(s3_setup, data, "video/mp4", "never.mp4")
    s3_setup.put(plan.parts[0].url, data[: 5 * MIB], {})
    with Session(s3_setup.engine) as session:
        session.get(MediaAsset, plan.media_id).created_at = utcnow() - timedelta(days=3)
        session.commit()
    assert processing.sweep(s3_setup.engine, settings=s3_setup.settings).abandoned == 1
    client = s3_setup.storage.client
    assert client.list_multipart_uploads(Bucket=s3_setup.storage.bucket).get("Uploads", []) == []
    assert _row(s3_setup, plan.media_id) is None

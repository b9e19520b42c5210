"""The media page's state: what the uploader reports is client-controlled, so a viewer's upload,
a made-up file and a confirm of someone else's file are refused; the file never reaches the state."""

import json
from collections.abc import Iterator

import pytest
import reflex as rx
from sqlmodel import Session, select

from postforge.db import get_engine
from postforge.models import MediaAsset, Role
from postforge.services.identity import accounts_auth
from postforge.services.media import storage as media_storage
from postforge.settings import get_settings
from postforge.state.media import MediaState
from postforge.state.shell import ShellState
from tests.support.factories import make_membership, make_user, make_workspace


@pytest.fixture
def world(sqlite_url: str, sqlite_engine, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[dict]:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    media_storage.use_storage(
        media_storage.LocalStorage(tmp_path / "store", secret="s", base_url="http://app")
    )
    with Session(get_engine()) as session:
        editor, viewer = make_user(session, name="Editor"), make_user(session, name="Viewer")
        space = make_workspace(session, name="A")
        make_membership(session, space, editor, role=Role.EDITOR)
        make_membership(session, space, viewer, role=Role.VIEWER)
        tokens = {
            user.name: accounts_auth.create_session(session, user, workspace_id=space.id)
            for user in (editor, viewer)
        }
        session.commit()
    yield tokens
    media_storage.use_storage(None)
    get_settings.cache_clear()
    get_engine.cache_clear()


async def _media_state(token: str) -> MediaState:
    root = rx.State()
    shell = await root.get_state(ShellState)
    shell.session_token = token
    await shell.load_shell()
    return await root.get_state(MediaState)


def _media_rows() -> list[MediaAsset]:
    with Session(get_engine()) as session:
        return list(session.exec(select(MediaAsset)).all())


async def test_an_editor_gets_a_signed_link_and_the_uploader_is_told_where_to_send(world) -> None:
    state = await _media_state(world["Editor"])
    chosen = json.dumps({"name": "photo.jpg", "type": "image/jpeg", "size": 1234})
    answer = await state.file_chosen(chosen)
    assert state.uploading and state.upload_name == "photo.jpg"
    script = str(answer)
    assert "window.pfMedia.send(" in script and "/api/media/upload/" in script
    [row] = _media_rows()
    assert row.size_bytes == 1234 and row.status == "pending"


async def test_a_viewer_cannot_start_an_upload(world) -> None:
    state = await _media_state(world["Viewer"])
    await state.file_chosen(json.dumps({"name": "x.jpg", "type": "image/jpeg", "size": 10}))
    assert not state.uploading and _media_rows() == []


async def test_made_up_uploader_reports_change_nothing(world) -> None:
    state = await _media_state(world["Editor"])
    await state.file_chosen("not json")
    await state.file_chosen(json.dumps({"name": "x", "type": "image/jpeg", "size": "lots"}))
    assert await state.upload_done("{broken") is None
    state.upload_progress("<script>")
    assert not state.uploading and state.upload_percent == 0 and _media_rows() == []

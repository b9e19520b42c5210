"""A workspace with an editor and a viewer, and a media store in a temporary folder."""

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from postforge.models import Role
from postforge.services.media import storage as media_storage
from postforge.services.media.storage import LocalStorage
from postforge.settings import Settings
from tests.support.factories import make_membership, make_user, make_workspace


@pytest.fixture
def store(tmp_path) -> Iterator[LocalStorage]:
    local = LocalStorage(tmp_path / "store", secret="test-secret", base_url="http://app.test")
    media_storage.use_storage(local)
    yield local
    media_storage.use_storage(None)


@pytest.fixture
def media_settings(tmp_path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        media_max_image_bytes=200_000,
        media_max_video_bytes=2_000_000,
        media_max_image_pixels=20_000_000,
    )


@pytest.fixture
def team(engine):
    with Session(engine, expire_on_commit=False) as session:
        editor, viewer, other = make_user(session), make_user(session), make_user(session)
        workspace = make_workspace(session, owner=editor)
        elsewhere = make_workspace(session, owner=other)
        make_membership(session, workspace, editor, role=Role.EDITOR)
        make_membership(session, workspace, viewer, role=Role.VIEWER)
        make_membership(session, elsewhere, other, role=Role.ADMIN)
        session.commit()
        return {"ws": workspace.id, "editor": editor.id, "viewer": viewer.id, "other": other.id}

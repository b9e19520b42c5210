"""A post's media: saved with the post, in the editor's order, only ready files of the workspace."""

import pytest
from sqlmodel import Session

from postforge.models import MediaAsset, MediaKind, MediaStatus, Role, Workspace, utcnow
from postforge.services.content import post_media, posts
from postforge.services.kernel.errors import PermissionDenied, ValidationFailed
from tests.support.factories import make_membership, make_user, make_workspace


def _media(session, workspace_id, name, **fields) -> int:
    media = MediaAsset(
        workspace_id=workspace_id,
        storage_key=f"media/{workspace_id}/{name}.jpg",
        filename=f"{name}.jpg",
        mime_type="image/jpeg",
        size_bytes=10,
        kind=MediaKind.IMAGE,
        status=fields.pop("status", MediaStatus.READY),
        **fields,
    )
    session.add(media)
    session.flush()
    return media.id


@pytest.fixture
def world(engine):
    with Session(engine, expire_on_commit=False) as session:
        editor, outsider = make_user(session), make_user(session)
        workspace, other = make_workspace(session, owner=editor), make_workspace(session, owner=outsider)
        make_membership(session, workspace, editor, role=Role.EDITOR)
        make_membership(session, other, outsider, role=Role.ADMIN)
        ids = {name: _media(session, workspace.id, name, alt_text=f"{name} alt") for name in ("a", "b", "c")}
        ids["pending"] = _media(session, workspace.id, "pending", status=MediaStatus.PENDING)
        ids["deleted"] = _media(session, workspace.id, "deleted", deleted_at=utcnow())
        ids["foreign"] = _media(session, other.id, "foreign")
        session.commit()
        return {"editor": editor.id, "outsider": outsider.id, "ws": workspace.id, **ids}


def _attached(session, world, post_id) -> list[str]:
    return [
        item.filename
        for item in post_media.attached_media(
            session, actor_id=world["editor"], workspace_id=world["ws"], post_id=post_id
        )
    ]


def test_media_are_saved_with_the_post_in_order_and_kept_or_replaced(engine, world):
    with Session(engine) as session:
        view = posts.create_post(
            session,
            actor_id=world["editor"],
            workspace_id=world["ws"],
            content="With pictures",
            media_ids=[world["b"], world["a"], world["b"]],  # a repeat counts once
        )
        session.commit()
        assert view.media_count == 2
        assert _attached(session, world, view.id) == ["b.jpg", "a.jpg"]
        view = posts.update_post(
            session,
            actor_id=world["editor"],
            workspace_id=world["ws"],
            post_id=view.id,
            expected_version=view.version,
            content="Edited text only",
        )
        assert _attached(session, world, view.id) == ["b.jpg", "a.jpg"]  # None keeps them
        view = posts.update_post(
            session,
            actor_id=world["editor"],
            workspace_id=world["ws"],
            post_id=view.id,
            expected_version=view.version,
            content="Reordered",
            media_ids=[world["c"], world["a"]],
        )
        session.commit()
        assert _attached(session, world, view.id) == ["c.jpg", "a.jpg"] and view.media_count == 2
        [first, _second] = post_media.attached_media(
            session, actor_id=world["editor"], workspace_id=world["ws"], post_id=view.id
        )
        assert (first.alt_text, first.position) == ("c alt", 0)


@pytest.mark.parametrize("which", ["pending", "deleted", "foreign"])
def test_only_ready_files_of_the_workspace_can_be_attached(engine, world, which):
    with Session(engine) as session:
        with pytest.raises(ValidationFailed, match="not in this workspace's library") as refusal:
            posts.create_post(
                session,
                actor_id=world["editor"],
                workspace_id=world["ws"],
                content="Sneaky",
                media_ids=[world["a"], world[which]],
            )
        assert refusal.value.field == "media_ids"


def test_a_post_shows_at_most_twenty_files(engine, world):
    with Session(engine) as session:
        many = [_media(session, world["ws"], f"m{n}") for n in range(post_media.MAX_MEDIA + 1)]
        with pytest.raises(ValidationFailed, match="at most 20"):
            posts.create_post(
                session,
                actor_id=world["editor"],
                workspace_id=world["ws"],
                content="Too many",
                media_ids=many,
            )


def test_an_outsider_cannot_read_a_posts_media(engine, world):
    with Session(engine) as session:
        view = posts.create_post(
            session,
            actor_id=world["editor"],
            workspace_id=world["ws"],
            content="Mine",
            media_ids=[world["a"]],
        )
        session.commit()
        with pytest.raises(PermissionDenied):
            post_media.attached_media(
                session, actor_id=world["outsider"], workspace_id=world["ws"], post_id=view.id
            )
        assert session.get(Workspace, world["ws"]) is not None

"""Brand profiles: validated, unique per workspace whatever the case, written by editors, read by all."""

import pytest
from sqlmodel import Session

from postforge.models import Post, Role, Workspace
from postforge.services.content import brands
from postforge.services.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.support.factories import make_membership, make_post, make_user, make_workspace


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
        return {
            "ws": workspace.id,
            "editor": editor.id,
            "viewer": viewer.id,
            "other_ws": elsewhere.id,
            "other": other.id,
        }


def create(session, team, **fields):
    values = {"name": "Bean There", "tone_of_voice": "Warm", "target_audience": "Commuters"}
    return brands.create_brand(
        session, actor_id=team["editor"], workspace_id=team["ws"], **{**values, **fields}
    )


def test_create_list_update_delete(engine, team):
    with Session(engine) as session:
        made = create(
            session, team, name="  Bean   There ", sample_posts=["Fresh beans.", "  ", "Slow mornings."]
        )
        session.commit()
    assert made.name == "Bean There" and made.sample_posts == ("Fresh beans.", "Slow mornings.")
    with Session(engine) as session:
        listed = brands.list_brands(session, actor_id=team["viewer"], workspace_id=team["ws"])
        assert [b.name for b in listed] == ["Bean There"]
        changed = brands.update_brand(
            session, actor_id=team["editor"], workspace_id=team["ws"], brand_id=made.id, tone_of_voice="Nerdy"
        )
        session.commit()
    assert (changed.name, changed.tone_of_voice, changed.target_audience) == (
        "Bean There",
        "Nerdy",
        "Commuters",
    )
    with Session(engine) as session:
        brands.delete_brand(session, actor_id=team["editor"], workspace_id=team["ws"], brand_id=made.id)
        session.commit()
        assert brands.list_brands(session, actor_id=team["editor"], workspace_id=team["ws"]) == []


def test_names_are_unique_per_workspace_whatever_the_case(engine, team):
    with Session(engine) as session:
        first = create(session, team)
        session.commit()
        with pytest.raises(Conflict, match="already exists") as refusal:
            create(session, team, name="bean there")
        assert refusal.value.field == "name"
        second = create(session, team, name="Tea Time")
        with pytest.raises(Conflict):
            brands.update_brand(
                session,
                actor_id=team["editor"],
                workspace_id=team["ws"],
                brand_id=second.id,
                name="BEAN THERE",
            )
        # Renaming a brand to its own name in another case is fine.
        brands.update_brand(
            session, actor_id=team["editor"], workspace_id=team["ws"], brand_id=first.id, name="BEAN THERE"
        )
        # Another workspace may use the same name.
        brands.create_brand(session, actor_id=team["other"], workspace_id=team["other_ws"], name="Bean There")
        session.commit()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "n" * 121}, "name"),
        ({"tone_of_voice": "t" * 1001}, "tone_of_voice"),
        ({"target_audience": "a" * 1001}, "target_audience"),
        ({"sample_posts": ["one"] * 6}, "sample_posts"),
        ({"sample_posts": ["s" * 2001]}, "sample_posts"),
        ({"sample_posts": "not a list"}, "sample_posts"),
    ],
)
def test_bad_input_is_refused_with_the_field(engine, team, fields, field):
    with Session(engine) as session, pytest.raises(ValidationFailed) as refusal:
        create(session, team, **fields)
    assert refusal.value.field == field and refusal.value.message


def test_viewers_read_but_do_not_write(engine, team):
    with Session(engine) as session:
        made = create(session, team)
        session.commit()
        viewer = {"actor_id": team["viewer"], "workspace_id": team["ws"]}
        assert brands.get_brand(session, **viewer, brand_id=made.id).name == "Bean There"
        with pytest.raises(PermissionDenied, match="Viewers"):
            brands.create_brand(session, **viewer, name="Mine")
        with pytest.raises(PermissionDenied):
            brands.update_brand(session, **viewer, brand_id=made.id, name="Mine")
        with pytest.raises(PermissionDenied):
            brands.delete_brand(session, **viewer, brand_id=made.id)


def test_a_brand_of_another_workspace_is_not_found_through_mine(engine, team):
    with Session(engine) as session:
        theirs = brands.create_brand(
            session, actor_id=team["other"], workspace_id=team["other_ws"], name="Theirs"
        )
        session.commit()
        mine = {"actor_id": team["editor"], "workspace_id": team["ws"]}
        with pytest.raises(NotFound):
            brands.get_brand(session, **mine, brand_id=theirs.id)
        with pytest.raises(NotFound):
            brands.update_brand(session, **mine, brand_id=theirs.id, name="Stolen")
        with pytest.raises(NotFound):
            brands.delete_brand(session, **mine, brand_id=theirs.id)


def test_deleting_a_brand_keeps_its_posts(engine, team):
    with Session(engine, expire_on_commit=False) as session:
        made = create(session, team)

        post = make_post(session, session.get(Workspace, team["ws"]), brand_id=made.id, content="Keep me")
        session.commit()
        brands.delete_brand(session, actor_id=team["editor"], workspace_id=team["ws"], brand_id=made.id)
        session.commit()
    with Session(engine) as session:
        kept = session.get(Post, post.id)
        assert kept.content == "Keep me" and kept.brand_id is None

"""Per-destination platform options in the posts service: checked when saved, stored on the
destination the worker publishes, kept when an edit does not mention them, copied by duplicate."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlmodel import Session

from postforge.models import Platform, PostDestination, Role, utcnow
from postforge.services.content import posts
from postforge.services.kernel.errors import ValidationFailed
from tests.support.factories import make_membership, make_social_account, make_user, make_workspace


@dataclass
class Team:
    user: int
    workspace: int
    youtube: int
    tiktok: int
    sandbox: int


@pytest.fixture
def team(engine) -> Team:
    with Session(engine) as session:
        user = make_user(session, name="Editor")
        workspace = make_workspace(session, owner=user, name="Team")
        make_membership(session, workspace, user, role=Role.EDITOR)
        youtube = make_social_account(session, workspace, platform=Platform.YOUTUBE, handle="@channel")
        tiktok = make_social_account(session, workspace, platform=Platform.TIKTOK, handle="@creator")
        sandbox = make_social_account(session, workspace, platform=Platform.SANDBOX, handle="@sandbox")
        session.commit()
        return Team(user.id, workspace.id, youtube.id, tiktok.id, sandbox.id)


def draft(session, team, **fields):
    fields.setdefault("content", "Launch day")
    fields.setdefault("account_ids", [team.youtube, team.tiktok])
    return posts.create_post(session, actor_id=team.user, workspace_id=team.workspace, **fields)


def options_of(session, destination_id: int) -> dict:
    return session.get(PostDestination, destination_id).options


def test_options_are_stored_on_each_destination(engine, team):
    with Session(engine) as session:
        view = draft(
            session,
            team,
            options={
                team.youtube: {"privacy_status": "unlisted", "made_for_kids": False},
                team.tiktok: {"privacy_level": "PUBLIC_TO_EVERYONE", "brand_organic_toggle": True},
            },
        )
        session.commit()
        by_account = {d.account_id: d for d in view.destinations}

        assert by_account[team.youtube].options == {"privacy_status": "unlisted", "made_for_kids": False}
        assert options_of(session, by_account[team.tiktok].id) == {
            "privacy_level": "PUBLIC_TO_EVERYONE",
            "brand_organic_toggle": True,
        }


@pytest.mark.parametrize(
    ("which", "options", "message"),
    [
        (
            "youtube",
            {"privacy_status": "friends"},
            "YouTube privacy must be one of private, unlisted, public",
        ),
        ("youtube", {"made_for_kids": "maybe"}, "made-for-kids choice must be yes or no"),
        ("tiktok", {"brand_content_toggle": True}, "branded content to be private"),
        ("tiktok", {"privacy_level": "EVERYONE"}, "TikTok privacy must be one of"),
        ("tiktok", {"colour": "red"}, "Unknown option 'colour'"),
        ("sandbox", {"privacy_status": "public"}, "Sandbox posts have no options"),
    ],
)
def test_an_option_the_platform_would_refuse_is_refused_naming_the_account(
    engine, team, which, options, message
):
    account_id = getattr(team, which)
    with Session(engine) as session, pytest.raises(ValidationFailed, match=message) as refusal:
        draft(session, team, account_ids=[account_id], options={account_id: options})
    assert refusal.value.field == f"options-{account_id}"


def test_an_edit_without_options_keeps_them_and_one_with_options_replaces_them(engine, team):
    with Session(engine) as session:
        view = draft(session, team, options={team.youtube: {"privacy_status": "public"}})
        session.commit()
        edit = {
            "actor_id": team.user,
            "workspace_id": team.workspace,
            "post_id": view.id,
            "content": "Launch day, edited",
            "account_ids": [team.youtube, team.tiktok],
        }
        kept = posts.update_post(session, expected_version=view.version, **edit)
        session.commit()
        assert {d.account_id: d.options for d in kept.destinations}[team.youtube] == {
            "privacy_status": "public"
        }

        replaced = posts.update_post(session, expected_version=kept.version, options={}, **edit)
        session.commit()
        assert all(d.options == {} for d in replaced.destinations)


def test_a_duplicate_keeps_the_options(engine, team):
    with Session(engine) as session:
        view = draft(session, team, options={team.youtube: {"privacy_status": "unlisted"}})
        session.commit()
        copy = posts.duplicate_post(session, actor_id=team.user, workspace_id=team.workspace, post_id=view.id)
        session.commit()
        assert {d.account_id: d.options for d in copy.destinations}[team.youtube] == {
            "privacy_status": "unlisted"
        }


def test_a_text_only_post_cannot_be_scheduled_to_youtube(engine, team):
    with Session(engine) as session, pytest.raises(ValidationFailed, match="YouTube posts are videos"):
        draft(session, team, account_ids=[team.youtube], scheduled_at=utcnow() + timedelta(hours=2))

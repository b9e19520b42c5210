"""The post editor's YouTube and TikTok options through its Reflex state (no browser): safe
defaults shown, choices saved on the destinations, loaded back when editing, and a combination
TikTok refuses shown next to the account without losing anything typed."""

from collections.abc import Iterator

import pytest
import reflex as rx
from sqlmodel import Session, select

from postforge.db import get_engine
from postforge.models import Platform, PostDestination, Role
from postforge.services.identity import accounts_auth
from postforge.settings import get_settings
from postforge.state.post_editor import PostEditorState
from postforge.state.shell import ShellState
from tests.support.factories import make_membership, make_social_account, make_user, make_workspace


@pytest.fixture
def world(sqlite_url: str, sqlite_engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    with Session(get_engine()) as session:
        alice = make_user(session, name="Alice", timezone="UTC")
        space = make_workspace(session, name="A")
        make_membership(session, space, alice, role=Role.ADMIN)
        youtube = make_social_account(session, space, platform=Platform.YOUTUBE, handle="@channel")
        tiktok = make_social_account(session, space, platform=Platform.TIKTOK, handle="@creator")
        token = accounts_auth.create_session(session, alice, workspace_id=space.id)
        session.commit()
        yield {"token": token, "youtube": youtube.id, "tiktok": tiktok.id}
    get_settings.cache_clear()
    get_engine.cache_clear()


async def _editor(token: str) -> PostEditorState:
    root = rx.State()
    shell = await root.get_state(ShellState)
    shell.session_token = token
    await shell.load_shell()
    return await root.get_state(PostEditorState)


def _options(destination_account: int) -> dict:
    with Session(get_engine()) as session:
        row = session.exec(
            select(PostDestination).where(PostDestination.social_account_id == destination_account)
        ).one()
        return row.options


async def test_options_default_safely_save_and_load_back(world) -> None:
    editor = await _editor(world["token"])
    await editor.open_new("")
    await editor.set_content("Launch day")
    await editor.toggle_account(world["youtube"], True)
    await editor.toggle_account(world["tiktok"], True)
    previews = {p.platform: p for p in editor.previews}
    assert (previews["youtube"].privacy, previews["youtube"].made_for_kids) == ("private", "default")
    assert previews["tiktok"].privacy == "SELF_ONLY" and not previews["tiktok"].brand_organic

    editor.set_option(world["youtube"], "privacy", "unlisted")
    editor.set_option(world["youtube"], "made_for_kids", "no")
    editor.set_option(world["tiktok"], "privacy", "PUBLIC_TO_EVERYONE")
    editor.set_option(world["tiktok"], "brand_organic", True)
    await editor.save("draft")

    assert not editor.is_open
    assert _options(world["youtube"]) == {"privacy_status": "unlisted", "made_for_kids": False}
    assert _options(world["tiktok"]) == {"privacy_level": "PUBLIC_TO_EVERYONE", "brand_organic_toggle": True}

    with Session(get_engine()) as session:
        post_id = session.exec(select(PostDestination)).first().post_id
    await editor.open_edit(post_id)
    previews = {p.platform: p for p in editor.previews}
    assert (previews["youtube"].privacy, previews["youtube"].made_for_kids) == ("unlisted", "no")
    assert previews["tiktok"].brand_organic and previews["tiktok"].privacy == "PUBLIC_TO_EVERYONE"


async def test_private_branded_content_is_refused_next_to_the_account(world) -> None:
    editor = await _editor(world["token"])
    await editor.open_new("")
    await editor.set_content("Sponsored")
    await editor.toggle_account(world["tiktok"], True)
    editor.set_option(world["tiktok"], "brand_content", True)

    await editor.save("draft")

    assert editor.is_open
    assert "branded content to be private" in editor.previews[0].options_error
    assert (
        editor.content == "Sponsored" and editor.option_values[str(world["tiktok"])]["brand_content"] == "yes"
    )

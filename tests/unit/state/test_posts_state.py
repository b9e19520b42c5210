"""The posts page, the editor and CSV import through their Reflex states (no browser).

What a browser sends is client-controlled, so these also check that a post of another workspace
cannot be opened or changed through the editor, and that a refusal keeps everything typed.
"""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import reflex as rx
from sqlmodel import Session, select

from postforge.db import get_engine
from postforge.models import Platform, Post, Role
from postforge.platforms import rules
from postforge.services.content import posts
from postforge.services.identity import accounts_auth
from postforge.state.post_editor import PostEditorState
from postforge.state.post_import import ImportState
from postforge.state.posts import PostsState
from postforge.state.shell import ShellState
from tests.support.factories import make_membership, make_social_account, make_user, make_workspace

ZONE = "Europe/Berlin"


@pytest.fixture
def world(app_database):
    with Session(get_engine()) as session:
        alice = make_user(session, name="Alice", timezone=ZONE)
        victor = make_user(session, name="Victor", timezone=ZONE)
        bob = make_user(session, name="Bob")
        space_a, space_b = make_workspace(session, name="A"), make_workspace(session, name="B")
        make_membership(session, space_a, alice, role=Role.ADMIN)
        make_membership(session, space_a, victor, role=Role.VIEWER)
        make_membership(session, space_b, bob, role=Role.ADMIN)
        sandbox = make_social_account(session, space_a, platform=Platform.SANDBOX, handle="@demo")
        x = make_social_account(session, space_a, platform=Platform.X, handle="@brand")
        b_account = make_social_account(session, space_b, handle="@bob")
        secret = posts.create_post(
            session,
            actor_id=bob.id,
            workspace_id=space_b.id,
            content="Bob's secret",
            account_ids=[b_account.id],
        )
        tokens = {
            "Alice": accounts_auth.create_session(session, alice, workspace_id=space_a.id),
            "Victor": accounts_auth.create_session(session, victor, workspace_id=space_a.id),
        }
        session.commit()
        return {
            "tokens": tokens,
            "alice": alice.id,
            "A": space_a.id,
            "sandbox": sandbox.id,
            "x": x.id,
            "secret": secret.id,
        }


async def _root(token: str) -> rx.State:
    root = rx.State()
    shell = await root.get_state(ShellState)
    shell.session_token = token
    await shell.load_shell()
    return root


def _local(days: int = 2, at: str = "09:30") -> str:
    return f"{(datetime.now(ZoneInfo(ZONE)) + timedelta(days=days)).date()}T{at}"


async def test_the_editor_counts_live_and_schedules(world) -> None:
    root = await _root(world["tokens"]["Alice"])
    editor = await root.get_state(PostEditorState)
    await editor.open_new(_local())
    assert editor.is_open and editor.timezone == ZONE and editor.schedule_local == _local()
    assert {a.handle for a in editor.accounts} == {"@demo", "@brand"}

    await editor.set_content("日本語 https://example.com/a-long-path")
    await editor.toggle_account(world["x"], True)
    await editor.toggle_account(world["sandbox"], True)
    previews = {p.platform: p for p in editor.previews}
    assert (previews["x"].count, previews["x"].max_chars, previews["x"].over) == (6 + 1 + 23, 280, False)
    assert previews["sandbox"].count == 4 + 31  # graphemes, the URL in full

    await editor.set_override(world["x"], "a" * 281)
    assert editor.previews[0].over or editor.previews[1].over
    over = next(p for p in editor.previews if p.platform == "x")
    assert over.over and "281 of 280" in over.problems

    await editor.save("schedule")
    assert editor.is_open, "a refusal keeps the dialog open"
    assert "Too long for X" in editor.errors[f"override-{world['x']}"]
    assert editor.content.startswith("日本語")  # nothing typed is lost

    await editor.set_override(world["x"], "Short for X")
    await editor.save("schedule")
    assert not editor.is_open
    with Session(get_engine()) as session:
        post = session.exec(select(Post)).all()[-1]
        assert str(post.status) == "scheduled"
        assert post.timezone == ZONE


async def test_a_long_text_is_counted_off_the_event_loop(world, monkeypatch) -> None:
    """Counting a pasted text near the cap takes tens of milliseconds per platform: the keystroke
    handler hands it to a worker thread instead of stalling every user on the event loop."""
    root = await _root(world["tokens"]["Alice"])
    editor = await root.get_state(PostEditorState)
    await editor.open_new(_local())
    counted_on = []
    check_text = rules.check_text

    def spy(*args, **kwargs):
        counted_on.append(threading.current_thread() is threading.main_thread())
        return check_text(*args, **kwargs)

    monkeypatch.setattr(rules, "check_text", spy)
    await editor.toggle_account(world["x"], True)
    await editor.toggle_account(world["sandbox"], True)
    counted_on.clear()
    await editor.set_content("a." * 40_000)
    assert counted_on and not any(counted_on), "a long text was counted on the event loop"
    x = next(p for p in editor.previews if p.platform == "x")
    assert x.count == 80_000 and x.over and "Too long to post anywhere" in x.problems
    counted_on.clear()
    await editor.set_content("Short and sweet")
    assert counted_on == [True, True]  # a real post is counted inline: cheaper than a thread hop
    assert {p.count for p in editor.previews} == {15}


async def test_a_past_or_skipped_time_is_shown_next_to_the_field(world) -> None:
    root = await _root(world["tokens"]["Alice"])
    editor = await root.get_state(PostEditorState)
    await editor.open_new(_local(days=-1))
    await editor.set_content("Too late")
    await editor.toggle_account(world["sandbox"], True)
    await editor.save("schedule")
    assert "has already passed" in editor.schedule_error
    assert editor.content == "Too late" and editor.is_open
    editor.set_schedule_local("")
    await editor.save("schedule")
    assert editor.schedule_error == "Choose a date and time to schedule this post."
    await editor.save("draft")
    assert not editor.is_open


async def test_a_stale_save_asks_and_overwrite_or_reload_both_work(world) -> None:
    root = await _root(world["tokens"]["Alice"])
    editor = await root.get_state(PostEditorState)
    with Session(get_engine()) as session:
        post = posts.create_post(session, actor_id=world["alice"], workspace_id=world["A"], content="v1")
        session.commit()
    await editor.open_edit(post.id)
    assert (editor.content, editor.version) == ("v1", 1)
    with Session(get_engine()) as session:  # someone else saves meanwhile
        posts.update_post(
            session,
            actor_id=world["alice"],
            workspace_id=world["A"],
            post_id=post.id,
            expected_version=1,
            content="theirs",
        )
        session.commit()

    await editor.set_content("mine")
    await editor.save("draft")
    assert editor.conflict_open and editor.is_open and editor.content == "mine"

    await editor.reload_latest()
    assert (editor.content, editor.version, editor.conflict_open) == ("theirs", 2, False)

    with Session(get_engine()) as session:
        posts.update_post(
            session,
            actor_id=world["alice"],
            workspace_id=world["A"],
            post_id=post.id,
            expected_version=2,
            content="theirs again",
        )
        session.commit()
    await editor.set_content("mine after all")
    await editor.save("draft")
    assert editor.conflict_open
    await editor.overwrite()
    assert not editor.is_open
    with Session(get_engine()) as session:
        assert session.get(Post, post.id).content == "mine after all"


async def test_another_workspaces_post_cannot_be_opened_or_saved(world) -> None:
    root = await _root(world["tokens"]["Alice"])
    editor = await root.get_state(PostEditorState)
    await editor.open_edit(world["secret"])
    assert not editor.is_open and editor.content == ""
    # A tampered client sends the foreign id straight to save.
    await editor.open_new()
    editor.post_id, editor.version = world["secret"], 1
    await editor.set_content("Hijacked")
    await editor.save("draft")
    assert editor.form_error
    with Session(get_engine()) as session:
        assert session.get(Post, world["secret"]).content == "Bob's secret"


async def test_a_viewer_cannot_open_the_editor_or_change_posts(world) -> None:
    root = await _root(world["tokens"]["Victor"])
    editor = await root.get_state(PostEditorState)
    await editor.open_new()
    assert not editor.is_open
    await editor.set_content("Viewer's post")
    await editor.save("draft")
    assert "Viewers" in editor.form_error
    page = await root.get_state(PostsState)
    await page.load()
    with Session(get_engine()) as session:
        assert session.exec(select(Post).where(Post.workspace_id == world["A"])).all() == []


async def test_the_posts_page_filters_pages_and_deletes_after_confirmation(world) -> None:
    with Session(get_engine()) as session:
        for i in range(30):
            posts.create_post(
                session,
                actor_id=world["alice"],
                workspace_id=world["A"],
                content=f"Note {i}",
                account_ids=[world["sandbox"]],
            )
        posts.create_post(session, actor_id=world["alice"], workspace_id=world["A"], content="Launch plan")
        session.commit()
    root = await _root(world["tokens"]["Alice"])
    page = await root.get_state(PostsState)
    await page.load()
    assert (page.total, len(page.rows), page.range_text) == (31, 25, "1\u201325 of 31")
    await page.next_page()
    assert len(page.rows) == 6 and not page.has_next
    await page.set_query("launch")
    assert [r.content for r in page.rows] == ["Launch plan"] and page.page == 0
    assert page.filters_active
    await page.set_query("nothing like this")
    assert page.total == 0 and page.filters_active  # the page shows "no posts match" + clear filters
    await page.clear_filters()
    assert page.total == 31 and not page.filters_active

    await page.set_platform_filter("sandbox")
    assert page.total == 30
    await page.clear_filters()

    target = page.rows[0].id
    page.ask_delete(target)
    assert page.confirm_open and "Delete this post?" in page.confirm_text
    page.set_confirm_open(False)  # "Keep"
    assert not page.confirm_open
    page.toggle_page(True)
    assert page.selected_count == 25
    page.ask_bulk_delete()
    await page.confirm_delete()
    assert page.total == 6 and page.selected_count == 0


async def test_csv_import_reports_then_imports_the_valid_rows(world) -> None:
    root = await _root(world["tokens"]["Alice"])
    state = await root.get_state(ImportState)
    await state.load()
    data = (
        "content,local_datetime,accounts\n"
        f"First,{_local().replace('T', ' ')},@demo\n"
        f"Second,{_local().replace('T', ' ')},@nobody\n"
    ).encode()

    class Upload:
        filename = "week.csv"

        async def read(self, size: int = -1) -> bytes:
            return data

    await state.handle_upload([Upload()])
    assert (state.valid_count, state.error_count) == (1, 1)
    assert [r.ok for r in state.rows] == [True, False]
    assert "Unknown account @nobody" in state.rows[1].messages
    state.ask_import()
    assert state.confirm_open and "Create 1 post from week.csv" in state.confirm_text
    await state.confirm_import()
    with Session(get_engine()) as session:
        assert [
            p.content for p in session.exec(select(Post).where(Post.workspace_id == world["A"])).all()
        ] == ["First"]


async def test_csv_import_explains_an_unreadable_file(world) -> None:
    root = await _root(world["tokens"]["Alice"])
    state = await root.get_state(ImportState)
    await state.load()

    class Upload:
        filename = "latin1.csv"

        async def read(self, size: int = -1) -> bytes:
            return "content,local_datetime,accounts\nCaf\xe9,,@demo\n".encode("latin-1")

    await state.handle_upload([Upload()])
    assert "not UTF-8" in state.file_error and state.rows == []


def test_the_dialog_names_the_pages_on_saved_handler_and_the_state_finds_it() -> None:
    from postforge.components.post_editor import _handler_path
    from postforge.state.post_editor import _saved_event

    path = _handler_path(PostsState.reload)
    assert path.endswith(".reload")
    assert _saved_event(path) is PostsState.event_handlers["reload"]
    assert _saved_event("") is None
    assert _saved_event("no.such.state.reload") is None


async def test_the_editor_attaches_reorders_removes_and_describes_library_media(world) -> None:
    from postforge.models import MediaAsset, MediaStatus, PostMedia

    with Session(get_engine()) as session:
        ids = []
        for name in ("first", "second", "third"):
            media = MediaAsset(
                workspace_id=world["A"],
                storage_key=f"media/{world['A']}/{name}.jpg",
                filename=f"{name}.jpg",
                mime_type="image/jpeg",
                size_bytes=10,
                status=MediaStatus.READY,
            )
            session.add(media)
            session.flush()
            ids.append(media.id)
        session.commit()
    root = await _root(world["tokens"]["Alice"])
    editor = await root.get_state(PostEditorState)
    await editor.open_new()
    await editor.set_content("With photos")
    await editor.open_picker()
    assert editor.picker_open and {item.id for item in editor.library_media} == set(ids)
    for media_id in ids:
        editor.attach_media(media_id)
    editor.attach_media(999_999)  # not offered by the picker: ignored
    editor.move_media(ids[2], -2)
    editor.detach_media(ids[1])
    assert [item.id for item in editor.media] == [ids[2], ids[0]]
    editor.set_media_alt(ids[2], "A lighthouse at dusk")
    await editor.save_media_alt(ids[2])
    await editor.save("draft")
    assert not editor.is_open
    with Session(get_engine()) as session:
        post = session.exec(select(Post)).all()[-1]
        links = session.exec(
            select(PostMedia).where(PostMedia.post_id == post.id).order_by(PostMedia.position)
        ).all()
        assert [link.media_id for link in links] == [ids[2], ids[0]]
        assert session.get(MediaAsset, ids[2]).alt_text == "A lighthouse at dusk"
    # Opened again, the post shows its media; a save that did not touch them keeps them.
    await editor.open_edit(post.id)
    assert [item.id for item in editor.media] == [ids[2], ids[0]]
    await editor.set_content("Edited text")
    await editor.save("draft")
    with Session(get_engine()) as session:
        assert len(session.exec(select(PostMedia).where(PostMedia.post_id == post.id)).all()) == 2

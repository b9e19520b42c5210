"""The generate, brands and credits states: thin, but they must page, refuse and keep what was typed."""

import threading
from collections.abc import Iterator

import pytest
import reflex as rx
from sqlmodel import Session, select

from postforge.db import get_engine
from postforge.models import Brand, Post, Role, TransactionType, Workspace
from postforge.services import accounts_auth, credits, generation
from postforge.settings import get_settings
from postforge.state.brands import BrandsState
from postforge.state.credits import PAGE_SIZE, CreditsState
from postforge.state.generate import GenerateState
from postforge.state.shell import ShellState
from tests.support.factories import make_membership, make_user, make_workspace


@pytest.fixture
def app_database(sqlite_url: str, sqlite_engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the app's own engine (what the states use) at a migrated temporary database."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "")
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.fixture
def world(app_database: str):
    """Ed edits workspace A (30 ledger rows), Vi views it."""
    with Session(get_engine()) as session:
        ed, vi = make_user(session, name="Ed"), make_user(session, name="Vi")
        space = make_workspace(session, name="A")
        make_membership(session, space, ed, role=Role.EDITOR)
        make_membership(session, space, vi, role=Role.VIEWER)
        for number in range(30):
            credits.grant(
                session,
                space.id,
                amount=1,
                type=TransactionType.BONUS if number % 3 else TransactionType.PURCHASE,
                description=f"Grant {number}",
                idempotency_key=f"grant-{number}",
            )
        tokens = {u.name: accounts_auth.create_session(session, u, workspace_id=space.id) for u in (ed, vi)}
        session.commit()
        return {"ws": space.id, "tokens": tokens}


async def signed_in(token: str, state_class):
    root = rx.State()
    shell = await root.get_state(ShellState)
    shell.session_token = token
    await shell.load_shell()
    return shell, await root.get_state(state_class)


async def test_the_credits_history_pages_and_filters_on_the_server(world) -> None:
    _, page = await signed_in(world["tokens"]["Ed"], CreditsState)
    await page.load()
    assert (page.total, page.page_count, len(page.entries)) == (30, 2, PAGE_SIZE)
    assert page.entries[0].description == "Grant 29" and page.entries[0].balance_after == 30
    assert page.entries[0].amount == "+1" and page.entries[0].positive
    await page.next_page()
    assert (page.page, len(page.entries), page.has_next, page.has_previous) == (2, 5, False, True)
    await page.set_type_filter("purchase")
    assert (page.page, page.total) == (1, 10)
    assert {entry.type for entry in page.entries} == {"purchase"}
    await page.set_type_filter("nonsense")
    assert (page.type_filter, page.total) == ("all", 30)


async def test_a_viewer_cannot_create_a_brand_and_the_form_is_kept(world) -> None:
    _, brands_page = await signed_in(world["tokens"]["Vi"], BrandsState)
    brands_page.open_new()
    brands_page.set_name("Sneaky")
    brands_page.set_tone_of_voice("Typed with care")
    await brands_page.save()
    assert "Viewers" in brands_page.error and brands_page.dialog_open
    assert (brands_page.name, brands_page.tone_of_voice) == ("Sneaky", "Typed with care")
    with Session(get_engine()) as session:
        assert session.exec(select(Brand)).all() == []


async def test_an_editor_creates_and_a_duplicate_is_refused_in_place(world) -> None:
    _, brands_page = await signed_in(world["tokens"]["Ed"], BrandsState)
    brands_page.open_new()
    brands_page.set_name("Bean There")
    brands_page.set_sample(0, "Fresh beans, fresh start.")
    brands_page.add_sample()  # an empty one is dropped, not saved
    await brands_page.save()
    assert not brands_page.dialog_open and [b.name for b in brands_page.brands] == ["Bean There"]
    assert brands_page.brands[0].sample_count == 1
    brands_page.open_new()
    brands_page.set_name("bean there")
    await brands_page.save()
    assert brands_page.error_field == "name" and brands_page.dialog_open


async def test_generate_asks_before_spending_again_and_refuses_an_empty_topic(world) -> None:
    shell, generate = await signed_in(world["tokens"]["Ed"], GenerateState)
    await generate.load()
    assert {option.value for option in generate.platform_options} >= {"sandbox", "x", "linkedin"}
    assert generate.brand_options[0].value == "none"

    generate.set_topic("   ")
    await generate.generate()
    assert generate.error and not generate.generating

    generate.set_topic("Launch day")
    started = await generate.generate()
    assert generate.generating and started is not None  # the background run was started
    assert await generate.generate() is None  # a double click starts nothing more

    generate.generating, generate.has_result = False, True
    await generate.generate()
    assert generate.confirm_open  # a result on screen: ask before spending another credit
    assert shell.credits == 30  # nothing was spent by these handlers


async def test_saving_a_result_creates_a_draft_with_its_details(world) -> None:
    _, generate = await signed_in(world["tokens"]["Ed"], GenerateState)
    await generate.load()
    generate.preview, generate.hashtags = "Launch day is here.", ["#Launch", "#Day", "#Now"]
    generate.best_time, generate.best_time_reason = "Tuesday 09:30", "Mornings work."
    generate.has_result, generate.sample = True, True
    generate.result_platform, generate.result_tone, generate.result_language = "sandbox", "Urgent", "en"
    generate._result_workspace_id = world["ws"]
    await generate.set_include_hashtags(True)
    assert generate.char_count == len("Launch day is here.\n\n#Launch #Day #Now")
    await generate.remove_hashtag("#Now")
    await generate.save_draft()
    assert not generate.has_result and generate.preview == ""
    with Session(get_engine()) as session:
        [post] = session.exec(select(Post)).all()
        assert post.workspace_id == world["ws"] and str(post.status) == "draft"
        assert post.content == "Launch day is here.\n\n#Launch #Day"
        assert post.meta["sample"] is True and post.meta["tone"] == "Urgent"
        assert session.get(Workspace, world["ws"]).credits == 30


async def test_a_long_edit_of_the_preview_is_counted_off_the_event_loop(world, monkeypatch) -> None:
    _, generate = await signed_in(world["tokens"]["Ed"], GenerateState)
    await generate.load()
    generate.preview, generate.has_result, generate.result_platform = "Launch day.", True, "x"
    counted_on = []
    count_text = generation.count_text

    def spy(*args):
        counted_on.append(threading.current_thread() is threading.main_thread())
        return count_text(*args)

    monkeypatch.setattr(generation, "count_text", spy)
    await generate.set_preview("https://example.com/" + "a." * 40_000)
    assert counted_on == [False], "a long text was counted on the event loop"
    assert (generate.char_count, generate.char_limit) == (80_020, 280)  # past the cap: its length
    await generate.set_preview("Launch day is here.")
    assert counted_on == [False, True] and generate.char_count == len("Launch day is here.")

"""The generate, brands and credits states: thin, but they must page, refuse and keep what was typed."""

import json
import re
import threading
from collections.abc import Iterator

import pytest
import reflex as rx
from sqlmodel import Session, select

from postforge.ai.anthropic_provider import AnthropicGenerator
from postforge.db import get_engine
from postforge.models import Brand, Post, Role, TransactionType, Workspace
from postforge.services.identity import accounts_auth
from postforge.services.ledger import credits
from postforge.services.writing import generation
from postforge.settings import load_settings
from postforge.state import generate as generate_module
from postforge.state.brands import BrandsState
from postforge.state.credits import PAGE_SIZE, CreditsState
from postforge.state.generate import GenerateState
from postforge.state.shell import ShellState
from tests.fakes.anthropic_api import ErrorReply, FakeAnthropic, Reply, valid_post
from tests.fakes.server import serve
from tests.support.factories import make_membership, make_user, make_workspace


@pytest.fixture
def app_env() -> dict[str, str]:
    return {
        "ANTHROPIC_API_KEY": "",
    }


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


# --- What the page shows after each kind of answer (text delivered = credit kept) -----------------


@pytest.fixture(scope="module")
def claude_server() -> Iterator[tuple[FakeAnthropic, str]]:
    fake = FakeAnthropic()
    with serve(fake.app) as url:
        yield fake, url


@pytest.fixture
def claude(claude_server, monkeypatch) -> FakeAnthropic:
    """The page's generator is Claude, talking to the fake Messages API."""
    fake, url = claude_server
    settings = load_settings(
        anthropic_api_key="sk-test", anthropic_base_url=url, anthropic_timeout_seconds=1.5
    )
    monkeypatch.setattr(generate_module, "get_generator", lambda: AnthropicGenerator(settings))
    return fake


def toast(event) -> tuple[str, str]:
    """(kind, message) of an `rx.toast.<kind>(message)` event."""
    call = re.search(r'__toast\'\]\?\.\["(\w+)"\]\((".*")\)\)\)$', str(event.args[0][1]))
    assert call, event
    return call.group(1), json.loads(call.group(2))


async def generate_on_page(generate: GenerateState) -> list:
    """Press Generate and run the page's background generation to its end (as the app would)."""
    assert await generate.generate() is not None
    run_generation = GenerateState.event_handlers["run_generation"].fn
    return [event async for event in run_generation(generate)]


SHOWN_NOTHING = {
    "rate limited": ErrorReply(429, "rate_limit_error", headers={"retry-after": "20"}),
    "stream broken before any text": Reply(error_after_deltas=1),
    "empty answer": Reply(tool_input={**valid_post(), "content": "  "}),
}


@pytest.mark.parametrize("case", list(SHOWN_NOTHING))
async def test_no_usable_text_refunds_and_the_preview_shows_nothing_of_it(world, claude, case) -> None:
    shell, generate = await signed_in(world["tokens"]["Ed"], GenerateState)
    await generate.load()
    generate.set_topic("Launch day")
    claude.script(SHOWN_NOTHING[case])
    events = await generate_on_page(generate)
    assert (generate.preview, generate.has_result, generate.generating, generate.warning) == (
        "",
        False,
        False,
        "",
    )
    assert generate.error.endswith("Your credit was refunded.") and shell.credits == 30
    assert toast(events[-1]) == ("error", generate.error)


async def test_a_failed_regeneration_puts_the_earlier_post_back(world, claude) -> None:
    shell, generate = await signed_in(world["tokens"]["Ed"], GenerateState)
    await generate.load()
    generate.set_topic("Launch day")
    await generate_on_page(generate)  # a first post, paid for
    earlier = (generate.preview, generate.hashtags, generate.best_time)
    assert generate.has_result and shell.credits == 29
    claude.script(Reply(error_after_deltas=1))
    assert await generate.generate() is None and generate.confirm_open  # asks before spending again
    assert await generate.regenerate() is not None
    events = [event async for event in GenerateState.event_handlers["run_generation"].fn(generate)]
    assert (generate.preview, generate.hashtags, generate.best_time) == earlier and generate.has_result
    assert "refunded" in generate.error and shell.credits == 29
    assert toast(events[-1]) == ("error", generate.error)


SHOWN_WITH_A_WARNING = {
    "stream broken after some text": (
        Reply(error_after_deltas=4),
        "Big news about",
        "stopped before finishing",
    ),
    "over the platform's limit": (
        Reply(tool_input={**valid_post(), "content": "word " * 120}),
        ("word " * 120).strip(),
        "over Sandbox's limit of 500",
    ),
    "cut off by max tokens": (
        Reply(stop_reason="max_tokens"),
        valid_post("Launch day")["content"],
        "ran out of room",
    ),
}


@pytest.mark.parametrize("case", list(SHOWN_WITH_A_WARNING))
async def test_text_that_arrived_stays_editable_with_a_warning_and_costs_the_credit(
    world, claude, case
) -> None:
    reply, shown, wording = SHOWN_WITH_A_WARNING[case]
    shell, generate = await signed_in(world["tokens"]["Ed"], GenerateState)
    await generate.load()
    generate.set_topic("Launch day")
    claude.script(reply)
    events = await generate_on_page(generate)
    assert (generate.preview, generate.has_result, generate.generating, generate.error) == (
        shown,
        True,
        False,
        "",
    )
    assert wording in generate.warning and "credit was used" in generate.warning
    assert generate.can_save and shell.credits == 29
    assert toast(events[-1]) == ("warning", generate.warning)
    await generate.save_draft()  # the person keeps what they paid for
    with Session(get_engine()) as session:
        [post] = session.exec(select(Post)).all()
        assert post.content.startswith(shown)
    assert generate.warning == "" and not generate.has_result


async def test_a_good_answer_shows_no_warning(world, claude) -> None:
    shell, generate = await signed_in(world["tokens"]["Ed"], GenerateState)
    await generate.load()
    generate.set_topic("Launch day")
    events = await generate_on_page(generate)
    assert generate.preview == valid_post("Launch day")["content"] and generate.warning == ""
    assert toast(events[-1]) == ("success", "Post written. Edit it, then save it as a draft or schedule it.")
    assert shell.credits == 29

"""The generation flow: reserve one credit, stream the provider, keep or refund the credit, save the draft.

Claude is the real SDK talking to the local fake of the Messages API; every case checks the
ledger (and the invariant) and what was saved afterwards.
"""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from postforge.ai.anthropic_provider import AnthropicGenerator
from postforge.ai.base import Progress
from postforge.ai.offline import OfflineGenerator
from postforge.models import CreditTransaction, Post, Role, TransactionType, Workspace
from postforge.services.content import brands
from postforge.services.kernel.errors import (
    Conflict,
    InsufficientCredits,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from postforge.services.ledger import credits
from postforge.services.operations import housekeeping
from postforge.services.writing import generation
from postforge.settings import load_settings
from tests.fakes.anthropic_api import ErrorReply, FakeAnthropic, Reply, valid_post
from tests.fakes.server import serve
from tests.support.factories import make_membership, make_social_account, make_user, make_workspace


@pytest.fixture(scope="module")
def fake_server() -> Iterator[tuple[FakeAnthropic, str]]:
    fake = FakeAnthropic()
    with serve(fake.app) as url:
        yield fake, url


@pytest.fixture
def fake(fake_server) -> FakeAnthropic:
    fake, _ = fake_server
    fake.requests.clear()
    return fake


@pytest.fixture
def claude(fake_server) -> AnthropicGenerator:
    _, url = fake_server
    settings = load_settings(
        anthropic_api_key="sk-test", anthropic_base_url=url, anthropic_timeout_seconds=1.5
    )
    return AnthropicGenerator(settings)


@pytest.fixture
def team(engine):
    """A workspace with 3 credits from the ledger, an editor and a viewer; another workspace beside it."""
    with Session(engine, expire_on_commit=False) as session:
        editor, viewer, stranger = make_user(session), make_user(session), make_user(session)
        workspace = make_workspace(session, owner=editor)
        other = make_workspace(session, owner=stranger)
        make_membership(session, workspace, editor, role=Role.EDITOR)
        make_membership(session, workspace, viewer, role=Role.VIEWER)
        make_membership(session, other, stranger, role=Role.ADMIN)
        credits.grant(
            session,
            workspace.id,
            amount=3,
            type=TransactionType.PURCHASE,
            description="Starter pack",
            idempotency_key=f"grant-{workspace.id}",
        )
        session.commit()
        return {
            "ws": workspace.id,
            "editor": editor.id,
            "viewer": viewer.id,
            "other_ws": other.id,
            "stranger": stranger.id,
        }


INPUTS = {"topic": "our spring launch", "tone": "Witty", "language": "en", "platform": "mastodon"}


def begin(engine, team, request_id="request-0001", actor="editor", **inputs) -> generation.GenerationTicket:
    with Session(engine) as session:
        ticket = generation.start(
            session,
            actor_id=team[actor],
            workspace_id=team["ws"],
            request_id=request_id,
            **{**INPUTS, **inputs},
        )
        session.commit()
        return ticket


async def drain(ticket, generator, engine) -> tuple[list[str], generation.GenerationDone]:
    texts, done = [], None
    async for event in generation.run(ticket, generator, engine=engine):
        if isinstance(event, generation.GenerationDone):
            done = event
        else:
            texts.append(event.text)
    return texts, done


def ledger(engine, workspace_id) -> tuple[list[tuple[str, int, int, str]], int]:
    with Session(engine) as session:
        rows = session.exec(
            select(CreditTransaction)
            .where(CreditTransaction.workspace_id == workspace_id)
            .order_by(CreditTransaction.id)
        ).all()
        assert credits.check_invariant(session, workspace_id).ok
        balance = session.get(Workspace, workspace_id).credits
        return [
            (str(r.type), r.amount, r.balance_after, (r.meta or {}).get("state", "")) for r in rows
        ], balance


def saved_posts(engine, workspace_id) -> list[Post]:
    with Session(engine) as session:
        return list(session.exec(select(Post).where(Post.workspace_id == workspace_id)).all())


async def test_a_streamed_generation_spends_one_credit_and_the_draft_keeps_its_details(
    engine, team, claude, fake
):
    ticket = begin(engine, team)
    assert ticket.balance == 2  # the header can show the drop before the text arrives
    fake.script(Reply(chunk_size=6))
    texts, done = await drain(ticket, claude, engine)
    assert len(texts) > 3 and texts[-1] == done.post.content
    assert done.post.content == valid_post("our spring launch")["content"] and not done.post.sample
    assert ledger(engine, team["ws"]) == (
        [("purchase", 3, 3, ""), ("generation", -1, 2, "committed")],
        2,
    )

    edited = done.post.content + " Edited by hand."
    with Session(engine) as session:
        view = generation.save_generated(
            session,
            actor_id=team["editor"],
            workspace_id=team["ws"],
            content=generation.compose_text(edited, done.post.hashtags),
            hashtags=done.post.hashtags,
            best_time=done.post.best_time,
            best_time_reason=done.post.best_time_reason,
            tone="Witty",
            language="en",
            platform="mastodon",
            sample=done.post.sample,
        )
        session.commit()
    [post] = saved_posts(engine, team["ws"])
    assert post.id == view.id and str(post.status) == "draft" and post.scheduled_at is None
    assert post.content == f"{edited}\n\n#Launch #Product #News #Today"
    assert post.meta == {
        "hashtags": ["#Launch", "#Product", "#News", "#Today"],
        "best_time": "Tuesday 09:30",
        "best_time_reason": "Your audience checks the news before work.",
        "tone": "Witty",
        "language": "en",
        "platform": "mastodon",
        "ai_generated": True,
        "sample": False,
    }
    assert ledger(engine, team["ws"])[1] == 2  # saving costs nothing more


async def test_a_structured_reply_without_streaming_goes_through_the_same_flow(
    engine, team, fake_server, fake
):
    _, url = fake_server
    settings = load_settings(
        anthropic_api_key="sk-test", anthropic_base_url=url, anthropic_timeout_seconds=1.5
    )
    ticket = begin(engine, team, platform="linkedin")
    texts, done = await drain(ticket, AnthropicGenerator(settings, streaming=False), engine)
    assert fake.requests[-1].body.get("stream", False) is False
    assert texts == [done.post.content] and done.post.hashtags == ("#Launch", "#Product", "#News", "#Today")
    assert ledger(engine, team["ws"]) == ([("purchase", 3, 3, ""), ("generation", -1, 2, "committed")], 2)
    with Session(engine) as session:
        generation.save_generated(
            session,
            actor_id=team["editor"],
            workspace_id=team["ws"],
            content=done.post.content,
            hashtags=done.post.hashtags,
            best_time=done.post.best_time,
            best_time_reason=done.post.best_time_reason,
            platform="linkedin",
        )
        session.commit()
    [post] = saved_posts(engine, team["ws"])
    assert post.content == done.post.content and post.meta["platform"] == "linkedin"
    assert post.meta["hashtags"] == ["#Launch", "#Product", "#News", "#Today"] and post.meta["ai_generated"]


# "Text delivered = credit kept": these failures deliver no usable text, so the credit comes back.
NOTHING_DELIVERED = {
    "rate limited (429)": (
        [ErrorReply(429, "rate_limit_error", headers={"retry-after": "20"})],
        "too many requests",
    ),
    "overloaded (529)": (
        [ErrorReply(529, "overloaded_error", headers={"x-should-retry": "false"})],
        "overloaded",
    ),
    "timeout before any text": ([Reply(delay=3), Reply(delay=3)], "took too long"),
    "stream broken before any text": ([Reply(error_after_deltas=1)], "stopped in the middle"),
    "empty answer": ([Reply(tool_input={**valid_post(), "content": "   "})], "without any post text"),
    "answer without a post": ([Reply(tool_input={})], "without any post text"),
    "garbled before any text": ([Reply(raw_json='{"hashtags": [}')], "garbled"),
}


@pytest.mark.parametrize("case", list(NOTHING_DELIVERED))
async def test_a_failure_before_any_text_refunds_the_credit_and_shows_nothing(
    engine, team, claude, fake, case
):
    replies, wording = NOTHING_DELIVERED[case]
    fake.script(*replies)
    ticket = begin(engine, team)
    texts = []
    with pytest.raises(generation.GenerationFailed) as failure:
        async for event in generation.run(ticket, claude, engine=engine):
            texts.append(event.text)
    assert wording in failure.value.message and failure.value.message.endswith("Your credit was refunded.")
    assert failure.value.balance == 3
    assert not "".join(texts).strip(), "no text may reach the page when the credit is refunded"
    rows, balance = ledger(engine, team["ws"])
    assert balance == 3
    assert rows == [("purchase", 3, 3, ""), ("generation", -1, 2, "refunded"), ("refund", 1, 3, "")]
    assert saved_posts(engine, team["ws"]) == []


# These deliver usable text: the credit is kept, the text is kept, and what is wrong is a warning.
TEXT_DELIVERED = {
    "stream broken after some text": (Reply(error_after_deltas=4), "stopped before finishing"),
    "stream stalled after some text": (
        Reply(pause_after_deltas=4, pause_seconds=3),
        "stopped before finishing",
    ),
    "garbled after some text": (
        Reply(raw_json='{"content": "Hello there, friends", "hashtags": [}'),
        "stopped before finishing",
    ),
    "tool reply missing fields": (Reply(tool_input={"content": "Only text"}), "hashtags are missing"),
    "too few hashtags": (Reply(tool_input={**valid_post(), "hashtags": ["#one"]}), "1 usable hashtags"),
    "over the platform's limit": (
        Reply(tool_input={**valid_post(), "content": "word " * 120}),
        "over Mastodon's limit of 500",
    ),
    "cut off by max tokens": (Reply(stop_reason="max_tokens"), "ran out of room"),
}


@pytest.mark.parametrize("case", list(TEXT_DELIVERED))
async def test_text_that_arrived_keeps_the_credit_and_the_problem_is_a_warning(
    engine, team, claude, fake, case
):
    reply, wording = TEXT_DELIVERED[case]
    fake.script(reply)
    ticket = begin(engine, team)
    texts, done = await drain(ticket, claude, engine)
    assert texts and texts[-1].strip(), "the text arrived on the page"
    assert done.post.content and texts[-1].strip().startswith(done.post.content[:10])
    assert wording in done.warning and "credit was used" in done.warning
    assert done.balance == 2
    assert ledger(engine, team["ws"]) == ([("purchase", 3, 3, ""), ("generation", -1, 2, "committed")], 2)


async def test_a_broken_stream_keeps_exactly_the_text_that_arrived(engine, team, claude, fake):
    fake.script(Reply(error_after_deltas=4))  # 28 bytes of JSON: '{"content": "Big news about '
    texts, done = await drain(ticket := begin(engine, team), claude, engine)
    assert done.post.content == texts[-1].strip() == "Big news about"
    assert (done.post.hashtags, done.post.best_time) == ((), "")
    assert ticket.reservation_id and ledger(engine, team["ws"])[1] == 2


async def test_the_offline_writer_goes_through_the_same_flow(engine, team):
    ticket = begin(engine, team, platform="x")
    texts, done = await drain(ticket, OfflineGenerator(word_delay=0), engine)
    assert done.post.sample and texts[-1] == done.post.content
    assert ledger(engine, team["ws"])[1] == 2


async def test_a_tab_closed_after_text_arrived_keeps_the_credit(engine, team, claude, fake):
    fake.script(Reply(chunk_size=3, chunk_delay=0.01))
    ticket = begin(engine, team)
    stream = generation.run(ticket, claude, engine=engine)
    first = await anext(stream)
    assert isinstance(first, Progress) and first.text.strip()
    await stream.aclose()  # the tab was closed mid-stream
    assert ledger(engine, team["ws"]) == ([("purchase", 3, 3, ""), ("generation", -1, 2, "committed")], 2)


async def test_a_tab_closed_before_any_text_gets_the_credit_back(engine, team, claude, fake):
    fake.script(Reply(delay=1))
    ticket = begin(engine, team)
    listening = asyncio.create_task(drain(ticket, claude, engine))
    await asyncio.sleep(0.3)  # the request is out, nothing has come back
    listening.cancel()  # the tab was closed
    with pytest.raises(asyncio.CancelledError):
        await listening
    rows, balance = ledger(engine, team["ws"])
    assert balance == 3 and rows[-2:] == [("generation", -1, 2, "refunded"), ("refund", 1, 3, "")]


async def test_the_sweep_never_refunds_a_generation_whose_text_arrived(engine, team, claude, fake):
    """A process that dies after the text reached the page leaves the credit spent; one that dies
    before any text leaves a reservation the housekeeping sweep refunds."""
    fake.script(Reply(chunk_size=3, chunk_delay=0.01))
    delivered = begin(engine, team)
    stream = generation.run(delivered, claude, engine=engine)
    assert (await anext(stream)).text.strip()
    silent = begin(engine, team, request_id="died-before-text")  # its process died before any text
    with Session(engine) as session:
        for reservation_id in (delivered.reservation_id, silent.reservation_id):
            row = session.get(CreditTransaction, reservation_id)
            row.created_at = datetime.now(UTC) - timedelta(minutes=30)  # the process died long ago
            session.add(row)
        session.commit()
    assert housekeeping.sweep(engine).refunded_generations == 1
    rows, balance = ledger(engine, team["ws"])
    assert balance == 2 and [row[3] for row in rows if row[0] == "generation"] == ["committed", "refunded"]
    await stream.aclose()
    assert ledger(engine, team["ws"])[1] == 2


def test_a_retried_request_spends_once(engine, team):
    begin(engine, team, request_id="double-click-1")
    with pytest.raises(Conflict, match="already started"):
        begin(engine, team, request_id="double-click-1")
    rows, balance = ledger(engine, team["ws"])
    assert balance == 2 and [r[0] for r in rows] == ["purchase", "generation"]


def test_out_of_credits_is_refused_and_writes_nothing(engine, team):
    for number in range(3):
        begin(engine, team, request_id=f"spend-all-{number}")
    with pytest.raises(InsufficientCredits, match="Buy more") as refusal:
        begin(engine, team, request_id="one-too-many")
    assert refusal.value.balance == 0
    rows, balance = ledger(engine, team["ws"])
    assert balance == 0 and len(rows) == 4


def test_viewers_cannot_generate(engine, team):
    with pytest.raises(PermissionDenied, match="Viewers"):
        begin(engine, team, actor="viewer")
    assert ledger(engine, team["ws"])[1] == 3


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        ({"topic": "   "}, "topic"),
        ({"topic": "t" * 501}, "topic"),
        ({"tone": "Sarcastic"}, "tone"),
        ({"language": "xx"}, "language"),
        ({"platform": "myspace"}, "platform"),
        ({"request_id": "bad id!"}, "request_id"),
    ],
)
def test_bad_inputs_are_refused_before_any_credit_is_spent(engine, team, inputs, field):
    with pytest.raises(ValidationFailed) as refusal:
        begin(engine, team, **inputs)
    assert refusal.value.field == field
    assert ledger(engine, team["ws"])[1] == 3


def test_a_brand_of_another_workspace_cannot_be_used(engine, team):
    with Session(engine) as session:
        theirs = brands.create_brand(
            session, actor_id=team["stranger"], workspace_id=team["other_ws"], name="Theirs"
        )
        session.commit()
    with pytest.raises(NotFound):
        begin(engine, team, brand_id=theirs.id)
    assert ledger(engine, team["ws"])[1] == 3


async def test_the_chosen_brand_shapes_the_system_prompt(engine, team, claude, fake):
    with Session(engine) as session:
        brand = brands.create_brand(
            session,
            actor_id=team["editor"],
            workspace_id=team["ws"],
            name="Bean There",
            tone_of_voice="Warm and a little nerdy about coffee",
            target_audience="Commuters in Leipzig",
            sample_posts=["Fresh beans, fresh start."],
        )
        session.commit()
    ticket = begin(engine, team, brand_id=brand.id)
    assert ticket.brand_id == brand.id
    await drain(ticket, claude, engine)
    system = fake.requests[-1].body["system"]
    for part in ("Bean There", "a little nerdy", "Commuters in Leipzig", "Fresh beans, fresh start."):
        assert part in system


def test_stale_reservations_are_refunded_once(engine, team):
    ticket = begin(engine, team)
    begin(engine, team, request_id="fresh-request-1")
    with Session(engine) as session:
        row = session.get(CreditTransaction, ticket.reservation_id)
        row.created_at = datetime.now(UTC) - timedelta(minutes=30)
        session.add(row)
        session.commit()
    assert housekeeping.sweep(engine).refunded_generations == 1  # the beat task's periodic sweep
    with Session(engine) as session:
        assert generation.refund_stale_reservations(session) == 0
    rows, balance = ledger(engine, team["ws"])
    assert balance == 2  # the fresh reservation is still in flight
    assert [r[0] for r in rows].count("refund") == 1


def test_scheduling_a_generated_post(engine, team):
    with Session(engine, expire_on_commit=False) as session:
        account = make_social_account(session, session.get(Workspace, team["ws"]))
        session.commit()
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    with Session(engine) as session:
        view = generation.save_generated(
            session,
            actor_id=team["editor"],
            workspace_id=team["ws"],
            content="Launch day!",
            hashtags=["#Launch", "#Day", "#One"],
            platform="sandbox",
            scheduled_at=when,
            timezone="Europe/Berlin",
            account_ids=[account.id],
        )
        session.commit()
    assert view.status == "scheduled" and view.scheduled_at == when and view.timezone == "Europe/Berlin"
    assert [d.account_id for d in view.destinations] == [account.id]


def test_an_empty_post_is_not_saved(engine, team):
    with Session(engine) as session, pytest.raises(ValidationFailed, match="empty"):
        generation.save_generated(session, actor_id=team["editor"], workspace_id=team["ws"], content="  ")
    assert saved_posts(engine, team["ws"]) == []


def test_compose_text_and_counting():
    assert generation.compose_text("Hello", ["launch", "#Day"]) == "Hello\n\n#launch #Day"
    assert generation.compose_text("Hello", ["#Day"], include_hashtags=False) == "Hello"
    assert generation.count_text("x", "héllo 👋") == (8, 280)  # X counts an emoji twice


def test_next_best_time_is_the_next_such_slot_in_the_zone():
    # Thursday 2026-11-19 10:00 UTC = 11:00 in Berlin.
    now = datetime(2026, 11, 19, 10, 0, tzinfo=UTC)
    assert generation.next_best_time("Tuesday 09:30", "Europe/Berlin", now=now) == "2026-11-24T09:30"
    assert generation.next_best_time("Thursday 12:00", "Europe/Berlin", now=now) == "2026-11-19T12:00"
    assert generation.next_best_time("Thursday 10:59", "Europe/Berlin", now=now) == "2026-11-26T10:59"
    assert generation.next_best_time("soon", "Europe/Berlin", now=now) == ""

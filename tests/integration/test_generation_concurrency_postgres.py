"""On PostgreSQL: concurrent generations never overdraw, and the ledger always sums to the balance."""

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import Engine, create_engine
from sqlmodel import Session, select

from postforge.ai.base import GenerationRequest, ProviderOverloaded
from postforge.ai.offline import OfflineGenerator
from postforge.models import CreditTransaction, Role, TransactionType, Workspace
from postforge.services.kernel.errors import InsufficientCredits
from postforge.services.ledger import credits
from postforge.services.writing import generation
from tests.support.factories import make_membership, make_user, make_workspace

WORKERS = 50
BALANCE = 10


@pytest.fixture
def engine(postgres_engine: Engine, migrated_postgres_url: str) -> Iterator[Engine]:
    """A pool big enough that all workers really hit the database at once (tables emptied after)."""
    wide = create_engine(migrated_postgres_url, pool_size=WORKERS + 5, max_overflow=0)
    try:
        yield wide
    finally:
        wide.dispose()


@pytest.fixture
def funded(engine: Engine) -> tuple[int, int]:
    with Session(engine, expire_on_commit=False) as session:
        editor = make_user(session)
        workspace = make_workspace(session, owner=editor)
        make_membership(session, workspace, editor, role=Role.EDITOR)
        credits.grant(
            session,
            workspace.id,
            amount=BALANCE,
            type=TransactionType.PURCHASE,
            description="Ten credits",
            idempotency_key=f"grant-{workspace.id}",
        )
        session.commit()
        return workspace.id, editor.id


class FailingGenerator:
    name = "failing"
    sample = True

    async def stream(self, request: GenerationRequest) -> AsyncIterator:
        await asyncio.sleep(0.01)
        raise ProviderOverloaded()
        yield  # an async generator that never yields a post


def generate_once(engine: Engine, workspace_id: int, user_id: int, number: int, generator, barrier) -> str:
    """One whole generation in its own thread and session, the way the page runs it."""

    async def consume(ticket) -> None:
        async for _ in generation.run(ticket, generator, engine=engine):
            pass

    barrier.wait()
    try:
        with Session(engine) as session:
            ticket = generation.start(
                session,
                actor_id=user_id,
                workspace_id=workspace_id,
                request_id=f"concurrent-{number:04d}",
                topic=f"Post number {number}",
                tone="Casual",
                language="en",
                platform="sandbox",
            )
            session.commit()
    except InsufficientCredits:
        return "insufficient"
    try:
        asyncio.run(consume(ticket))
    except generation.GenerationFailed:
        return "refunded"
    return "generated"


def run_all(engine: Engine, funded: tuple[int, int], generator) -> Counter:
    workspace_id, user_id = funded
    barrier = threading.Barrier(WORKERS)
    results: list[str] = []
    lock = threading.Lock()

    def work(number: int) -> None:
        outcome = generate_once(engine, workspace_id, user_id, number, generator, barrier)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a generation hung"
    return Counter(results)


def test_fifty_concurrent_generations_on_ten_credits(engine: Engine, funded: tuple[int, int]) -> None:
    outcomes = run_all(engine, funded, OfflineGenerator(word_delay=0))
    assert outcomes == Counter({"generated": BALANCE, "insufficient": WORKERS - BALANCE})
    workspace_id, _ = funded
    with Session(engine) as session:
        report = credits.check_invariant(session, workspace_id)
        assert report.ok and report.balance == 0 and report.ledger_sum == 0
        rows = session.exec(
            select(CreditTransaction).where(CreditTransaction.workspace_id == workspace_id)
        ).all()
        generations = [row for row in rows if row.type == TransactionType.GENERATION]
        assert len(generations) == BALANCE
        assert all(row.meta["state"] == "committed" for row in generations)
        assert sorted(row.balance_after for row in generations) == list(range(BALANCE))
        assert session.get(Workspace, workspace_id).credits == 0


def test_concurrent_failures_all_come_back(engine: Engine, funded: tuple[int, int]) -> None:
    outcomes = run_all(engine, funded, FailingGenerator())
    assert outcomes["generated"] == 0
    assert outcomes["refunded"] >= BALANCE  # refunds free credits for later arrivals
    assert outcomes["refunded"] + outcomes["insufficient"] == WORKERS
    workspace_id, _ = funded
    with Session(engine) as session:
        report = credits.check_invariant(session, workspace_id)
        assert report.ok and report.balance == BALANCE
        rows = session.exec(
            select(CreditTransaction).where(CreditTransaction.workspace_id == workspace_id)
        ).all()
        spent = [row for row in rows if row.type == TransactionType.GENERATION]
        refunds = [row for row in rows if row.type == TransactionType.REFUND]
        assert len(spent) == len(refunds) == outcomes["refunded"]
        assert all(row.meta["state"] == "refunded" for row in spent)

"""On PostgreSQL: admin credit adjustments racing members' spends never overdraw, every change is
one ledger row, the ledger always sums to the balance, and each adjustment has its audit row."""

import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine
from sqlmodel import Session, select

from postforge.models import AuditLog, CreditTransaction, Role, TransactionType, Workspace
from postforge.services.admin_console import workspaces as console
from postforge.services.kernel.errors import InsufficientCredits
from postforge.services.ledger import credits
from tests.support.factories import make_membership, make_user, make_workspace

SPENDERS = 30
DEBITS = 10  # admin adjustments of -2 each
CREDITS_ADDED = 10  # admin adjustments of +1 each
BALANCE = 20


@pytest.fixture
def engine(postgres_engine: Engine, migrated_postgres_url: str) -> Iterator[Engine]:
    """A pool big enough that every thread really hits the database at once (tables emptied after)."""
    wide = create_engine(
        migrated_postgres_url, pool_size=SPENDERS + DEBITS + CREDITS_ADDED + 5, max_overflow=0
    )
    try:
        yield wide
    finally:
        wide.dispose()


@pytest.fixture
def world(engine: Engine) -> tuple[int, int, int]:
    with Session(engine, expire_on_commit=False) as session:
        admin = make_user(session, is_admin=True)
        editor = make_user(session)
        workspace = make_workspace(session, owner=editor)
        make_membership(session, workspace, editor, role=Role.EDITOR)
        credits.grant(
            session,
            workspace.id,
            amount=BALANCE,
            type=TransactionType.PURCHASE,
            description="Twenty credits",
            idempotency_key=f"grant-{workspace.id}",
        )
        session.commit()
        return workspace.id, editor.id, admin.id


def test_adjustments_and_spends_at_once_keep_the_ledger_invariant(engine, world) -> None:
    workspace_id, editor, admin = world
    barrier = threading.Barrier(SPENDERS + DEBITS + CREDITS_ADDED)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(kind: str, work) -> None:
        barrier.wait()
        try:
            with Session(engine) as session:
                work(session)
                session.commit()
            result = f"{kind}:ok"
        except InsufficientCredits:
            result = f"{kind}:refused"
        with lock:
            outcomes[result] += 1

    def spend(session: Session) -> None:
        credits.reserve(session, user_id=editor, workspace_id=workspace_id)

    def debit(session: Session) -> None:
        console.adjust_credits(
            session, actor_id=admin, workspace_id=workspace_id, amount=-2, reason="Clawback"
        )

    def top_up(session: Session) -> None:
        console.adjust_credits(
            session, actor_id=admin, workspace_id=workspace_id, amount="+1", reason="Goodwill"
        )

    threads = (
        [threading.Thread(target=run, args=("spend", spend)) for _ in range(SPENDERS)]
        + [threading.Thread(target=run, args=("debit", debit)) for _ in range(DEBITS)]
        + [threading.Thread(target=run, args=("top_up", top_up)) for _ in range(CREDITS_ADDED)]
    )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert outcomes["top_up:ok"] == CREDITS_ADDED  # a credit can always be added
    # Demand (30 spends + 10 debits of 2) exceeds supply (20 + 10): some were refused, none overdrew.
    assert outcomes["spend:refused"] + outcomes["debit:refused"] > 0
    assert sum(outcomes.values()) == SPENDERS + DEBITS + CREDITS_ADDED
    with Session(engine) as session:
        report = credits.check_invariant(session, workspace_id)
        balance = session.get(Workspace, workspace_id).credits
        rows = session.exec(
            select(CreditTransaction).where(CreditTransaction.workspace_id == workspace_id)
        ).all()
        audited = session.exec(select(AuditLog).where(AuditLog.action == "workspace.credits_adjust")).all()
    assert report.ok, report
    spent = outcomes["spend:ok"] + 2 * outcomes["debit:ok"]
    assert balance == BALANCE + CREDITS_ADDED - spent >= 0
    assert len(rows) == 1 + outcomes["spend:ok"] + outcomes["debit:ok"] + CREDITS_ADDED
    assert sorted(row.balance_after for row in rows if row.balance_after < 0) == []
    # Exactly one audit row per adjustment that happened, none for the refused ones.
    assert len(audited) == outcomes["debit:ok"] + CREDITS_ADDED
    # Every audit row's before and after match a real step of the ledger.
    steps = {(row.balance_after - row.amount, row.balance_after) for row in rows}
    assert all((a.details["before"]["credits"], a.details["after"]["credits"]) in steps for a in audited)

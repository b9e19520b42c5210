"""The credit ledger: every change is one row with the balance after it, never an overdraft."""

import pytest
from sqlmodel import Session, select

from postforge.models import CreditTransaction, Role, TransactionType, Workspace
from postforge.services.kernel.errors import InsufficientCredits, PermissionDenied, ValidationFailed
from postforge.services.ledger import credits
from tests.support.factories import make_membership, make_user, make_workspace


@pytest.fixture
def funded(engine):
    """A workspace with 3 credits granted through the ledger, an editor and a viewer."""
    with Session(engine, expire_on_commit=False) as session:
        editor, viewer = make_user(session), make_user(session)
        workspace = make_workspace(session, owner=editor)
        make_membership(session, workspace, editor, role=Role.EDITOR)
        make_membership(session, workspace, viewer, role=Role.VIEWER)
        credits.grant(
            session,
            workspace.id,
            amount=3,
            type=TransactionType.PURCHASE,
            description="Starter pack",
            idempotency_key=f"test-grant-{workspace.id}",
        )
        session.commit()
        return workspace.id, editor.id, viewer.id


def ledger(engine, workspace_id):
    with Session(engine) as session:
        rows = session.exec(
            select(CreditTransaction)
            .where(CreditTransaction.workspace_id == workspace_id)
            .order_by(CreditTransaction.id)
        ).all()
        balance = session.get(Workspace, workspace_id).credits
        return [(str(r.type), r.amount, r.balance_after) for r in rows], balance


def test_reserve_spends_one_credit_and_writes_the_balance_after(engine, funded):
    workspace_id, editor, _ = funded
    with Session(engine) as session:
        entry = credits.reserve(session, user_id=editor, workspace_id=workspace_id)
        session.commit()
    assert (entry.amount, entry.balance_after, entry.replayed) == (-1, 2, False)
    assert ledger(engine, workspace_id) == ([("purchase", 3, 3), ("generation", -1, 2)], 2)


def test_the_last_credit_can_be_spent_and_then_the_refusal_says_so(engine, funded):
    workspace_id, editor, _ = funded
    with Session(engine) as session:
        for _ in range(3):
            credits.reserve(session, user_id=editor, workspace_id=workspace_id)
        session.commit()
        with pytest.raises(InsufficientCredits) as refusal:
            credits.reserve(session, user_id=editor, workspace_id=workspace_id)
        session.commit()
    assert (refusal.value.balance, refusal.value.needed) == (0, 1)
    assert "Buy more" in refusal.value.message
    rows, balance = ledger(engine, workspace_id)
    assert balance == 0 and len(rows) == 4
    with Session(engine) as session:
        assert credits.check_invariant(session, workspace_id).ok


def test_a_retried_reservation_with_the_same_key_spends_once(engine, funded):
    workspace_id, editor, _ = funded
    with Session(engine) as session:
        first = credits.reserve(session, user_id=editor, workspace_id=workspace_id, idempotency_key="req-1")
        again = credits.reserve(session, user_id=editor, workspace_id=workspace_id, idempotency_key="req-1")
        session.commit()
    assert again.replayed and again.id == first.id
    assert ledger(engine, workspace_id)[1] == 2


def test_a_viewer_cannot_spend(engine, funded):
    workspace_id, _, viewer = funded
    with Session(engine) as session, pytest.raises(PermissionDenied):
        credits.reserve(session, user_id=viewer, workspace_id=workspace_id)
    assert ledger(engine, workspace_id)[1] == 3


@pytest.mark.parametrize("amount", [0, -1, 1.5, True, "1"])
def test_bad_amounts_are_refused_and_nothing_changes(engine, funded, amount):
    workspace_id, editor, _ = funded
    with Session(engine) as session, pytest.raises(ValidationFailed):
        credits.reserve(session, user_id=editor, workspace_id=workspace_id, amount=amount)
    assert ledger(engine, workspace_id)[1] == 3


def test_refund_gives_the_credit_back_exactly_once(engine, funded):
    workspace_id, editor, _ = funded
    with Session(engine) as session:
        reservation = credits.reserve(session, user_id=editor, workspace_id=workspace_id)
        refund = credits.refund_reservation(session, reservation.id, reason="Claude is overloaded")
        again = credits.refund_reservation(session, reservation.id, reason="Claude is overloaded")
        session.commit()
    assert (refund.amount, refund.balance_after) == (1, 3)
    assert again.replayed and again.id == refund.id
    assert ledger(engine, workspace_id) == (
        [("purchase", 3, 3), ("generation", -1, 2), ("refund", 1, 3)],
        3,
    )


def test_a_committed_reservation_cannot_be_refunded_and_a_refunded_one_cannot_be_committed(engine, funded):
    workspace_id, editor, _ = funded
    with Session(engine) as session:
        kept = credits.reserve(session, user_id=editor, workspace_id=workspace_id)
        credits.commit_reservation(session, kept.id, post_id=None)
        credits.commit_reservation(session, kept.id)  # idempotent
        with pytest.raises(ValidationFailed):
            credits.refund_reservation(session, kept.id, reason="late failure")
        returned = credits.reserve(session, user_id=editor, workspace_id=workspace_id)
        credits.refund_reservation(session, returned.id, reason="timeout")
        with pytest.raises(ValidationFailed):
            credits.commit_reservation(session, returned.id)
        session.commit()
    assert ledger(engine, workspace_id)[1] == 2


def test_grant_is_once_per_key_and_only_for_grant_types(engine, funded):
    workspace_id, _, _ = funded
    with Session(engine) as session:
        for _ in range(3):
            credits.grant(
                session,
                workspace_id,
                amount=50,
                type=TransactionType.PURCHASE,
                description="Popular pack",
                idempotency_key="checkout:cs_1",
            )
        with pytest.raises(ValueError):
            credits.grant(
                session,
                workspace_id,
                amount=5,
                type=TransactionType.GENERATION,
                description="x",
                idempotency_key="k",
            )
        session.commit()
    assert ledger(engine, workspace_id)[1] == 53


def test_take_back_never_goes_negative_and_reports_what_is_owed(engine, funded):
    workspace_id, _, _ = funded
    with Session(engine) as session:
        entry, owed = credits.take_back(
            session, workspace_id, amount=5, description="Refund of Starter", idempotency_key="refund:ch_1"
        )
        replay, owed_again = credits.take_back(
            session, workspace_id, amount=5, description="Refund of Starter", idempotency_key="refund:ch_1"
        )
        nothing, owed_more = credits.take_back(
            session, workspace_id, amount=2, description="Second refund", idempotency_key="refund:ch_2"
        )
        session.commit()
    assert (entry.amount, entry.balance_after, owed) == (-3, 0, 2)
    assert replay.replayed and owed_again == 2
    assert nothing is None and owed_more == 2
    with Session(engine) as session:
        assert credits.check_invariant(session, workspace_id).ok


def test_an_adjustment_needs_a_reason_and_a_debit_cannot_overdraw(engine, funded):
    # Who may adjust is the admin console's question (tests/unit/services/admin_console).
    workspace_id, _editor, _ = funded
    with Session(engine, expire_on_commit=False) as session:
        admin = make_user(session, is_admin=True)
        with pytest.raises(ValidationFailed, match="Say why"):
            credits.adjust(session, actor_id=admin.id, workspace_id=workspace_id, amount=5, reason="  ")
        with pytest.raises(InsufficientCredits):
            credits.adjust(session, actor_id=admin.id, workspace_id=workspace_id, amount=-4, reason="oops")
        credits.adjust(session, actor_id=admin.id, workspace_id=workspace_id, amount=-3, reason="test pack")
        session.commit()
    assert ledger(engine, workspace_id)[1] == 0


def test_invariant_check_notices_a_balance_changed_behind_the_ledger(engine, funded):
    workspace_id, _, _ = funded
    with Session(engine) as session:
        session.get(Workspace, workspace_id).credits = 7
        session.commit()
        report = credits.check_invariant(session, workspace_id)
    assert (report.balance, report.ledger_sum, report.ok) == (7, 3, False)


def test_ledger_page_filters_by_type_and_counts_the_total(engine, funded):
    workspace_id, editor, _ = funded
    with Session(engine) as session:
        for _ in range(3):
            credits.reserve(session, user_id=editor, workspace_id=workspace_id)
        session.commit()
        everything = credits.ledger_page(session, workspace_id, limit=2)
        spends = credits.ledger_page(session, workspace_id, type="generation", limit=10)
        with pytest.raises(ValidationFailed):
            credits.ledger_page(session, workspace_id, type="free-money")
    assert everything.total == 4 and len(everything.rows) == 2
    assert [r.balance_after for r in everything.rows] == [0, 1]
    assert spends.total == 3 and {r.type for r in spends.rows} == {"generation"}

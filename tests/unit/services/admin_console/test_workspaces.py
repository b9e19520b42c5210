"""Workspaces in the console: search, detail, credit adjustments on the ledger, plan changes — audited."""

import pytest
from sqlmodel import Session, select

from postforge.models import (
    AuditLog,
    CreditTransaction,
    PostStatus,
    PricingPlan,
    Subscription,
    SubscriptionStatus,
    Workspace,
)
from postforge.services.admin_console import workspaces
from postforge.services.kernel.errors import Conflict, InsufficientCredits, NotFound, ValidationFailed
from postforge.services.ledger import credits
from postforge.services.payments import billing
from tests.support.factories import make_post, make_social_account, make_workspace
from tests.unit.services.admin_console.conftest import fingerprint


def audit_rows(engine, action: str) -> list[AuditLog]:
    with Session(engine) as session:
        return session.exec(select(AuditLog).where(AuditLog.action == action)).all()


def test_search_finds_by_name_slug_or_id_and_counts_members(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        for n in range(3):
            make_workspace(session, name=f"Engine room {n}")
        session.commit()
        found = workspaces.search_workspaces(session, actor_id=world.admin, query="engine")
        by_id = workspaces.search_workspaces(session, actor_id=world.admin, query=str(world.personal))
        everything = workspaces.search_workspaces(session, actor_id=world.admin, limit=2)

    assert found.total == 4
    team = next(row for row in found.rows if row.id == world.team)
    assert (team.members, team.is_personal) == (2, False)
    assert by_id.rows[0].id == world.personal  # the exact id first, then names and slugs with the digits
    assert (everything.total, len(everything.rows)) == (5, 2)


def test_the_detail_shows_plan_members_accounts_posts_and_the_ledger(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        personal = session.get(Workspace, world.personal)
        make_social_account(session, personal)
        make_post(session, personal, status=PostStatus.DRAFT)
        session.commit()
        detail = workspaces.workspace_detail(session, actor_id=world.admin, workspace_id=world.personal)

    assert (detail.name, detail.credits, detail.ledger_ok) == ("Ada's space", 10, True)
    assert detail.plan_name == "Free" and detail.plan_status == "free" and not detail.paid_through_stripe
    assert [(m.email, m.role) for m in detail.members] == [(world.member_email, "admin")]
    assert len(detail.accounts) == 1 and detail.accounts[0].status == "connected"
    assert detail.posts_by_status == {"draft": 1}
    assert [(r.type, r.amount) for r in detail.ledger.rows] == [("bonus", 10)]
    assert detail.storage_bytes == 0


@pytest.mark.parametrize(
    ("amount", "reason", "message"),
    [
        ("", "gift", "Enter how many credits"),
        ("ten", "gift", "whole number"),
        ("1.5", "gift", "whole number"),
        ("0", "gift", "zero changes nothing"),
        (0, "gift", "zero changes nothing"),
        (True, "gift", "whole number"),
        ("2000000", "gift", "at most 1,000,000"),
        ("5", "", "Say why"),
        ("5", "   ", "Say why"),
        ("5", "x" * 301, "under 300"),
    ],
)
def test_every_bad_adjustment_is_refused_clearly_and_changes_nothing(
    sqlite_engine, world, amount, reason, message
):
    before = fingerprint(sqlite_engine)
    with Session(sqlite_engine) as session, pytest.raises(ValidationFailed, match=message):
        workspaces.adjust_credits(
            session, actor_id=world.admin, workspace_id=world.personal, amount=amount, reason=reason
        )
    assert fingerprint(sqlite_engine) == before


def test_an_adjustment_is_a_ledger_row_and_an_audit_row_and_keeps_the_invariant(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        entry = workspaces.adjust_credits(
            session,
            actor_id=world.admin,
            workspace_id=world.personal,
            amount="+15",
            reason="Outage",
            ip="198.51.100.4",
        )
        workspaces.adjust_credits(
            session, actor_id=world.admin, workspace_id=world.personal, amount=-5, reason="Typo"
        )
        session.commit()
        assert credits.check_invariant(session, world.personal).ok
        rows = session.exec(
            select(CreditTransaction)
            .where(CreditTransaction.workspace_id == world.personal)
            .order_by(CreditTransaction.id)
        ).all()
    assert entry.balance_after == 25
    assert [(str(r.type), r.amount, r.balance_after, r.user_id) for r in rows[1:]] == [
        ("adjustment", 15, 25, world.admin),
        ("adjustment", -5, 20, world.admin),
    ]
    first, second = audit_rows(sqlite_engine, "workspace.credits_adjust")
    assert (first.workspace_id, first.ip_address, first.details["reason"]) == (
        world.personal,
        "198.51.100.4",
        "Outage",
    )
    assert (first.details["before"], first.details["after"]) == ({"credits": 10}, {"credits": 25})
    assert (second.details["before"], second.details["after"]) == ({"credits": 25}, {"credits": 20})


def test_a_debit_never_takes_the_balance_below_zero(sqlite_engine, world) -> None:
    before = fingerprint(sqlite_engine)
    with Session(sqlite_engine) as session, pytest.raises(InsufficientCredits):
        workspaces.adjust_credits(
            session, actor_id=world.admin, workspace_id=world.personal, amount=-11, reason="x"
        )
    assert fingerprint(sqlite_engine) == before


def test_a_replayed_adjustment_changes_nothing_the_second_time(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        for _ in range(2):
            workspaces.adjust_credits(
                session,
                actor_id=world.admin,
                workspace_id=world.personal,
                amount=3,
                reason="x",
                idempotency_key="k1",
            )
        session.commit()
        assert credits.check_invariant(session, world.personal).balance == 13
    assert len(audit_rows(sqlite_engine, "workspace.credits_adjust")) == 1


def test_an_unknown_workspace_is_not_found(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        with pytest.raises(NotFound):
            workspaces.workspace_detail(session, actor_id=world.admin, workspace_id=424242)
        with pytest.raises(NotFound):
            workspaces.adjust_credits(
                session, actor_id=world.admin, workspace_id=424242, amount=1, reason="x"
            )


def test_a_plan_change_is_a_complimentary_subscription_and_free_ends_it(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        billing.seed_plans(session)
        session.commit()
        with pytest.raises(ValidationFailed, match="Choose one of the plans"):
            workspaces.change_plan(
                session, actor_id=world.admin, workspace_id=world.team, plan_code="pack-pro"
            )
        with pytest.raises(Conflict, match="already on Free"):
            workspaces.change_plan(
                session, actor_id=world.admin, workspace_id=world.team, plan_code="tier-free"
            )
        assert (
            workspaces.change_plan(
                session, actor_id=world.admin, workspace_id=world.team, plan_code="tier-pro"
            )
            == "Pro"
        )
        session.commit()
        assert billing.workspace_tier(session, world.team).plan.code == "tier-pro"
        detail = workspaces.workspace_detail(session, actor_id=world.admin, workspace_id=world.team)
        assert (detail.plan_name, detail.plan_status) == ("Pro", "complimentary")

        workspaces.change_plan(
            session, actor_id=world.admin, workspace_id=world.team, plan_code="tier-business"
        )
        workspaces.change_plan(session, actor_id=world.admin, workspace_id=world.team, plan_code="tier-free")
        session.commit()
        assert billing.workspace_tier(session, world.team).plan.code == "tier-free"
        statuses = session.exec(
            select(Subscription.status).where(Subscription.workspace_id == world.team)
        ).all()
    assert sorted(map(str, statuses)) == ["canceled", "canceled"]
    changes = [
        (r.details["before"]["plan"], r.details["after"]["plan"])
        for r in audit_rows(sqlite_engine, "workspace.plan_change")
    ]
    assert changes == [("Free", "Pro"), ("Pro", "Business"), ("Business", "Free")]


def test_a_workspace_paying_through_stripe_changes_plan_in_stripe(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        billing.seed_plans(session)
        pro = session.exec(select(PricingPlan).where(PricingPlan.code == "tier-pro")).one()
        session.add(
            Subscription(
                workspace_id=world.team,
                plan_id=pro.id,
                stripe_subscription_id="sub_123",
                status=SubscriptionStatus.ACTIVE,
            )
        )
        session.commit()
        before = fingerprint(sqlite_engine)
        with pytest.raises(Conflict, match="Stripe dashboard"):
            workspaces.change_plan(
                session, actor_id=world.admin, workspace_id=world.team, plan_code="tier-business"
            )
        session.commit()
    assert fingerprint(sqlite_engine) == before

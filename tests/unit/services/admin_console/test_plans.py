"""Plans and packs in the console: edited with every value checked, audited, read by the billing pages."""

import pytest
from sqlmodel import Session, select

from postforge.models import AuditLog
from postforge.services.admin_console import plans
from postforge.services.kernel.errors import Conflict, NotFound, ValidationFailed
from postforge.services.payments import billing
from tests.unit.services.admin_console.conftest import fingerprint

PRO = {
    "code": "tier-pro",
    "name": "Pro",
    "price": "19.00",
    "credits": "100",
    "stripe_price_id": "",
    "limits": {"max_accounts": "10", "storage_mb": "25600"},  # as the form shows Pro unchanged
}


@pytest.fixture
def seeded(sqlite_engine, world):
    with Session(sqlite_engine) as session:
        billing.seed_plans(session)
        session.commit()


def edit(session, world, **changes):
    return plans.update_plan(session, actor_id=world.admin, **{**PRO, **changes})


def test_every_plan_is_listed_with_its_limits(sqlite_engine, world, seeded) -> None:
    with Session(sqlite_engine) as session:
        rows = plans.list_plans(session, actor_id=world.admin)
    pro = next(r for r in rows if r.code == "tier-pro")
    assert (pro.price, pro.price_label, pro.credits, pro.limits["max_accounts"]) == (
        "19.00",
        "$19.00",
        100,
        "10",
    )
    assert {r.code for r in rows} >= {
        "pack-starter",
        "pack-popular",
        "pack-pro",
        "tier-free",
        "tier-business",
    }


def test_an_edit_is_what_the_billing_pages_show_and_is_audited(sqlite_engine, world, seeded) -> None:
    with Session(sqlite_engine) as session:
        edit(
            session,
            world,
            name="Pro plus",
            price="24.50",
            credits="150",
            stripe_price_id="price_1Abc",
            limits={"max_accounts": "12", "storage_mb": "5000", "seats": "3"},
        )
        session.commit()
        shown = next(p for p in billing.list_plans(session, kind="subscription") if p.code == "tier-pro")
        (row,) = session.exec(select(AuditLog).where(AuditLog.action == "plan.update")).all()
    assert (shown.name, shown.price_cents, shown.credits) == ("Pro plus", 2450, 150)
    # The quota is edited in MB and kept in bytes, where the media library reads it.
    assert shown.features == {"max_accounts": 12, "storage_bytes": 5000 * 1024 * 1024, "seats": 3}
    assert row.details["before"] == {
        "name": "Pro",
        "price": "19.00",
        "credits": 100,
        "stripe_price_id": "",
        "max_accounts": "10",
        "storage_mb": "25600",
        "seats": None,
    }
    assert row.details["after"]["price"] == "24.50" and row.details["after"]["seats"] == "3"


def test_a_plan_taken_off_sale_leaves_the_billing_pages(sqlite_engine, world, seeded) -> None:
    with Session(sqlite_engine) as session:
        plans.update_plan(
            session,
            actor_id=world.admin,
            code="pack-pro",
            name="Pro",
            price="69",
            credits="150",
            is_active=False,
        )
        session.commit()
        assert "pack-pro" not in {p.code for p in billing.list_plans(session)}


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"code": "tier-gold"}, NotFound, "does not exist"),
        ({"name": "  "}, ValidationFailed, "Name"),
        ({"name": "x" * 121}, ValidationFailed, "Name"),
        ({"price": "nineteen"}, ValidationFailed, "like 19 or 19.00"),
        ({"price": "-1"}, ValidationFailed, "0 or more"),
        ({"price": "19.999"}, ValidationFailed, "two decimals"),
        ({"price": "NaN"}, ValidationFailed, "Price"),
        ({"price": "100000.01"}, ValidationFailed, "at most"),
        ({"credits": "-5"}, ValidationFailed, "whole number"),
        ({"credits": "1.5"}, ValidationFailed, "whole number"),
        ({"credits": "2000000"}, ValidationFailed, "at most 1,000,000"),
        ({"stripe_price_id": "prod_123"}, ValidationFailed, "price_1Nabc"),
        ({"limits": {"max_accounts": "lots"}}, ValidationFailed, "Connected accounts"),
        ({}, Conflict, "Nothing changed"),
        (
            {"code": "tier-free", "name": "Free", "price": "5", "credits": "0"},
            ValidationFailed,
            "costs nothing",
        ),
    ],
)
def test_every_bad_value_is_refused_clearly_and_nothing_changes(
    sqlite_engine, world, seeded, changes, error, message
):
    before = fingerprint(sqlite_engine)
    with Session(sqlite_engine) as session, pytest.raises(error, match=message):
        edit(session, world, **changes)
    assert fingerprint(sqlite_engine) == before


def test_packs_must_cost_something_and_give_credits_and_free_stays_offered(
    sqlite_engine, world, seeded
) -> None:
    with Session(sqlite_engine) as session:
        pack = {"code": "pack-starter", "name": "Starter", "price": "15", "credits": "20"}
        with pytest.raises(ValidationFailed, match="price above 0"):
            plans.update_plan(session, actor_id=world.admin, **{**pack, "price": "0"})
        with pytest.raises(ValidationFailed, match="at least 1 credit"):
            plans.update_plan(session, actor_id=world.admin, **{**pack, "credits": "0"})
        with pytest.raises(ValidationFailed, match="keep it"):
            plans.update_plan(
                session,
                actor_id=world.admin,
                code="tier-free",
                name="Free",
                price="0",
                credits="0",
                is_active=False,
            )


def test_two_plans_cannot_share_a_stripe_price(sqlite_engine, world, seeded) -> None:
    with Session(sqlite_engine) as session:
        edit(session, world, stripe_price_id="price_shared")
        session.commit()
        with pytest.raises(Conflict, match="already uses"):
            plans.update_plan(
                session,
                actor_id=world.admin,
                code="tier-business",
                name="Business",
                price="49",
                credits="400",
                stripe_price_id="price_shared",
            )

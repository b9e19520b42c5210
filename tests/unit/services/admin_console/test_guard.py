"""Only a system admin reaches the console's services: everyone else is refused and nothing changes.

The services are discovered: every public function of the console that takes an `actor_id` must be
in CALLS below, so a new one cannot skip this test.
"""

import inspect

import pytest
from sqlmodel import Session

from postforge.models import User
from postforge.services.admin_console import audit, guard, payments, plans, publishing, users, workspaces
from postforge.services.identity import accounts_auth
from tests.unit.services.admin_console.conftest import fingerprint

CALLS = {
    "users.search_users": lambda s, actor, w: users.search_users(s, actor_id=actor, query="ada"),
    "users.user_detail": lambda s, actor, w: users.user_detail(s, actor_id=actor, user_id=w.member),
    "users.suspend_user": lambda s, actor, w: users.suspend_user(s, actor_id=actor, user_id=w.member),
    "users.restore_user": lambda s, actor, w: users.restore_user(s, actor_id=actor, user_id=w.member),
    "users.sign_out_everywhere": lambda s, actor, w: users.sign_out_everywhere(
        s, actor_id=actor, user_id=w.member
    ),
    "users.send_password_reset": lambda s, actor, w: users.send_password_reset(
        s, actor_id=actor, user_id=w.member
    ),
    "users.delete_user": lambda s, actor, w: users.delete_user(
        s, actor_id=actor, user_id=w.member, confirm_email=w.member_email
    ),
    "workspaces.search_workspaces": lambda s, actor, w: workspaces.search_workspaces(s, actor_id=actor),
    "workspaces.workspace_detail": lambda s, actor, w: workspaces.workspace_detail(
        s, actor_id=actor, workspace_id=w.personal
    ),
    "workspaces.adjust_credits": lambda s, actor, w: workspaces.adjust_credits(
        s, actor_id=actor, workspace_id=w.personal, amount=5, reason="gift"
    ),
    "workspaces.plan_choices": lambda s, actor, w: workspaces.plan_choices(s, actor_id=actor),
    "workspaces.change_plan": lambda s, actor, w: workspaces.change_plan(
        s, actor_id=actor, workspace_id=w.personal, plan_code="tier-pro"
    ),
    "audit.audit_page": lambda s, actor, w: audit.audit_page(s, actor_id=actor),
    "payments.payments": lambda s, actor, w: payments.payments(s, actor_id=actor),
    "payments.subscriptions": lambda s, actor, w: payments.subscriptions(s, actor_id=actor),
    "payments.stuck_events": lambda s, actor, w: payments.stuck_events(s, actor_id=actor),
    "payments.process_again": lambda s, actor, w: payments.process_again(
        s, actor_id=actor, kind="stripe", event_id="evt_1"
    ),
    "plans.list_plans": lambda s, actor, w: plans.list_plans(s, actor_id=actor),
    "plans.update_plan": lambda s, actor, w: plans.update_plan(
        s, actor_id=actor, code="tier-pro", name="Pro", price="0.50", credits="1"
    ),
    "publishing.destinations": lambda s, actor, w: publishing.destinations(s, actor_id=actor, which="failed"),
    "publishing.accounts_needing_reconnect": lambda s, actor, w: publishing.accounts_needing_reconnect(
        s, actor_id=actor
    ),
    "publishing.retry": lambda s, actor, w: publishing.retry(s, actor_id=actor, destination_id=1),
    "publishing.resolve_review": lambda s, actor, w: publishing.resolve_review(
        s, actor_id=actor, destination_id=1, published=True
    ),
}


def console_services() -> set[str]:
    found = set()
    for module in (users, workspaces, audit, publishing, payments, plans):
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            public = fn.__module__ == module.__name__ and not name.startswith("_")
            if public and "actor_id" in inspect.signature(fn).parameters:
                found.add(f"{module.__name__.rsplit('.', 1)[1]}.{name}")
    return found


def test_every_console_service_is_in_this_test() -> None:
    assert console_services() == set(CALLS)


@pytest.mark.parametrize("who", ["member", "suspended admin", "revoked admin", "nobody", "unknown id"])
@pytest.mark.parametrize("name", sorted(CALLS))
def test_anyone_but_a_system_admin_is_refused_and_nothing_changes(sqlite_engine, world, who, name) -> None:
    with Session(sqlite_engine) as session:
        actor = {"member": world.member, "nobody": 0, "unknown id": 999_999}.get(who, world.admin)
        if who == "suspended admin":
            session.get(User, world.admin).is_active = False
        if who == "revoked admin":
            session.get(User, world.admin).is_admin = False
        session.commit()
    before = fingerprint(sqlite_engine)

    with Session(sqlite_engine) as session, pytest.raises(guard.NotAnAdmin) as refusal:
        CALLS[name](session, actor, world)
        session.commit()

    assert refusal.value.message == guard.NOT_FOUND_MESSAGE  # says nothing about what exists
    assert fingerprint(sqlite_engine) == before


def test_the_health_details_follow_the_same_check(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        admin_token = accounts_auth.create_session(session, session.get(User, world.admin))
        assert guard.session_is_admin(session, admin_token)
        assert not guard.session_is_admin(session, world.member_token)
        assert not guard.session_is_admin(session, "")
        session.get(User, world.admin).is_admin = False
        session.flush()
        assert not guard.session_is_admin(session, admin_token)


def test_the_ledger_s_adjustment_is_reached_only_through_the_console() -> None:
    """`credits.adjust` checks no one itself: the console's guard is the one check in front of it."""
    from tests.support.db import ROOT

    callers = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "postforge").rglob("*.py")
        if "credits.adjust(" in path.read_text()
    )
    assert callers == ["postforge/services/admin_console/workspaces.py"]

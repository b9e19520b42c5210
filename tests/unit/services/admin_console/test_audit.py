"""The audit log: filterable for system admins, and shown to the workspace admins whose data it touched."""

import pytest
from sqlmodel import Session

from postforge.services.admin_console import audit, users, workspaces
from postforge.services.admin_console.audit import AuditFilters
from postforge.services.kernel.errors import PermissionDenied, ValidationFailed
from tests.support.factories import make_membership, make_user, make_workspace


@pytest.fixture
def history(sqlite_engine, world):
    """Three admin actions: credits on Ada's personal space, a plan-less sign-out of Bob, one elsewhere."""
    with Session(sqlite_engine) as session:
        stranger = make_user(session, email="eve@example.com")
        elsewhere = make_workspace(session, name="Elsewhere")
        make_membership(session, elsewhere, stranger)
        session.commit()
        workspaces.adjust_credits(
            session, actor_id=world.admin, workspace_id=world.personal, amount=5, reason="Outage"
        )
        users.sign_out_everywhere(session, actor_id=world.admin, user_id=world.teammate, ip="192.0.2.1")
        workspaces.adjust_credits(
            session, actor_id=world.admin, workspace_id=elsewhere.id, amount=2, reason="Gift"
        )
        session.commit()
        return {"elsewhere": elsewhere.id, "stranger": stranger.id}


def test_the_page_lists_newest_first_with_before_and_after(sqlite_engine, world, history) -> None:
    with Session(sqlite_engine) as session:
        page = audit.audit_page(session, actor_id=world.admin)
    assert page.total == 3
    assert [e.action for e in page.entries] == [
        "workspace.credits_adjust",
        "user.sign_out",
        "workspace.credits_adjust",
    ]
    newest = page.entries[0]
    assert (newest.actor, newest.change, newest.reason, newest.target_label) == (
        "root@example.com",
        "credits: 0 → 2",
        "Gift",
        "Elsewhere",
    )
    assert page.entries[1].ip_address == "192.0.2.1"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (AuditFilters(action="user.sign_out"), 1),
        (AuditFilters(actor="ROOT@"), 3),
        (AuditFilters(actor="nobody"), 0),
        (AuditFilters(target_type="workspace"), 2),
        (AuditFilters(target_type="user", target_id="{teammate}"), 1),
        (AuditFilters(workspace_id=-1), 0),
    ],
)
def test_filters_narrow_the_page(sqlite_engine, world, history, filters, expected) -> None:
    filters = AuditFilters(
        **{**filters.__dict__, "target_id": filters.target_id.format(teammate=world.teammate)}
    )
    with Session(sqlite_engine) as session:
        assert audit.audit_page(session, actor_id=world.admin, filters=filters).total == expected


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (AuditFilters(action="user.explode"), "Choose an action"),
        (AuditFilters(target_type="brand"), "user, workspace, post, event or plan"),
        (AuditFilters(target_type="user", target_id="abc"), "is a number"),
        (AuditFilters(target_id="12"), "user's, a workspace's, a post's or an event's"),
        (AuditFilters(actor="x" * 321), "at most 320"),
    ],
)
def test_a_bad_filter_is_refused_clearly(sqlite_engine, world, filters, message) -> None:
    with Session(sqlite_engine) as session, pytest.raises(ValidationFailed, match=message):
        audit.audit_page(session, actor_id=world.admin, filters=filters)


def test_workspace_admins_see_what_was_done_to_their_workspace_and_members(
    sqlite_engine, world, history
) -> None:
    with Session(sqlite_engine) as session:
        team = audit.for_workspace_admins(session, user_id=world.member, workspace_id=world.team)
        personal = audit.for_workspace_admins(session, user_id=world.member, workspace_id=world.personal)
        with pytest.raises(PermissionDenied):  # an editor is no workspace admin
            audit.for_workspace_admins(session, user_id=world.teammate, workspace_id=world.team)
        with pytest.raises(PermissionDenied):  # nor is an outsider
            audit.for_workspace_admins(session, user_id=history["stranger"], workspace_id=world.team)

    assert [e.action for e in team] == ["user.sign_out"]  # Bob is a member of the team
    assert [(e.action, e.change) for e in personal] == [("workspace.credits_adjust", "credits: 10 → 15")]


def test_the_log_has_no_way_to_change_a_row() -> None:
    public = {name for name in vars(audit) if callable(getattr(audit, name)) and not name.startswith("_")}
    assert not {name for name in public if name.startswith(("update", "delete", "remove", "edit"))}


def test_record_refuses_an_action_it_does_not_know(sqlite_engine) -> None:
    with Session(sqlite_engine) as session, pytest.raises(ValueError, match="unknown audit action"):
        audit.record(session, actor=None, action="user.teleport", target_type="user", target_id=1)

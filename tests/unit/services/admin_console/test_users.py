"""Users in the console: search, detail, suspend and restore, sign out, reset link, delete — audited."""

import pytest
from sqlmodel import Session, select

from postforge.models import AuditLog, Membership, OutboxMessage, User, UserSession, Workspace
from postforge.services.admin_console import audit, users
from postforge.services.identity import accounts_auth, passwords
from postforge.services.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.support.factories import make_user
from tests.unit.services.admin_console.conftest import fingerprint


def audit_rows(engine, action: str) -> list[AuditLog]:
    with Session(engine) as session:
        return session.exec(select(AuditLog).where(AuditLog.action == action)).all()


def test_search_finds_by_email_or_name_any_case_and_pages(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        for n in range(30):
            make_user(session, email=f"crowd{n:02d}@example.org", name=f"Crowd {n}")
        session.commit()
        by_email = users.search_users(session, actor_id=world.admin, query="ADA@")
        by_name = users.search_users(session, actor_id=world.admin, query="lovelace")
        by_id = users.search_users(session, actor_id=world.admin, query=str(world.teammate))
        literal = users.search_users(session, actor_id=world.admin, query="%")
        first = users.search_users(session, actor_id=world.admin, query="crowd", limit=25)
        second = users.search_users(session, actor_id=world.admin, query="crowd", limit=25, offset=25)

    assert [r.email for r in by_email.rows] == [world.member_email]
    assert [r.id for r in by_name.rows] == [world.member]
    assert world.teammate in [r.id for r in by_id.rows]
    assert literal.rows == []  # a typed % is a character, not a wildcard
    assert (first.total, len(first.rows), len(second.rows)) == (30, 25, 5)
    assert not {r.id for r in first.rows} & {r.id for r in second.rows}
    member_row = by_email.rows[0]
    assert member_row.last_activity is not None and member_row.last_activity.tzinfo is not None


def test_a_search_matching_very_many_counts_only_up_to_the_cap(sqlite_engine, world, monkeypatch) -> None:
    monkeypatch.setattr(users, "COUNT_CAP", 1)
    with Session(sqlite_engine) as session:
        page = users.search_users(session, actor_id=world.admin, query="example.com")
    assert (page.total, len(page.rows)) == (2, 3)  # root, ada and bob match; counted to the cap + 1


def test_a_search_longer_than_an_email_is_refused(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session, pytest.raises(ValidationFailed, match="at most 320"):
        users.search_users(session, actor_id=world.admin, query="x" * 321)


def test_the_detail_shows_workspaces_roles_sessions_and_sign_in_methods(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        detail = users.user_detail(session, actor_id=world.admin, user_id=world.member)

    assert detail.email == world.member_email and detail.has_password
    assert [(m.workspace_name, m.role, m.is_personal) for m in detail.memberships] == [
        ("Ada's space", "admin", True),
        ("Analytical Engines", "admin", False),
    ]
    assert [i.provider for i in detail.identities] == ["google"]
    assert len(detail.sessions) == 1 and detail.last_activity is not None
    assert detail.suspended_at is None and detail.email_verified_at is None


def test_an_unknown_user_is_not_found(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        for call in (users.user_detail, users.suspend_user, users.restore_user, users.sign_out_everywhere):
            with pytest.raises(NotFound):
                call(session, actor_id=world.admin, user_id=424242)


def test_suspending_ends_every_session_and_refuses_sign_in_with_a_clear_message(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        user = session.get(User, world.member)
        user.password_hash = passwords.hash_password("Correct-Horse-42")
        session.commit()
        ended = users.suspend_user(
            session, actor_id=world.admin, user_id=world.member, reason="spam", ip="203.0.113.9"
        )
        session.commit()
    assert ended == 1

    with Session(sqlite_engine) as session:
        assert accounts_auth.resolve_session(session, world.member_token) is None
        with pytest.raises(PermissionDenied, match="suspended"):
            accounts_auth.authenticate(session, email=world.member_email, password="Correct-Horse-42")
        # Nobody may hand the account a fresh start while it is suspended.
        with pytest.raises(Conflict, match="Restore the account first"):
            users.send_password_reset(session, actor_id=world.admin, user_id=world.member)
        with pytest.raises(Conflict, match="already suspended"):
            users.suspend_user(session, actor_id=world.admin, user_id=world.member)

    (row,) = audit_rows(sqlite_engine, "user.suspend")
    assert (row.actor_user_id, row.target_id, row.ip_address) == (
        world.admin,
        str(world.member),
        "203.0.113.9",
    )
    assert row.details["before"] == {"status": "active"}
    assert row.details["after"] == {"status": "suspended", "sessions ended": 1}
    assert row.details["reason"] == "spam" and row.details["actor_email"] == "root@example.com"


def test_restoring_lets_the_account_sign_in_again(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        with pytest.raises(Conflict, match="not suspended"):
            users.restore_user(session, actor_id=world.admin, user_id=world.member)
        users.suspend_user(session, actor_id=world.admin, user_id=world.member)
        users.restore_user(session, actor_id=world.admin, user_id=world.member, reason="appeal upheld")
        session.commit()
        user = session.get(User, world.member)
        assert user.is_active and user.suspended_at is None
        token = accounts_auth.create_session(session, user)
        assert accounts_auth.resolve_session(session, token) is not None
    assert [r.details["after"] for r in audit_rows(sqlite_engine, "user.restore")] == [{"status": "active"}]


def test_an_admin_cannot_suspend_or_delete_their_own_account(sqlite_engine, world) -> None:
    before = fingerprint(sqlite_engine)
    with Session(sqlite_engine) as session:
        with pytest.raises(ValidationFailed, match="your own account"):
            users.suspend_user(session, actor_id=world.admin, user_id=world.admin)
        with pytest.raises(ValidationFailed, match="your own account"):
            users.delete_user(
                session, actor_id=world.admin, user_id=world.admin, confirm_email="root@example.com"
            )
        session.commit()
    assert fingerprint(sqlite_engine) == before


def test_a_reason_longer_than_allowed_is_refused(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session, pytest.raises(ValidationFailed, match="under 500"):
        users.suspend_user(session, actor_id=world.admin, user_id=world.member, reason="x" * 501)


def test_sign_out_everywhere_ends_the_sessions_and_says_how_many(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        assert users.sign_out_everywhere(session, actor_id=world.admin, user_id=world.member) == 1
        session.commit()
        assert accounts_auth.resolve_session(session, world.member_token) is None
        assert session.get(User, world.member).is_active  # signed out, not suspended
    (row,) = audit_rows(sqlite_engine, "user.sign_out")
    assert row.details["before"] == {"open sessions": 1}


def test_a_password_reset_uses_the_ordinary_link(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        users.send_password_reset(session, actor_id=world.admin, user_id=world.member)
        session.commit()
        (mail,) = session.exec(
            select(OutboxMessage).where(OutboxMessage.to_address == world.member_email)
        ).all()
    assert "/reset-password?token=" in mail.body_text
    assert len(audit_rows(sqlite_engine, "user.password_reset")) == 1


def test_deleting_needs_the_typed_email_and_follows_the_self_deletion_rules(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        before = fingerprint(sqlite_engine)
        for typed in ("", "someone@else.org", "ada@example"):
            with pytest.raises(ValidationFailed, match="Type the account's email"):
                users.delete_user(session, actor_id=world.admin, user_id=world.member, confirm_email=typed)
        session.rollback()
        assert fingerprint(sqlite_engine) == before

        users.delete_user(
            session, actor_id=world.admin, user_id=world.member, confirm_email=" ADA@example.com "
        )
        session.commit()

    with Session(sqlite_engine) as session:
        assert session.get(User, world.member) is None
        assert session.get(Workspace, world.personal) is None  # the personal workspace and its data go
        team = session.get(Workspace, world.team)
        assert team is not None  # the team keeps going, with Bob promoted to admin
        (bob,) = session.exec(select(Membership).where(Membership.workspace_id == world.team)).all()
        assert (bob.user_id, str(bob.role)) == (world.teammate, "admin")
        assert session.exec(select(UserSession).where(UserSession.user_id == world.member)).all() == []
    (row,) = audit_rows(sqlite_engine, "user.delete")
    assert row.details["target_label"] == world.member_email
    assert row.details["before"]["personal workspace"] == "Ada's space"


def test_the_audit_row_is_written_in_the_same_transaction_as_the_change(
    sqlite_engine, world, monkeypatch
) -> None:
    # Rolled back together ...
    with Session(sqlite_engine) as session:
        users.suspend_user(session, actor_id=world.admin, user_id=world.member)
        session.rollback()
    with Session(sqlite_engine) as session:
        assert session.get(User, world.member).suspended_at is None
    assert audit_rows(sqlite_engine, "user.suspend") == []

    # ... and a change whose record cannot be written does not happen.
    def broken(*_args, **_kwargs):
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(audit, "record", broken)
    from postforge.db import session_scope

    with pytest.raises(RuntimeError), session_scope(sqlite_engine) as session:
        users.suspend_user(session, actor_id=world.admin, user_id=world.member)
    with Session(sqlite_engine) as session:
        assert session.get(User, world.member).suspended_at is None
        assert accounts_auth.resolve_session(session, world.member_token) is not None

"""System admins are made and unmade only on the command line; the last one cannot be revoked."""

import pytest
from sqlmodel import Session, select

from postforge.cli import main
from postforge.db import get_engine
from postforge.models import AuditLog, User
from postforge.services.admin_console import admins
from postforge.services.kernel.errors import Conflict, NotFound, ValidationFailed


def test_grant_and_revoke_are_audited_with_the_command_line_as_actor(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        assert admins.grant(session, " BOB@example.com") == "bob@example.com is now a system admin."
        assert admins.grant(session, "bob@example.com") == "bob@example.com is already a system admin."
        assert admins.revoke(session, "root@example.com") == "root@example.com is no longer a system admin."
        session.commit()
        rows = session.exec(select(AuditLog).order_by(AuditLog.id)).all()
    assert [(r.action, r.actor_user_id, r.details["actor_email"]) for r in rows] == [
        ("admin.grant", None, "command line"),
        ("admin.revoke", None, "command line"),
    ]


def test_the_last_admin_cannot_be_revoked(sqlite_engine, world) -> None:
    with Session(sqlite_engine) as session:
        with pytest.raises(Conflict, match="last system admin"):
            admins.revoke(session, "root@example.com")
        # A suspended admin does not count as the one left to run the console.
        admins.grant(session, "bob@example.com")
        session.get(User, world.teammate).is_active = False
        with pytest.raises(Conflict, match="last system admin"):
            admins.revoke(session, "root@example.com")


@pytest.mark.parametrize(
    ("email", "error"), [("nobody@example.com", NotFound), ("not an email", ValidationFailed)]
)
def test_unknown_or_malformed_addresses_are_refused(sqlite_engine, world, email, error) -> None:
    with Session(sqlite_engine) as session, pytest.raises(error):
        admins.grant(session, email)


def test_the_command_line_grants_and_refuses_with_a_message(app_database, capsys) -> None:
    with Session(get_engine()) as session:
        session.add(User(email="root@example.com", name="Root", is_admin=True))
        session.add(User(email="ada@example.com", name="Ada"))
        session.commit()

    assert main(["admin", "grant", "ada@example.com"]) == 0
    assert "ada@example.com is now a system admin." in capsys.readouterr().out
    assert main(["admin", "revoke", "root@example.com"]) == 0
    assert main(["admin", "revoke", "ada@example.com"]) == 1
    assert "last system admin" in capsys.readouterr().err
    assert main(["admin", "grant", "ghost@example.com"]) == 1
    with Session(get_engine()) as session:
        assert session.exec(select(User.email).where(User.is_admin)).all() == ["ada@example.com"]

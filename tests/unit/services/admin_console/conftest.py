"""A small world for the console: a system admin, a member with a personal and a team workspace."""

from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from postforge.models import Role, TransactionType
from postforge.services.identity import accounts_auth
from postforge.services.ledger import credits
from tests.support.factories import make_auth_identity, make_membership, make_user, make_workspace


@dataclass
class World:
    admin: int
    member: int
    teammate: int
    personal: int
    team: int
    member_email: str
    member_token: str


@pytest.fixture
def world(sqlite_engine) -> World:
    with Session(sqlite_engine, expire_on_commit=False) as session:
        admin = make_user(session, email="root@example.com", name="Root", is_admin=True)
        member = make_user(session, email="ada@example.com", name="Ada Lovelace", password_hash="x")
        teammate = make_user(session, email="bob@example.com", name="Bob")
        personal = make_workspace(session, owner=member, name="Ada's space", is_personal=True)
        team = make_workspace(session, owner=member, name="Analytical Engines")
        make_membership(session, personal, member, role=Role.ADMIN)
        make_membership(session, team, member, role=Role.ADMIN)
        make_membership(session, team, teammate, role=Role.EDITOR)
        make_auth_identity(session, member, provider="google", issuer="https://accounts.google.com")
        credits.grant(
            session,
            personal.id,
            amount=10,
            type=TransactionType.BONUS,
            description="Welcome bonus",
            idempotency_key=f"welcome:{member.id}",
        )
        token = accounts_auth.create_session(session, member, workspace_id=personal.id)
        session.commit()
        return World(admin.id, member.id, teammate.id, personal.id, team.id, member.email, token)


def fingerprint(engine) -> dict[str, list]:
    """Every row of every table: what "nothing changed" means."""
    with engine.connect() as connection:
        return {
            table.name: sorted(map(tuple, connection.execute(sa.select(table)).all()), key=repr)
            for table in SQLModel.metadata.sorted_tables
        }

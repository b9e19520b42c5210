"""The first sign-in: one user, one personal workspace, one admin membership, one 10-credit bonus."""

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from postforge.models import (
    ApiKey,
    AuthIdentity,
    CreditTransaction,
    Invite,
    Membership,
    Role,
    TransactionType,
    User,
    UserSession,
    Workspace,
    utcnow,
)
from postforge.services.identity import onboarding
from postforge.services.identity.onboarding import (
    WELCOME_BONUS_CREDITS,
    create_personal_workspace,
    ensure_identity_user,
    grant_welcome_bonus,
)
from postforge.services.kernel.errors import Conflict, ValidationFailed
from tests.support.factories import make_membership, make_user, make_user_session, make_workspace


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            model.__tablename__: session.exec(select(func.count()).select_from(model)).one()
            for model in (User, Workspace, Membership, CreditTransaction, AuthIdentity)
        }


def sign_in(engine: Engine, **overrides) -> User:
    claims = {
        "provider": "oidc",
        "issuer": "https://idp.example",
        "subject": "subject-1",
        "email": "ada@example.com",
        "email_verified": True,
        "name": "Ada Lovelace",
    }
    return ensure_identity_user(engine, **{**claims, **overrides})


def test_personal_workspace_has_the_user_as_admin_and_the_welcome_bonus(sqlite_engine):
    with Session(sqlite_engine, expire_on_commit=False) as session:
        user = make_user(session, name="Grace Hopper")
        workspace = create_personal_workspace(session, user)
        session.commit()

        membership = session.exec(select(Membership)).one()
        bonus = session.exec(select(CreditTransaction)).one()
    assert workspace.is_personal and workspace.created_by_id == user.id
    assert workspace.name == "Grace's workspace"
    assert (membership.user_id, membership.workspace_id, membership.role) == (
        user.id,
        workspace.id,
        Role.ADMIN,
    )
    assert (bonus.amount, bonus.type, bonus.balance_after) == (10, TransactionType.BONUS, 10)
    assert bonus.idempotency_key == f"welcome-bonus:user:{user.id}"
    assert workspace.credits == WELCOME_BONUS_CREDITS == 10


def test_creating_the_personal_workspace_again_changes_nothing(sqlite_engine):
    with Session(sqlite_engine, expire_on_commit=False) as session:
        user = make_user(session)
        first = create_personal_workspace(session, user)
        session.commit()
    before = counts(sqlite_engine)

    with Session(sqlite_engine, expire_on_commit=False) as session:
        user = session.get(User, user.id)
        again = create_personal_workspace(session, user)
        session.commit()

    assert again.id == first.id and again.credits == 10
    assert counts(sqlite_engine) == before


def test_the_welcome_bonus_is_granted_once_per_user(sqlite_engine):
    with Session(sqlite_engine) as session:
        user = make_user(session)
        workspace = make_workspace(session, owner=user)
        assert grant_welcome_bonus(session, workspace, user) is True
        assert grant_welcome_bonus(session, workspace, user) is False
        other = make_workspace(session, owner=user)
        assert grant_welcome_bonus(session, other, user) is False  # per user, not per workspace
        session.commit()
        assert session.get(Workspace, workspace.id).credits == 10
        assert session.get(Workspace, other.id).credits == 0
        assert session.exec(select(func.count()).select_from(CreditTransaction)).one() == 1


def test_a_workspace_needs_a_saved_user(sqlite_engine):
    with Session(sqlite_engine) as session, pytest.raises(ValueError, match="flushed"):
        create_personal_workspace(session, User(email="new@example.com"))


def test_first_sign_in_creates_user_workspace_membership_bonus_and_identity(sqlite_engine):
    user = sign_in(sqlite_engine, email="  Ada@Example.COM ")

    assert user.email == "ada@example.com" and user.name == "Ada Lovelace"
    assert user.email_verified_at is not None and user.password_hash is None
    assert counts(sqlite_engine) == {
        "users": 1,
        "workspaces": 1,
        "memberships": 1,
        "credit_transactions": 1,
        "auth_identities": 1,
    }
    with Session(sqlite_engine) as session:
        identity = session.exec(select(AuthIdentity)).one()
        workspace = session.exec(select(Workspace)).one()
    assert (identity.provider, identity.issuer, identity.subject, identity.user_id) == (
        "oidc",
        "https://idp.example",
        "subject-1",
        user.id,
    )
    assert workspace.credits == 10


def test_signing_in_again_returns_the_same_user_and_adds_nothing(sqlite_engine):
    first = sign_in(sqlite_engine)
    before = counts(sqlite_engine)

    again = sign_in(sqlite_engine)
    # The identity, not the email, says who it is: a changed address at the provider is the same person.
    renamed = sign_in(sqlite_engine, email="ada@new-domain.example", email_verified=False)

    assert again.id == first.id == renamed.id
    assert counts(sqlite_engine) == before


def test_a_verified_email_links_the_identity_to_the_existing_account(sqlite_engine):
    with Session(sqlite_engine, expire_on_commit=False) as session:
        existing = make_user(session, email="ada@example.com", password_hash="$argon2id$x")
        create_personal_workspace(session, existing)
        session.commit()
    before = counts(sqlite_engine)

    user = sign_in(sqlite_engine, provider="github", subject="4242", email="ADA@example.com")

    assert user.id == existing.id and user.email_verified_at is not None
    after = counts(sqlite_engine)
    assert after == {**before, "auth_identities": before["auth_identities"] + 1}


@pytest.mark.parametrize("existing_account", [True, False])
def test_an_unverified_email_is_refused_and_nothing_is_created(sqlite_engine, existing_account):
    if existing_account:
        with Session(sqlite_engine) as session:
            make_user(session, email="ada@example.com")
            session.commit()
    before = counts(sqlite_engine)

    with pytest.raises(ValidationFailed, match="not verified") as refused:
        sign_in(sqlite_engine, email_verified=False)

    assert refused.value.field == "email"
    assert counts(sqlite_engine) == before


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": None}, "email", "did not share an email"),
        ({"email": "   "}, "email", "did not share an email"),
        ({"email": "not-an-address"}, "email", "invalid email address"),
        ({"email": "a b@example.com"}, "email", "invalid email address"),
        ({"subject": "  "}, "subject", "no subject"),
        ({"provider": ""}, "subject", "no subject"),
        ({"issuer": " "}, "issuer", "no issuer"),
    ],
)
def test_bad_identity_claims_are_refused(sqlite_engine, overrides, field, message):
    with pytest.raises(ValidationFailed, match=message) as refused:
        sign_in(sqlite_engine, **overrides)
    assert refused.value.field == field
    assert counts(sqlite_engine)["users"] == 0


def test_losing_a_race_rolls_back_and_returns_the_winners_user(sqlite_engine, monkeypatch):
    """Another sign-in for the same identity commits between our lookup and our insert."""
    real_check = onboarding._require_verified_email
    winners: list[User] = []

    def competing_sign_in_first(*args, **kwargs):
        if not winners:
            monkeypatch.setattr(onboarding, "_require_verified_email", real_check)
            winners.append(sign_in(sqlite_engine))
        return real_check(*args, **kwargs)

    real_find_or_create = onboarding._find_or_create
    rounds: list[str] = []

    def counted_find_or_create(*args, **kwargs):
        rounds.append("round")
        return real_find_or_create(*args, **kwargs)

    monkeypatch.setattr(onboarding, "_require_verified_email", competing_sign_in_first)
    monkeypatch.setattr(onboarding, "_find_or_create", counted_find_or_create)

    user = sign_in(sqlite_engine)

    assert winners and user.id == winners[0].id
    assert len(rounds) == 3  # ours (collides), the winner's, ours again (reads the winner's identity)
    assert counts(sqlite_engine) == {
        "users": 1,
        "workspaces": 1,
        "memberships": 1,
        "credit_transactions": 1,
        "auth_identities": 1,
    }


def test_endless_collisions_end_in_a_clear_conflict(sqlite_engine, monkeypatch):
    def always_collides(*args, **kwargs):
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    monkeypatch.setattr(onboarding, "_find_or_create", always_collides)

    with pytest.raises(Conflict, match="try again"):
        sign_in(sqlite_engine)
    assert counts(sqlite_engine)["users"] == 0


def test_a_session_factory_works_as_well_as_an_engine(sqlite_engine):
    user = ensure_identity_user(
        lambda: Session(sqlite_engine, expire_on_commit=False),
        provider="oidc",
        issuer="https://idp.example",
        subject="factory",
        email="factory@example.com",
        email_verified=True,
    )
    assert user.id is not None and user.name == ""
    with Session(sqlite_engine) as session:
        assert session.exec(select(Workspace)).one().name == "My workspace"


# --- an SSO identity meets an unverified local account --------------------------------------------


def squatted_account(engine, *, email: str = "ada@example.com"):
    """What a squatter leaves: an unverified account with a password, two sessions, a personal
    workspace with a second account of theirs as member, a pending invitation and an API key."""
    with Session(engine, expire_on_commit=False) as session:
        squatter = make_user(session, email=email, password_hash="$argon2id$squatters-password")
        workspace = create_personal_workspace(session, squatter)
        accomplice = make_user(session, email="mallory@example.net")
        make_membership(session, workspace, accomplice, role=Role.ADMIN)
        make_user_session(session, squatter)
        make_user_session(session, squatter)
        session.add(
            Invite(
                workspace_id=workspace.id,
                email="mallory+2@example.net",
                role=Role.ADMIN,
                token_hash="a" * 64,
                invited_by_id=squatter.id,
                expires_at=utcnow() + timedelta(days=7),
            )
        )
        session.add(
            ApiKey(
                workspace_id=workspace.id,
                created_by_id=squatter.id,
                name="k",
                prefix="pf_x",
                key_hash="b" * 64,
            )
        )
        session.commit()
    return squatter, workspace


def test_a_verified_sso_email_takes_an_unverified_account_away_from_whoever_registered_it(sqlite_engine):
    squatter, workspace = squatted_account(sqlite_engine)

    user = sign_in(sqlite_engine, issuer="https://idp.example", email="Ada@Example.com")

    assert user.id == squatter.id
    with Session(sqlite_engine) as session:
        owner = session.get(User, squatter.id)
        open_sessions = session.exec(select(UserSession).where(UserSession.revoked_at.is_(None))).all()
        members = session.exec(
            select(Membership.user_id).where(Membership.workspace_id == workspace.id)
        ).all()
        invites = session.exec(select(Invite).where(Invite.revoked_at.is_(None))).all()
        keys = session.exec(select(ApiKey).where(ApiKey.revoked_at.is_(None))).all()
    assert owner.password_hash is None, "the squatter's password must stop working"
    assert owner.email_verified_at is not None
    assert open_sessions == [], "the squatter's sessions must end"
    assert members == [squatter.id], "nobody the squatter let in stays in the personal workspace"
    assert invites == [] and keys == []


def test_a_verified_local_account_is_linked_and_keeps_its_password_and_sessions(sqlite_engine):
    with Session(sqlite_engine, expire_on_commit=False) as session:
        existing = make_user(
            session, email="ada@example.com", password_hash="$argon2id$x", email_verified_at=utcnow()
        )
        create_personal_workspace(session, existing)
        make_user_session(session, existing)
        session.commit()

    user = sign_in(sqlite_engine)

    with Session(sqlite_engine) as session:
        owner = session.get(User, existing.id)
        open_sessions = session.exec(select(UserSession).where(UserSession.revoked_at.is_(None))).all()
    assert user.id == existing.id and owner.password_hash == "$argon2id$x" and len(open_sessions) == 1


def test_the_same_subject_at_another_issuer_is_another_person(sqlite_engine):
    first = sign_in(sqlite_engine, issuer="https://idp-one.example", subject="1234")

    other = sign_in(
        sqlite_engine, issuer="https://idp-two.example", subject="1234", email="mallory@example.net"
    )

    assert other.id != first.id and other.email == "mallory@example.net"
    with Session(sqlite_engine) as session:
        identities = {(i.issuer, i.subject, i.user_id) for i in session.exec(select(AuthIdentity)).all()}
    assert identities == {
        ("https://idp-one.example", "1234", first.id),
        ("https://idp-two.example", "1234", other.id),
    }

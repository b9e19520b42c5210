"""What the database itself refuses, shared by SQLite and PostgreSQL.

A test module subclasses `ConstraintChecks` and provides an `engine` fixture on a migrated
database; every test below then runs unchanged on that engine. Each refusal is paired with
the write that must still succeed, so a constraint that rejects everything fails too.
"""

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, func, select

from postforge.models import (
    AuthIdentity,
    CreditTransaction,
    Membership,
    Payment,
    Post,
    PostDestination,
    User,
    UserSession,
    Workspace,
)
from tests.support import factories as make

Result = TypeVar("Result")


def committed(engine: Engine, write: Callable[[Session], Result]) -> Result:
    """Run `write` in its own transaction and commit it."""
    with Session(engine, expire_on_commit=False) as session:
        result = write(session)
        session.commit()
        return result


def rejected(engine: Engine, write: Callable[[Session], Any], *names: str) -> IntegrityError:
    """`write` must fail with IntegrityError whose message mentions one of `names`.

    PostgreSQL names the violated constraint; SQLite names CHECK constraints but gives
    `table.column` for UNIQUE ones, so callers pass both spellings.
    """
    with Session(engine) as session:
        with pytest.raises(IntegrityError) as caught:
            write(session)
            session.commit()
        session.rollback()
    message = str(caught.value.orig)
    assert any(name in message for name in names), f"expected one of {names} in: {message}"
    return caught.value


def count(engine: Engine, model: type[SQLModel], *where: Any) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def fetch(engine: Engine, model: type[SQLModel], row_id: Any) -> Any:
    with Session(engine) as session:
        return session.get(model, row_id)


def execute(engine: Engine, statement: Any, **params: Any) -> None:
    with engine.begin() as connection:
        connection.execute(statement, params)


class ConstraintChecks:
    # Credits ----------------------------------------------------------------------------

    def test_workspace_credits_never_negative_on_insert(self, engine: Engine) -> None:
        rejected(
            engine,
            lambda s: make.make_workspace(s, credits=-1),
            "ck_workspaces_credits_not_negative",
        )
        assert committed(engine, lambda s: make.make_workspace(s, credits=0)).credits == 0

    def test_workspace_credits_never_negative_on_update(self, engine: Engine) -> None:
        workspace = committed(engine, lambda s: make.make_workspace(s, credits=3))

        def overdraw(session: Session) -> None:
            session.execute(
                sa.update(Workspace).where(Workspace.id == workspace.id).values(credits=Workspace.credits - 5)
            )
            session.flush()

        rejected(engine, overdraw, "ck_workspaces_credits_not_negative")
        assert fetch(engine, Workspace, workspace.id).credits == 3

        execute(engine, sa.update(Workspace).where(Workspace.id == workspace.id).values(credits=0))
        assert fetch(engine, Workspace, workspace.id).credits == 0

    def test_credit_transaction_amount_is_never_zero(self, engine: Engine) -> None:
        workspace = committed(engine, lambda s: make.make_workspace(s))

        rejected(
            engine,
            lambda s: make.make_credit_transaction(s, workspace, amount=0, balance_after=0),
            "ck_credit_transactions_amount_not_zero",
        )
        committed(engine, lambda s: make.make_credit_transaction(s, workspace, amount=1, balance_after=1))
        assert count(engine, CreditTransaction) == 1

    def test_credit_transaction_balance_after_is_never_negative(self, engine: Engine) -> None:
        workspace = committed(engine, lambda s: make.make_workspace(s))

        rejected(
            engine,
            lambda s: make.make_credit_transaction(s, workspace, amount=-1, balance_after=-1),
            "ck_credit_transactions_balance_after_not_negative",
        )
        committed(engine, lambda s: make.make_credit_transaction(s, workspace, amount=-1, balance_after=0))
        assert count(engine, CreditTransaction) == 1

    # Uniqueness -------------------------------------------------------------------------

    def test_user_email_is_unique(self, engine: Engine) -> None:
        committed(engine, lambda s: make.make_user(s, email="ada@example.com"))

        rejected(
            engine, lambda s: make.make_user(s, email="ada@example.com"), "uq_users_email", "users.email"
        )
        committed(engine, lambda s: make.make_user(s, email="grace@example.com"))
        assert count(engine, User) == 2

    def test_identity_issuer_and_subject_are_unique_together(self, engine: Engine) -> None:
        first, second = committed(engine, lambda s: (make.make_user(s), make.make_user(s)))
        one, other = "https://idp-one.example", "https://idp-two.example"
        committed(engine, lambda s: make.make_auth_identity(s, first, issuer=one, subject="42"))

        # Whatever button it came through, the same issuer's subject is one identity.
        rejected(
            engine,
            lambda s: make.make_auth_identity(s, second, provider="another-button", issuer=one, subject="42"),
            "uq_auth_identities_issuer_subject",
            "auth_identities.issuer",
        )
        # Another issuer's subject 42 is another person, even under the same provider name.
        committed(engine, lambda s: make.make_auth_identity(s, second, issuer=other, subject="42"))
        assert count(engine, AuthIdentity) == 2

    def test_a_user_is_a_member_of_a_workspace_once(self, engine: Engine) -> None:
        user, workspace, other = committed(
            engine, lambda s: (make.make_user(s), make.make_workspace(s), make.make_workspace(s))
        )
        committed(engine, lambda s: make.make_membership(s, workspace, user))

        rejected(
            engine,
            lambda s: make.make_membership(s, workspace, user),
            "uq_memberships_workspace_id_user_id",
            "memberships.workspace_id",
        )
        committed(engine, lambda s: make.make_membership(s, other, user))
        assert count(engine, Membership) == 2

    def test_a_post_goes_to_a_social_account_once(self, engine: Engine) -> None:
        def seed(session: Session) -> tuple[Post, Any, Any]:
            workspace = make.make_workspace(session)
            return (
                make.make_post(session, workspace),
                make.make_social_account(session, workspace),
                make.make_social_account(session, workspace),
            )

        post, account, other_account = committed(engine, seed)
        committed(engine, lambda s: make.make_destination(s, post, account))

        rejected(
            engine,
            lambda s: make.make_destination(s, post, account),
            "uq_post_destinations_post_id_social_account_id",
            "post_destinations.post_id",
        )
        committed(engine, lambda s: make.make_destination(s, post, other_account))
        assert count(engine, PostDestination) == 2

    def test_destination_idempotency_key_is_unique(self, engine: Engine) -> None:
        def seed(session: Session) -> tuple[Post, Any, Any]:
            workspace = make.make_workspace(session)
            return (
                make.make_post(session, workspace),
                make.make_social_account(session, workspace),
                make.make_social_account(session, workspace),
            )

        post, account, other_account = committed(engine, seed)
        committed(engine, lambda s: make.make_destination(s, post, account, idempotency_key="same-key"))

        rejected(
            engine,
            lambda s: make.make_destination(s, post, other_account, idempotency_key="same-key"),
            "uq_post_destinations_idempotency_key",
            "post_destinations.idempotency_key",
        )
        committed(engine, lambda s: make.make_destination(s, post, other_account, idempotency_key="other"))
        assert count(engine, PostDestination) == 2

    def test_credit_idempotency_key_is_unique_but_may_be_absent(self, engine: Engine) -> None:
        workspace = committed(engine, lambda s: make.make_workspace(s))
        committed(engine, lambda s: make.make_credit_transaction(s, workspace, idempotency_key="signup:1"))

        rejected(
            engine,
            lambda s: make.make_credit_transaction(s, workspace, idempotency_key="signup:1"),
            "uq_credit_transactions_idempotency_key",
            "credit_transactions.idempotency_key",
        )
        # Rows without a key (e.g. manual adjustments) never collide with each other.
        committed(engine, lambda s: make.make_credit_transaction(s, workspace, idempotency_key=None))
        committed(engine, lambda s: make.make_credit_transaction(s, workspace, idempotency_key=None))
        assert count(engine, CreditTransaction) == 3

    def test_payment_checkout_session_is_unique(self, engine: Engine) -> None:
        workspace = committed(engine, lambda s: make.make_workspace(s))
        committed(engine, lambda s: make.make_payment(s, workspace, checkout_session_id="cs_test_1"))

        rejected(
            engine,
            lambda s: make.make_payment(s, workspace, checkout_session_id="cs_test_1"),
            "uq_payments_checkout_session_id",
            "payments.checkout_session_id",
        )
        committed(engine, lambda s: make.make_payment(s, workspace, checkout_session_id="cs_test_2"))
        assert count(engine, Payment) == 2

    def test_stripe_event_is_stored_once(self, engine: Engine) -> None:
        committed(engine, lambda s: make.make_stripe_event(s, event_id="evt_1"))

        rejected(
            engine,
            lambda s: make.make_stripe_event(s, event_id="evt_1", type="charge.refunded"),
            "pk_stripe_events",
            "stripe_events.id",
        )
        committed(engine, lambda s: make.make_stripe_event(s, event_id="evt_2"))

    # Enumerations -----------------------------------------------------------------------

    def test_raw_sql_cannot_write_an_unknown_post_status(self, engine: Engine) -> None:
        post = committed(engine, lambda s: make.make_post(s, make.make_workspace(s)))
        set_status = sa.text("UPDATE posts SET status = :status WHERE id = :id")

        rejected(
            engine,
            lambda s: s.execute(set_status, {"status": "bogus", "id": post.id}),
            "ck_posts_post_status",
        )
        execute(engine, set_status, status="published", id=post.id)
        assert fetch(engine, Post, post.id).status == "published"

    def test_raw_sql_cannot_insert_an_unknown_membership_role(self, engine: Engine) -> None:
        user, workspace = committed(engine, lambda s: (make.make_user(s), make.make_workspace(s)))
        insert = sa.text(
            "INSERT INTO memberships (workspace_id, user_id, role, created_at)"
            " VALUES (:workspace_id, :user_id, :role, CURRENT_TIMESTAMP)"
        )
        ids = {"workspace_id": workspace.id, "user_id": user.id}

        rejected(
            engine, lambda s: s.execute(insert, {**ids, "role": "owner"}), "ck_memberships_membership_role"
        )
        execute(engine, insert, **ids, role="viewer")
        assert count(engine, Membership, Membership.role == "viewer") == 1

    # Deletion ---------------------------------------------------------------------------

    def test_deleting_a_workspace_deletes_what_it_owns(self, engine: Engine) -> None:
        def seed(session: Session) -> tuple[Workspace, Workspace, User]:
            user = make.make_user(session)
            doomed, kept = make.make_workspace(session), make.make_workspace(session)
            for workspace in (doomed, kept):
                make.make_membership(session, workspace, user)
                post = make.make_post(session, workspace, author=user)
                make.make_destination(session, post, make.make_social_account(session, workspace))
                make.make_credit_transaction(session, workspace, amount=10)
            return doomed, kept, user

        doomed, kept, user = committed(engine, seed)

        execute(engine, sa.delete(Workspace).where(Workspace.id == doomed.id))

        assert fetch(engine, Workspace, doomed.id) is None
        for owner, expected in ((doomed.id, 0), (kept.id, 1)):
            assert count(engine, Post, Post.workspace_id == owner) == expected
            assert count(engine, Membership, Membership.workspace_id == owner) == expected
            assert count(engine, CreditTransaction, CreditTransaction.workspace_id == owner) == expected
        assert count(engine, PostDestination) == 1
        assert fetch(engine, User, user.id) is not None

    def test_deleting_a_user_keeps_the_workspace_and_its_posts(self, engine: Engine) -> None:
        def seed(session: Session) -> tuple[User, Workspace, Post, CreditTransaction]:
            user = make.make_user(session)
            workspace = make.make_workspace(session, owner=user)
            make.make_membership(session, workspace, user)
            make.make_auth_identity(session, user)
            make.make_user_session(session, user)
            post = make.make_post(session, workspace, author=user)
            entry = make.make_credit_transaction(session, workspace, user_id=user.id)
            return user, workspace, post, entry

        user, workspace, post, entry = committed(engine, seed)

        execute(engine, sa.delete(User).where(User.id == user.id))

        assert count(engine, UserSession) == 0
        assert count(engine, AuthIdentity) == 0
        assert count(engine, Membership) == 0
        assert fetch(engine, Workspace, workspace.id).created_by_id is None
        kept_post = fetch(engine, Post, post.id)
        assert kept_post is not None and kept_post.author_id is None
        assert fetch(engine, CreditTransaction, entry.id).user_id is None

    def test_payments_outlive_their_workspace(self, engine: Engine) -> None:
        def seed(session: Session) -> tuple[Workspace, Payment]:
            workspace = make.make_workspace(session)
            return workspace, make.make_payment(session, workspace)

        workspace, payment = committed(engine, seed)

        execute(engine, sa.delete(Workspace).where(Workspace.id == workspace.id))

        kept = fetch(engine, Payment, payment.id)
        assert kept is not None
        assert kept.workspace_id is None
        assert kept.checkout_session_id == payment.checkout_session_id

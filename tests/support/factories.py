"""Build rows with sensible defaults, one plain function per table.

Each function adds its row to the given session and flushes (so the id is known) but never
commits: the test decides where the transaction ends. Unique columns get fresh values on
every call, so tests only spell out what they are about.
"""

import itertools
import uuid
from datetime import timedelta
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, select

from postforge.models import (
    AuthIdentity,
    CreditTransaction,
    Membership,
    Payment,
    Platform,
    Post,
    PostDestination,
    PricingPlan,
    Role,
    SocialAccount,
    StripeEvent,
    Subscription,
    SubscriptionStatus,
    TransactionType,
    User,
    UserSession,
    Workspace,
    utcnow,
)

_sequence = itertools.count(1)
Row = TypeVar("Row", bound=SQLModel)


def unique(prefix: str) -> str:
    """A readable value no other call in this process returns."""
    return f"{prefix}-{next(_sequence)}-{uuid.uuid4().hex[:6]}"


def _save(session: Session, row: Row) -> Row:
    session.add(row)
    session.flush()
    return row


def make_user(session: Session, *, email: str | None = None, **fields: Any) -> User:
    fields.setdefault("name", "Test User")
    return _save(session, User(email=email or f"{unique('user')}@example.com", **fields))


def make_workspace(
    session: Session, *, owner: User | None = None, credits: int = 0, **fields: Any
) -> Workspace:
    fields.setdefault("name", "Test Workspace")
    fields.setdefault("slug", unique("workspace"))
    created_by_id = owner.id if owner else None
    return _save(session, Workspace(credits=credits, created_by_id=created_by_id, **fields))


def make_membership(
    session: Session, workspace: Workspace, user: User, *, role: Role = Role.EDITOR
) -> Membership:
    return _save(session, Membership(workspace_id=workspace.id, user_id=user.id, role=role))


def make_auth_identity(
    session: Session,
    user: User,
    *,
    provider: str = "oidc",
    issuer: str = "https://idp.example",
    subject: str | None = None,
) -> AuthIdentity:
    return _save(
        session,
        AuthIdentity(user_id=user.id, provider=provider, issuer=issuer, subject=subject or unique("subject")),
    )


def make_user_session(session: Session, user: User, **fields: Any) -> UserSession:
    fields.setdefault("token_hash", uuid.uuid4().hex + uuid.uuid4().hex)
    fields.setdefault("expires_at", utcnow() + timedelta(days=30))
    return _save(session, UserSession(user_id=user.id, **fields))


def make_social_account(
    session: Session, workspace: Workspace, *, platform: Platform = Platform.SANDBOX, **fields: Any
) -> SocialAccount:
    fields.setdefault("platform_account_id", unique("account"))
    fields.setdefault("handle", "@tester")
    fields.setdefault("display_name", "Tester")
    return _save(session, SocialAccount(workspace_id=workspace.id, platform=platform, **fields))


def make_post(session: Session, workspace: Workspace, *, author: User | None = None, **fields: Any) -> Post:
    fields.setdefault("content", "Hello from a test post")
    author_id = author.id if author else None
    return _save(session, Post(workspace_id=workspace.id, author_id=author_id, **fields))


def make_destination(session: Session, post: Post, account: SocialAccount, **fields: Any) -> PostDestination:
    fields.setdefault("idempotency_key", uuid.uuid4().hex)
    return _save(session, PostDestination(post_id=post.id, social_account_id=account.id, **fields))


def make_credit_transaction(
    session: Session,
    workspace: Workspace,
    *,
    amount: int = 10,
    balance_after: int | None = None,
    type: TransactionType = TransactionType.BONUS,
    **fields: Any,
) -> CreditTransaction:
    """A ledger row; `balance_after` defaults to the workspace balance plus `amount`.

    Only the row is written: keeping `Workspace.credits` in step is the credits service's job.
    """
    if balance_after is None:
        balance_after = workspace.credits + amount
    return _save(
        session,
        CreditTransaction(
            workspace_id=workspace.id, amount=amount, balance_after=balance_after, type=type, **fields
        ),
    )


def make_payment(session: Session, workspace: Workspace | None = None, **fields: Any) -> Payment:
    fields.setdefault("checkout_session_id", unique("cs_test"))
    fields.setdefault("amount_cents", 1000)
    fields.setdefault("credits", 50)
    workspace_id = workspace.id if workspace else None
    return _save(session, Payment(workspace_id=workspace_id, **fields))


def make_stripe_event(session: Session, *, event_id: str | None = None, **fields: Any) -> StripeEvent:
    fields.setdefault("type", "checkout.session.completed")
    fields.setdefault("payload", {})
    return _save(session, StripeEvent(id=event_id or unique("evt"), **fields))


def make_subscription(
    session: Session, workspace: Workspace, *, plan_code: str = "tier-pro", **fields: Any
) -> Subscription:
    """An active subscription on a seeded plan (the standard plans are seeded if missing)."""
    from postforge.services.payments.billing import seed_plans

    seed_plans(session)
    plan = session.exec(select(PricingPlan).where(PricingPlan.code == plan_code)).one()
    fields.setdefault("stripe_subscription_id", unique("sub_test"))
    fields.setdefault("stripe_customer_id", unique("cus_test"))
    fields.setdefault("status", SubscriptionStatus.ACTIVE)
    return _save(session, Subscription(workspace_id=workspace.id, plan_id=plan.id, **fields))

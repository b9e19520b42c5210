import pytest
from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from postforge.models import (
    AccountStatus,
    Brand,
    CreditTransaction,
    DestinationStatus,
    Membership,
    Platform,
    Post,
    PostDestination,
    PostStatus,
    Role,
    SocialAccount,
    TransactionType,
    User,
    Workspace,
    utcnow,
)
from postforge.services.identity.onboarding import welcome_bonus_key
from postforge.services.identity.passwords import verify_password
from postforge.services.operations.demo import seed_demo


def _seed(engine, **kwargs):
    with Session(engine, expire_on_commit=False) as session:
        result = seed_demo(session, **kwargs)
        session.commit()
    return result


def _row_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in SQLModel.metadata.sorted_tables
        }


def test_seed_creates_the_demo_user_workspace_and_data(sqlite_engine):
    result = _seed(sqlite_engine)

    assert result.created and result.email == "demo@postforge.local" and result.password
    with Session(sqlite_engine) as session:
        user = session.exec(select(User)).one()
        workspace = session.exec(select(Workspace)).one()
        membership = session.exec(select(Membership)).one()
        account = session.exec(select(SocialAccount)).one()
        brand = session.exec(select(Brand)).one()
        posts = session.exec(select(Post)).all()
        destinations = session.exec(select(PostDestination)).all()

    assert (user.id, workspace.id) == (result.user_id, result.workspace_id)
    assert user.name == "Demo User" and user.password_hash.startswith("$argon2id$")
    assert (membership.user_id, membership.workspace_id, membership.role) == (
        user.id,
        workspace.id,
        Role.ADMIN,
    )
    assert workspace.is_personal and workspace.name == "Demo workspace"
    assert brand.name == "PostForge Demo" and brand.tone_of_voice and brand.target_audience
    assert (account.platform, account.handle, account.display_name, account.status) == (
        Platform.SANDBOX,
        "@demo",
        "Sandbox feed",
        AccountStatus.CONNECTED,
    )
    assert sorted(post.status for post in posts) == sorted(
        [PostStatus.DRAFT, PostStatus.SCHEDULED, PostStatus.SCHEDULED, PostStatus.PUBLISHED]
    )
    assert all(post.workspace_id == workspace.id and post.content.strip() for post in posts)
    assert "lorem" not in " ".join(post.content.lower() for post in posts)
    assert all(destination.social_account_id == account.id for destination in destinations)


def test_scheduled_posts_are_due_in_the_future_and_the_published_one_in_the_past(sqlite_engine):
    _seed(sqlite_engine)
    now = utcnow()

    with Session(sqlite_engine) as session:
        rows = session.exec(select(Post, PostDestination).join(PostDestination)).all()

    by_status = {}
    for post, destination in rows:
        by_status.setdefault(post.status, []).append((post, destination))
    assert len(by_status[PostStatus.SCHEDULED]) == 2
    for post, destination in by_status[PostStatus.SCHEDULED]:
        assert post.scheduled_at > now
        assert destination.status == DestinationStatus.PENDING
        assert destination.next_attempt_at == post.scheduled_at
        assert len(destination.idempotency_key) == 32
    [(published, published_to)] = by_status[PostStatus.PUBLISHED]
    assert published.published_at < now
    assert published_to.status == DestinationStatus.PUBLISHED and published_to.platform_post_id
    assert PostStatus.DRAFT not in by_status  # the draft goes nowhere yet


def test_welcome_bonus_is_ten_credits_and_the_balance_equals_the_ledger(sqlite_engine):
    result = _seed(sqlite_engine)

    with Session(sqlite_engine) as session:
        workspace = session.get(Workspace, result.workspace_id)
        ledger = session.exec(select(CreditTransaction)).all()

    assert workspace.credits == 10
    assert sum(row.amount for row in ledger) == workspace.credits
    [bonus] = ledger
    assert (bonus.type, bonus.amount, bonus.balance_after) == (TransactionType.BONUS, 10, 10)
    assert bonus.idempotency_key == welcome_bonus_key(result.user_id)


def test_the_printed_password_signs_in(sqlite_engine):
    result = _seed(sqlite_engine)

    with Session(sqlite_engine) as session:
        user = session.exec(select(User)).one()
    assert verify_password(user.password_hash, result.password)
    assert not verify_password(user.password_hash, result.password + "x")


def test_a_chosen_password_and_email_are_used(sqlite_engine):
    result = _seed(sqlite_engine, email="  Team@Example.COM ", password="my demo password")

    with Session(sqlite_engine) as session:
        user = session.exec(select(User)).one()
    assert result.email == user.email == "team@example.com"
    assert result.password == "my demo password"
    assert verify_password(user.password_hash, "my demo password")


def test_second_run_changes_nothing_and_returns_no_password(sqlite_engine):
    first = _seed(sqlite_engine)
    counts_after_first = _row_counts(sqlite_engine)
    with Session(sqlite_engine) as session:
        hash_after_first = session.exec(select(User.password_hash)).one()

    second = _seed(sqlite_engine)

    assert not second.created and second.password is None
    assert (second.user_id, second.workspace_id) == (first.user_id, first.workspace_id)
    assert _row_counts(sqlite_engine) == counts_after_first
    with Session(sqlite_engine) as session:
        assert session.exec(select(User.password_hash)).one() == hash_after_first


def test_reset_password_sets_a_new_one_and_adds_nothing_else(sqlite_engine):
    first = _seed(sqlite_engine)
    counts_after_first = _row_counts(sqlite_engine)

    reset = _seed(sqlite_engine, reset_password=True)

    assert not reset.created and reset.password and reset.password != first.password
    assert _row_counts(sqlite_engine) == counts_after_first
    with Session(sqlite_engine) as session:
        user = session.exec(select(User)).one()
    assert verify_password(user.password_hash, reset.password)
    assert not verify_password(user.password_hash, first.password)


def test_demo_workspace_gets_its_own_slug_when_demo_is_taken(sqlite_engine):
    with Session(sqlite_engine) as session:
        session.add(Workspace(name="Someone else's", slug="demo"))
        session.commit()

    result = _seed(sqlite_engine)

    with Session(sqlite_engine) as session:
        workspace = session.get(Workspace, result.workspace_id)
    assert workspace.slug.startswith("demo-") and workspace.name == "Demo workspace"


def test_bad_email_or_blank_password_is_refused(sqlite_engine):
    with Session(sqlite_engine) as session:
        with pytest.raises(ValueError, match="email"):
            seed_demo(session, email="not-an-address")
        with pytest.raises(ValueError, match="blank"):
            seed_demo(session, password="   ")
        assert session.exec(select(User)).all() == []

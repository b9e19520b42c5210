"""Twenty first sign-ins for one identity, racing a webhook for the same person, on PostgreSQL.

All twenty-one callers are released together by a barrier; each has a connection of its own.
Whatever the interleaving, there must be exactly one user, one personal workspace, one admin
membership, one welcome-bonus row and a balance of 10.
"""

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, create_engine, select

from postforge.models import AuthIdentity, CreditTransaction, IdentityEvent, Membership, Role, User, Workspace
from postforge.services.identity.identity_webhooks import apply_identity_event, record_identity_event
from postforge.services.identity.onboarding import ensure_identity_user

SIGN_INS = 20
JOIN_TIMEOUT_SECONDS = 60


@pytest.fixture
def wide_engine(postgres_engine: Engine, migrated_postgres_url: str) -> Iterator[Engine]:
    """A pool with a connection for every racer (postgres_engine empties the tables afterwards)."""
    engine = create_engine(migrated_postgres_url, pool_size=SIGN_INS + 2, max_overflow=0, pool_timeout=30)
    yield engine
    engine.dispose()


def clerk_event(clerk_id: str, email: str) -> dict:
    return {
        "type": "user.created",
        "data": {
            "id": clerk_id,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "primary_email_address_id": "idn_1",
            "email_addresses": [
                {"id": "idn_1", "email_address": email, "verification": {"status": "verified"}},
            ],
        },
    }


def race(calls: list[Callable[[], object]]) -> list[object]:
    barrier = threading.Barrier(len(calls), timeout=JOIN_TIMEOUT_SECONDS)

    def released_together(call: Callable[[], object]) -> object:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(released_together, call) for call in calls]
        return [future.result(timeout=JOIN_TIMEOUT_SECONDS) for future in futures]


@pytest.mark.parametrize(
    ("provider", "issuer", "subject", "identities"),
    [
        pytest.param("clerk", "clerk", "user_race", 1, id="sign-ins-and-webhook-for-the-same-clerk-identity"),
        pytest.param(
            "oidc",
            "https://idp.example",
            "oidc-subject",
            2,
            id="oidc-sign-ins-and-a-clerk-webhook-for-the-same-email",
        ),
    ],
)
def test_twenty_first_sign_ins_and_a_webhook_make_exactly_one_user(
    wide_engine, provider, issuer, subject, identities
):
    email = "ada@example.com"
    with Session(wide_engine) as session:
        record_identity_event(session, event_id="msg_race", payload=clerk_event("user_race", email))
        session.commit()

    def sign_in() -> int:
        user = ensure_identity_user(
            wide_engine,
            provider=provider,
            issuer=issuer,
            subject=subject,
            email=email,
            email_verified=True,
            name="Ada",
        )
        return user.id

    results = race([sign_in] * SIGN_INS + [lambda: apply_identity_event(wide_engine, "msg_race")])

    user_ids, webhook_outcome = set(results[:SIGN_INS]), results[SIGN_INS]
    assert webhook_outcome == "applied"
    with Session(wide_engine) as session:
        users = session.exec(select(User)).all()
        workspaces = session.exec(select(Workspace)).all()
        memberships = session.exec(select(Membership)).all()
        ledger = session.exec(select(CreditTransaction)).all()
        linked = session.exec(select(func.count()).select_from(AuthIdentity)).one()
        event = session.get(IdentityEvent, "msg_race")
    assert len(users) == 1 and user_ids == {users[0].id}
    assert len(workspaces) == 1 and workspaces[0].is_personal and workspaces[0].created_by_id == users[0].id
    assert [(m.user_id, m.workspace_id, m.role) for m in memberships] == [
        (users[0].id, workspaces[0].id, Role.ADMIN)
    ]
    assert [(t.amount, t.balance_after, t.idempotency_key) for t in ledger] == [
        (10, 10, f"welcome-bonus:user:{users[0].id}")
    ]
    assert workspaces[0].credits == 10
    assert linked == identities
    assert event.processed_at is not None and event.error == ""


def test_repeated_races_for_different_people_stay_separate(wide_engine):
    """Several identities at once: each gets exactly its own user and bonus."""

    def sign_in(number: int) -> Callable[[], int]:
        def call() -> int:
            return ensure_identity_user(
                wide_engine,
                provider="oidc",
                issuer="https://idp.example",
                subject=f"person-{number}",
                email=f"person{number}@example.com",
                email_verified=True,
            ).id

        return call

    results = race([sign_in(n % 4) for n in range(SIGN_INS)])

    with Session(wide_engine) as session:
        users = session.exec(select(func.count()).select_from(User)).one()
        bonuses = session.exec(select(func.count()).select_from(CreditTransaction)).one()
        balances = session.exec(select(Workspace.credits)).all()
    assert len(set(results)) == 4 and users == 4 and bonuses == 4
    assert sorted(balances) == [10, 10, 10, 10]

"""Clerk webhooks: svix signatures on the raw body, store once, apply user.created/updated/deleted once."""

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from starlette.applications import Starlette
from svix.webhooks import Webhook

from postforge.api.webhooks import ClerkWebhookConfig, clerk_webhook_route
from postforge.models import (
    AuthIdentity,
    CreditTransaction,
    IdentityEvent,
    Membership,
    Payment,
    Post,
    Role,
    User,
    UserSession,
    Workspace,
)
from postforge.services.identity import identity_webhooks
from postforge.services.identity.identity_webhooks import (
    apply_identity_event,
    enqueue_identity_event,
    parse_clerk_user,
    record_identity_event,
    register_enqueuer,
    unprocessed_event_ids,
    verify_clerk_webhook,
)
from postforge.services.kernel.errors import ValidationFailed
from tests.support.factories import (
    make_membership,
    make_payment,
    make_post,
    make_user,
    make_user_session,
    make_workspace,
)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="


def clerk_user(user_id: str = "user_2abc", *, email: str = "ada@example.com", verified: bool = True, **extra):
    return {
        "id": user_id,
        "object": "user",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "primary_email_address_id": "idn_1",
        "email_addresses": [
            {"id": "idn_0", "email_address": "old@example.com", "verification": {"status": "verified"}},
            {
                "id": "idn_1",
                "email_address": email,
                "verification": {"status": "verified" if verified else "unverified"},
            },
        ],
        **extra,
    }


def event(event_type: str, data: dict) -> dict:
    return {"type": event_type, "object": "event", "data": data}


def signed(
    payload: dict | str, *, msg_id: str = "msg_1", secret: str = SECRET, sent_at: datetime | None = None
):
    body = payload if isinstance(payload, str) else json.dumps(payload)
    sent_at = sent_at or datetime.now(UTC)
    headers = {
        "svix-id": msg_id,
        "svix-timestamp": str(int(sent_at.timestamp())),
        "svix-signature": Webhook(secret).sign(msg_id, sent_at, body),
        "content-type": "application/json",
    }
    return body.encode(), headers


def store(engine: Engine, payload: dict, msg_id: str) -> str:
    with Session(engine) as session:
        record_identity_event(session, event_id=msg_id, payload=payload)
        session.commit()
    return msg_id


def deliver_and_apply(engine: Engine, payload: dict, msg_id: str) -> str:
    return apply_identity_event(engine, store(engine, payload, msg_id))


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            model.__tablename__: session.exec(select(func.count()).select_from(model)).one()
            for model in (IdentityEvent, User, Workspace, Membership, CreditTransaction, AuthIdentity)
        }


@pytest.fixture
def queued() -> list[str]:
    return []


@pytest.fixture
async def client(sqlite_engine: Engine, queued: list[str]) -> AsyncIterator[httpx.AsyncClient]:
    config = ClerkWebhookConfig(secret=SECRET, source=sqlite_engine, enqueue=queued.append)
    app = Starlette(routes=[clerk_webhook_route(lambda: config)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http


async def post(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/api/webhooks/clerk", content=body, headers=headers)


# --- the route ---------------------------------------------------------------------------------------


async def test_a_signed_event_is_stored_and_queued(client, sqlite_engine, queued):
    payload = event("user.created", clerk_user())
    response = await post(client, *signed(payload, msg_id="msg_created"))

    assert response.status_code == 200 and response.json() == {"id": "msg_created"}
    assert queued == ["msg_created"]
    with Session(sqlite_engine) as session:
        stored = session.get(IdentityEvent, "msg_created")
    assert (stored.provider, stored.type, stored.payload, stored.processed_at) == (
        "clerk",
        "user.created",
        payload,
        None,
    )
    assert counts(sqlite_engine)["users"] == 0  # applying is the worker's job


async def test_a_duplicate_delivery_stores_nothing_new(client, sqlite_engine, queued):
    body, headers = signed(event("user.created", clerk_user()), msg_id="msg_dup")
    await post(client, body, headers)
    # Still unprocessed (the first enqueue may have been lost): a redelivery queues it again.
    assert (await post(client, body, headers)).status_code == 200
    assert queued == ["msg_dup", "msg_dup"]

    apply_identity_event(sqlite_engine, "msg_dup")
    before = counts(sqlite_engine)
    assert (await post(client, body, headers)).status_code == 200

    assert queued == ["msg_dup", "msg_dup"]  # processed: nothing left to do
    assert counts(sqlite_engine) == before and before["identity_events"] == 1


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda body, headers: (
                body,
                {**headers, "svix-signature": signed({}, secret=OTHER_SECRET)[1]["svix-signature"]},
            ),
            id="wrong-secret",
        ),
        pytest.param(lambda body, headers: (body.replace(b"Ada", b"Eve"), headers), id="tampered-body"),
        pytest.param(
            lambda body, headers: (body, {**headers, "svix-id": "msg_other"}), id="other-message-id"
        ),
        pytest.param(
            lambda body, headers: (body, {k: v for k, v in headers.items() if k != "svix-signature"}),
            id="no-signature",
        ),
        pytest.param(
            lambda body, headers: (body, {**headers, "svix-signature": "garbage"}), id="malformed-signature"
        ),
        pytest.param(
            lambda body, headers: (body, {**headers, "svix-signature": "v1,not base64!"}), id="bad-base64"
        ),
        pytest.param(
            lambda body, headers: (body, {**headers, "svix-timestamp": "yesterday"}), id="bad-timestamp"
        ),
        pytest.param(lambda body, headers: (b"\xff\xfe" + body, headers), id="not-utf8"),
    ],
)
async def test_a_bad_signature_is_refused_and_nothing_is_stored(client, sqlite_engine, queued, tamper):
    body, headers = tamper(*signed(event("user.created", clerk_user()), msg_id="msg_bad"))

    response = await post(client, body, headers)

    assert response.status_code == 400
    assert response.json() == {"error": "The webhook signature is not valid."}
    assert queued == [] and counts(sqlite_engine)["identity_events"] == 0


async def test_a_replay_older_than_five_minutes_is_refused(client, sqlite_engine, queued):
    stale = datetime.now(UTC) - timedelta(minutes=10)
    response = await post(client, *signed(event("user.created", clerk_user()), sent_at=stale))

    assert response.status_code == 400
    assert queued == [] and counts(sqlite_engine)["identity_events"] == 0


@pytest.mark.parametrize("body", ["[1, 2]", '{"data": {}}', "not json"])
async def test_a_signed_body_that_is_no_event_is_refused(client, sqlite_engine, queued, body):
    response = await post(client, *signed(body))

    assert response.status_code == 400
    assert queued == [] and counts(sqlite_engine)["identity_events"] == 0


async def test_an_oversized_body_is_refused(client, sqlite_engine):
    huge = event("user.created", clerk_user(padding="x" * (identity_webhooks.MAX_BODY_BYTES + 1)))
    response = await post(client, *signed(huge))

    assert response.status_code == 413
    assert counts(sqlite_engine)["identity_events"] == 0


@pytest.mark.parametrize(("secret", "message"), [("", "not configured"), ("whsec_%%%", "malformed")])
async def test_a_server_without_a_usable_secret_answers_503(sqlite_engine, secret, message):
    config = ClerkWebhookConfig(secret=secret, source=sqlite_engine, enqueue=lambda event_id: None)
    app = Starlette(routes=[clerk_webhook_route(lambda: config)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        response = await post(http, *signed(event("user.created", clerk_user())))

    assert response.status_code == 503 and message in response.json()["error"]
    assert counts(sqlite_engine)["identity_events"] == 0


async def test_a_failing_enqueue_still_answers_200_and_keeps_the_event(sqlite_engine, caplog):
    def broker_down(event_id: str) -> None:
        raise ConnectionError("broker unreachable")

    config = ClerkWebhookConfig(secret=SECRET, source=sqlite_engine, enqueue=broker_down)
    app = Starlette(routes=[clerk_webhook_route(lambda: config)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        response = await post(http, *signed(event("user.created", clerk_user()), msg_id="msg_kept"))

    assert response.status_code == 200
    assert "could not enqueue identity event msg_kept" in caplog.text
    with Session(sqlite_engine) as session:
        assert unprocessed_event_ids(session, older_than=timedelta(0)) == ["msg_kept"]


def test_verify_returns_the_parsed_event():
    payload = event("user.updated", clerk_user())
    body, headers = signed(payload)
    assert verify_clerk_webhook(SECRET, body, headers) == payload
    with pytest.raises(ValidationFailed, match="signature"):
        verify_clerk_webhook(OTHER_SECRET, body, headers)


# --- the enqueue port ----------------------------------------------------------------------------------


def test_the_enqueue_port_calls_the_registered_worker_function(caplog):
    sent: list[str] = []
    try:
        register_enqueuer(sent.append)
        assert enqueue_identity_event("msg_a") is True

        register_enqueuer(lambda event_id: 1 / 0)
        with caplog.at_level(logging.ERROR):
            assert enqueue_identity_event("msg_b") is False

        register_enqueuer(None)
        assert enqueue_identity_event("msg_c") is False
    finally:
        register_enqueuer(None)
    assert sent == ["msg_a"]
    assert "msg_b" in caplog.text and "msg_c" in caplog.text


# --- applying ----------------------------------------------------------------------------------------


def test_user_created_makes_the_user_with_workspace_and_bonus_once(sqlite_engine):
    payload = event("user.created", clerk_user())

    assert deliver_and_apply(sqlite_engine, payload, "msg_1") == "applied"
    assert apply_identity_event(sqlite_engine, "msg_1") == "already processed"
    # The directory sends the same user again under another message id: still one of everything.
    assert deliver_and_apply(sqlite_engine, payload, "msg_2") == "applied"

    assert counts(sqlite_engine) == {
        "identity_events": 2,
        "users": 1,
        "workspaces": 1,
        "memberships": 1,
        "credit_transactions": 1,
        "auth_identities": 1,
    }
    with Session(sqlite_engine) as session:
        user = session.exec(select(User)).one()
        identity = session.exec(select(AuthIdentity)).one()
        events = session.exec(select(IdentityEvent)).all()
    assert (user.email, user.name) == ("ada@example.com", "Ada Lovelace")
    assert (identity.provider, identity.subject) == ("clerk", "user_2abc")
    assert all(e.processed_at is not None and e.error == "" for e in events)


def test_user_created_links_to_an_existing_account_with_the_verified_email(sqlite_engine):
    with Session(sqlite_engine, expire_on_commit=False) as session:
        existing = make_user(session, email="ada@example.com")
        session.commit()

    deliver_and_apply(sqlite_engine, event("user.created", clerk_user()), "msg_1")

    with Session(sqlite_engine) as session:
        identity = session.exec(select(AuthIdentity)).one()
    assert identity.user_id == existing.id and counts(sqlite_engine)["users"] == 1


def test_a_directory_user_takes_an_unverified_account_away_from_whoever_registered_it(sqlite_engine):
    with Session(sqlite_engine, expire_on_commit=False) as session:
        squatted = make_user(session, email="ada@example.com", password_hash="$argon2id$squatters-password")
        make_user_session(session, squatted)
        session.commit()

    deliver_and_apply(sqlite_engine, event("user.created", clerk_user()), "msg_1")

    with Session(sqlite_engine) as session:
        user = session.get(User, squatted.id)
        identity = session.exec(select(AuthIdentity)).one()
        open_sessions = session.exec(select(UserSession).where(UserSession.revoked_at.is_(None))).all()
    assert identity.user_id == squatted.id
    assert user.password_hash is None and open_sessions == []
    assert user.email_verified_at is not None


def test_user_updated_to_a_verified_address_marks_it_verified(sqlite_engine):
    deliver_and_apply(sqlite_engine, event("user.created", clerk_user()), "msg_1")
    with Session(sqlite_engine) as session:
        user = session.exec(select(User)).one()
        user.email_verified_at = None
        session.add(user)
        session.commit()

    deliver_and_apply(sqlite_engine, event("user.updated", clerk_user(email="ada.king@example.com")), "msg_2")

    with Session(sqlite_engine) as session:
        user = session.exec(select(User)).one()
    assert user.email == "ada.king@example.com" and user.email_verified_at is not None


def test_an_unverified_email_is_refused_and_recorded_on_the_event(sqlite_engine):
    outcome = deliver_and_apply(sqlite_engine, event("user.created", clerk_user(verified=False)), "msg_1")

    assert outcome.startswith("refused:") and "not verified" in outcome
    with Session(sqlite_engine) as session:
        stored = session.get(IdentityEvent, "msg_1")
    assert stored.processed_at is not None and "not verified" in stored.error
    assert counts(sqlite_engine)["users"] == 0


def test_user_updated_follows_name_and_verified_email(sqlite_engine):
    deliver_and_apply(sqlite_engine, event("user.created", clerk_user()), "msg_1")
    changed = clerk_user(email="Ada.King@Example.com", first_name="Augusta", last_name="King")

    assert deliver_and_apply(sqlite_engine, event("user.updated", changed), "msg_2") == "applied"

    with Session(sqlite_engine) as session:
        user = session.exec(select(User)).one()
        identity = session.exec(select(AuthIdentity)).one()
    assert (user.email, user.name, identity.email) == (
        "ada.king@example.com",
        "Augusta King",
        "ada.king@example.com",
    )


def test_user_updated_with_an_unverified_email_keeps_the_old_one(sqlite_engine):
    deliver_and_apply(sqlite_engine, event("user.created", clerk_user()), "msg_1")

    deliver_and_apply(
        sqlite_engine, event("user.updated", clerk_user(email="new@example.com", verified=False)), "msg_2"
    )

    with Session(sqlite_engine) as session:
        assert session.exec(select(User)).one().email == "ada@example.com"


def test_user_updated_to_another_accounts_email_is_refused(sqlite_engine):
    with Session(sqlite_engine) as session:
        make_user(session, email="taken@example.com")
        session.commit()
    deliver_and_apply(sqlite_engine, event("user.created", clerk_user()), "msg_1")

    outcome = deliver_and_apply(
        sqlite_engine, event("user.updated", clerk_user(email="taken@example.com")), "msg_2"
    )

    assert "already belongs to another" in outcome
    with Session(sqlite_engine) as session:
        emails = set(session.exec(select(User.email)).all())
        assert "already belongs" in session.get(IdentityEvent, "msg_2").error
    assert emails == {"taken@example.com", "ada@example.com"}


def test_user_updated_for_an_unknown_user_creates_it(sqlite_engine):
    deliver_and_apply(sqlite_engine, event("user.updated", clerk_user()), "msg_1")
    assert counts(sqlite_engine)["users"] == 1 and counts(sqlite_engine)["credit_transactions"] == 1


def test_user_deleted_removes_personal_data_and_keeps_team_workspaces(sqlite_engine):
    deliver_and_apply(sqlite_engine, event("user.created", clerk_user()), "msg_1")
    with Session(sqlite_engine, expire_on_commit=False) as session:
        user = session.exec(select(User)).one()
        personal = session.exec(select(Workspace)).one()
        make_post(session, personal, author=user)
        make_user_session(session, user)
        make_payment(session, personal, user_id=user.id)
        team = make_workspace(session, owner=user, name="Team")
        make_membership(session, team, user, role=Role.ADMIN)
        colleague = make_user(session, email="colleague@example.com")
        make_membership(session, team, colleague, role=Role.EDITOR)
        team_post = make_post(session, team, author=user)
        session.commit()

    outcome = deliver_and_apply(
        sqlite_engine, event("user.deleted", {"id": "user_2abc", "deleted": True}), "msg_9"
    )

    assert outcome == "applied"
    with Session(sqlite_engine) as session:
        assert session.get(User, user.id) is None
        assert session.get(Workspace, personal.id) is None
        assert session.exec(select(UserSession)).all() == []
        assert session.exec(select(AuthIdentity)).all() == []
        assert session.exec(select(CreditTransaction)).all() == []
        remaining_posts = session.exec(select(Post)).all()
        payment = session.exec(select(Payment)).one()  # money records stay, anonymised
        memberships = session.exec(select(Membership)).all()
    assert [p.id for p in remaining_posts] == [team_post.id] and remaining_posts[0].author_id is None
    assert (payment.user_id, payment.workspace_id) == (None, None)
    # The team keeps going, and its remaining member now runs it.
    assert [(m.workspace_id, m.user_id, m.role) for m in memberships] == [(team.id, colleague.id, Role.ADMIN)]


def test_user_deleted_twice_or_for_an_unknown_user_changes_nothing(sqlite_engine):
    deliver_and_apply(sqlite_engine, event("user.created", clerk_user()), "msg_1")
    deliver_and_apply(sqlite_engine, event("user.deleted", {"id": "user_2abc", "deleted": True}), "msg_2")
    before = counts(sqlite_engine)

    assert apply_identity_event(sqlite_engine, "msg_2") == "already processed"
    outcome = deliver_and_apply(
        sqlite_engine, event("user.deleted", {"id": "user_2abc", "deleted": True}), "msg_3"
    )

    assert outcome == "ignored: no such user"
    assert counts(sqlite_engine) == {**before, "identity_events": before["identity_events"] + 1}


def test_a_late_user_created_does_not_bring_a_deleted_user_back(sqlite_engine):
    deliver_and_apply(sqlite_engine, event("user.created", clerk_user()), "msg_1")
    deliver_and_apply(sqlite_engine, event("user.deleted", {"id": "user_2abc", "deleted": True}), "msg_3")

    # The directory redelivers an older message after the deletion.
    outcome = deliver_and_apply(sqlite_engine, event("user.updated", clerk_user()), "msg_2")

    assert outcome == "ignored: the user was deleted in the directory"
    assert counts(sqlite_engine)["users"] == 0


def test_other_events_are_marked_processed_and_ignored(sqlite_engine):
    outcome = deliver_and_apply(sqlite_engine, event("session.created", {"id": "sess_1"}), "msg_1")

    assert outcome == "ignored: session.created is not a user event"
    with Session(sqlite_engine) as session:
        assert session.get(IdentityEvent, "msg_1").processed_at is not None
    assert apply_identity_event(sqlite_engine, "msg_missing") == "unknown event"


@pytest.mark.parametrize("data", [None, "user_2abc", {"id": ""}])
def test_a_user_event_without_a_user_is_refused_and_recorded(sqlite_engine, data):
    outcome = deliver_and_apply(sqlite_engine, {"type": "user.created", "data": data}, "msg_1")

    assert outcome.startswith("refused:")
    with Session(sqlite_engine) as session:
        assert session.get(IdentityEvent, "msg_1").error
    assert counts(sqlite_engine)["users"] == 0


def test_an_unexpected_failure_leaves_the_event_for_a_retry(sqlite_engine, monkeypatch):
    store(sqlite_engine, event("user.created", clerk_user()), "msg_1")

    def database_gone(*args, **kwargs):
        raise ConnectionError("database went away")

    monkeypatch.setattr(identity_webhooks, "ensure_identity_user", database_gone)
    with pytest.raises(ConnectionError):
        apply_identity_event(sqlite_engine, "msg_1")
    monkeypatch.undo()

    with Session(sqlite_engine) as session:
        assert unprocessed_event_ids(session, older_than=timedelta(0)) == ["msg_1"]
    assert apply_identity_event(sqlite_engine, "msg_1") == "applied"


def test_a_stored_event_id_must_not_be_blank(sqlite_engine):
    with Session(sqlite_engine) as session, pytest.raises(ValidationFailed, match="no message id"):
        record_identity_event(session, event_id=" ", payload={"type": "user.created"})


def test_parse_clerk_user_reads_the_primary_address_and_name():
    parsed = parse_clerk_user(clerk_user(first_name="", last_name="", username="ada99"))
    assert (parsed.id, parsed.email, parsed.email_verified, parsed.name) == (
        "user_2abc",
        "ada@example.com",
        True,
        "ada99",
    )
    no_email = parse_clerk_user({"id": "user_x", "email_addresses": []})
    assert (no_email.email, no_email.email_verified) == (None, False)

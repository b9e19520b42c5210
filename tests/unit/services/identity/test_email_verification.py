"""Email verification: a single-use, expiring link mailed at registration, a resend, and what proves
an address (the link, a reset link, a provider that vouches for it)."""

import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from postforge.models import EmailVerificationToken, OutboxMessage, User, utcnow
from postforge.services.identity import accounts_auth, email_verification
from postforge.services.kernel.errors import RateLimited, ValidationFailed
from postforge.settings import get_settings

APP_URL = "https://postforge.test"
PASSWORD = "tulip-Orbit-93"
LINK = re.compile(re.escape(APP_URL) + r"/verify-email\?token=([A-Za-z0-9_-]+)")


@pytest.fixture(autouse=True)
def embedded_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setenv("SMTP_URL", "")
    monkeypatch.setenv("APP_URL", APP_URL)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def register(engine: Engine, email: str = "ada@example.com") -> User:
    with Session(engine, expire_on_commit=False) as session:
        user = accounts_auth.register(session, email=email, password=PASSWORD, name="Ada Lovelace")
        session.commit()
    assert user is not None
    return user


def mails_to(engine: Engine, address: str) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(OutboxMessage).where(OutboxMessage.to_address == address).order_by(OutboxMessage.id)
            ).all()
        )


def latest_link(engine: Engine, address: str) -> str:
    found = LINK.findall(mails_to(engine, address)[-1].body_text)
    assert found, "the mail carries no verification link"
    return found[0]


def consume(engine: Engine, token: str) -> User:
    with Session(engine, expire_on_commit=False) as session:
        user = email_verification.consume_link(session, token)
        session.commit()
    return user


def stored_user(engine: Engine, user_id: int) -> User:
    with Session(engine) as session:
        user = session.get(User, user_id)
    assert user is not None
    return user


def test_registration_mails_a_one_day_link_and_stores_only_its_hash(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)

    [mail] = mails_to(sqlite_engine, "ada@example.com")
    token = latest_link(sqlite_engine, "ada@example.com")
    with Session(sqlite_engine) as session:
        [row] = session.exec(select(EmailVerificationToken)).all()
    assert "Confirm your email" in mail.subject
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
    assert (row.user_id, row.email) == (user.id, "ada@example.com")
    assert row.expires_at - row.created_at == pytest.approx(timedelta(hours=24), abs=timedelta(seconds=5))
    assert stored_user(sqlite_engine, user.id).email_verified_at is None


def test_the_link_verifies_the_address_once(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)
    token = latest_link(sqlite_engine, "ada@example.com")

    verified = consume(sqlite_engine, token)

    assert verified.id == user.id
    assert stored_user(sqlite_engine, user.id).email_verified_at is not None
    with pytest.raises(ValidationFailed, match="already been used") as refused:
        consume(sqlite_engine, token)
    assert refused.value.field == "token"


def test_verifying_burns_every_other_open_link(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)
    first = latest_link(sqlite_engine, "ada@example.com")
    with Session(sqlite_engine) as session:
        email_verification.resend_link(session, user.id or 0)
        session.commit()
    second = latest_link(sqlite_engine, "ada@example.com")

    consume(sqlite_engine, second)

    with pytest.raises(ValidationFailed, match="already been used"):
        consume(sqlite_engine, first)


def test_an_expired_link_is_refused_and_changes_nothing(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)
    token = latest_link(sqlite_engine, "ada@example.com")
    with Session(sqlite_engine) as session:
        row = session.exec(select(EmailVerificationToken)).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
        session.commit()

    with pytest.raises(ValidationFailed, match="expired"):
        consume(sqlite_engine, token)
    assert stored_user(sqlite_engine, user.id).email_verified_at is None


@pytest.mark.parametrize("token", ["", "short", "x" * 43, "not a token at all!", None, 42])
def test_unknown_or_malformed_links_are_refused(sqlite_engine: Engine, token) -> None:
    register(sqlite_engine)
    with pytest.raises(ValidationFailed, match="not valid"):
        consume(sqlite_engine, token)


def test_a_tampered_link_is_refused(sqlite_engine: Engine) -> None:
    register(sqlite_engine)
    token = latest_link(sqlite_engine, "ada@example.com")
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")

    with pytest.raises(ValidationFailed, match="not valid"):
        consume(sqlite_engine, tampered)


def test_a_link_for_an_address_the_account_no_longer_uses_is_refused(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)
    token = latest_link(sqlite_engine, "ada@example.com")
    with Session(sqlite_engine) as session:
        stored = session.get(User, user.id)
        stored.email = "ada.king@example.com"
        session.add(stored)
        session.commit()

    with pytest.raises(ValidationFailed, match="no longer uses"):
        consume(sqlite_engine, token)
    assert stored_user(sqlite_engine, user.id).email_verified_at is None


def test_a_link_of_a_disabled_account_is_refused(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)
    token = latest_link(sqlite_engine, "ada@example.com")
    with Session(sqlite_engine) as session:
        stored = session.get(User, user.id)
        stored.is_active = False
        session.add(stored)
        session.commit()

    with pytest.raises(ValidationFailed, match="not valid"):
        consume(sqlite_engine, token)


def test_resend_mails_a_fresh_link_and_is_rate_limited(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(email_verification, "RESEND_PER_USER", (2, 3600))
    user = register(sqlite_engine)

    for _ in range(2):
        with Session(sqlite_engine) as session:
            notice = email_verification.resend_link(session, user.id or 0)
            session.commit()
        assert "ada@example.com" in notice
    with Session(sqlite_engine) as session, pytest.raises(RateLimited, match=r"Try again in \d+"):
        email_verification.resend_link(session, user.id or 0)

    assert len(mails_to(sqlite_engine, "ada@example.com")) == 3  # registration + two resends


def test_resend_for_a_verified_address_is_refused(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)
    consume(sqlite_engine, latest_link(sqlite_engine, "ada@example.com"))

    with Session(sqlite_engine) as session, pytest.raises(ValidationFailed, match="already confirmed"):
        email_verification.resend_link(session, user.id or 0)


def test_a_password_reset_link_also_proves_the_address_and_burns_verification_links(
    sqlite_engine: Engine,
) -> None:
    user = register(sqlite_engine)
    verification = latest_link(sqlite_engine, "ada@example.com")
    with Session(sqlite_engine) as session:
        accounts_auth.request_password_reset(session, email="ada@example.com")
        session.commit()
    reset = re.search(
        r"reset-password\?token=([A-Za-z0-9_-]+)", mails_to(sqlite_engine, "ada@example.com")[-1].body_text
    )
    assert reset

    with Session(sqlite_engine) as session:
        accounts_auth.reset_password(session, token=reset.group(1), new_password="Harbor-lamp-27")
        session.commit()

    assert stored_user(sqlite_engine, user.id).email_verified_at is not None
    with pytest.raises(ValidationFailed, match="already been used"):
        consume(sqlite_engine, verification)


def test_the_session_says_whether_the_address_is_verified(sqlite_engine: Engine) -> None:
    user = register(sqlite_engine)
    with Session(sqlite_engine, expire_on_commit=False) as session:
        token = accounts_auth.create_session(session, session.get(User, user.id))
        session.commit()

    def verified_in_session() -> bool:
        with Session(sqlite_engine) as session:
            context = accounts_auth.resolve_session(session, token)
            session.commit()
        assert context is not None
        return context.email_verified

    assert verified_in_session() is False
    consume(sqlite_engine, latest_link(sqlite_engine, "ada@example.com"))
    assert verified_in_session() is True

"""The sign-up and verification forms as the browser drives them (Reflex states on a temporary database)."""

import re

import pytest
import reflex as rx
from sqlmodel import Session, func, select

from postforge.db import get_engine
from postforge.models import OutboxMessage, UserSession
from postforge.services.identity import accounts_auth
from postforge.state.auth_forms import RegisterState, VerifyEmailState
from postforge.state.shell import ShellState

PASSWORD = "tulip-Orbit-93"


@pytest.fixture
def app_env() -> dict[str, str]:
    return {
        "REDIS_URL": "",
        "SMTP_URL": "",
        "APP_URL": "https://postforge.test",
    }


async def submit_registration(email: str) -> RegisterState:
    form = await rx.State().get_state(RegisterState)
    await form.submit({"name": "Ada Lovelace", "email": email, "password": PASSWORD, "timezone": "UTC"})
    return form


def sessions() -> int:
    with Session(get_engine()) as session:
        return session.exec(select(func.count()).select_from(UserSession)).one()


def verification_token(address: str) -> str:
    with Session(get_engine()) as session:
        body = session.exec(
            select(OutboxMessage.body_text)
            .where(OutboxMessage.to_address == address, OutboxMessage.subject.contains("Confirm"))
            .order_by(OutboxMessage.id.desc())
        ).first()
    assert body, f"no verification mail to {address}"
    return re.search(r"verify-email\?token=([A-Za-z0-9_-]+)", body).group(1)


async def test_a_new_and_a_taken_email_get_the_same_answer_and_neither_signs_in(app_database) -> None:
    with Session(get_engine()) as session:
        accounts_auth.register(session, email="taken@example.com", password=PASSWORD, name="Owner")
        session.commit()

    new = await submit_registration("new@example.com")
    taken = await submit_registration("taken@example.com")

    assert new.error == taken.error == ""
    assert new.sent_to == "new@example.com" and taken.sent_to == "taken@example.com"
    assert new.notice == "We sent a link to new@example.com. Open it to finish signing up."
    assert taken.notice == new.notice.replace("new@", "taken@")
    assert new.session_token == taken.session_token == ""
    assert sessions() == 0


async def test_a_refused_registration_keeps_what_was_typed_and_says_why(app_database) -> None:
    form = await rx.State().get_state(RegisterState)
    await form.submit({"name": "Ada", "email": "ada@example.com", "password": "password", "timezone": "UTC"})

    assert form.error_field == "password" and form.error
    assert form.email == "ada@example.com" and form.sent_to == ""


async def test_the_verification_link_signs_the_new_member_in(app_database) -> None:
    await submit_registration("ada@example.com")
    page = await rx.State().get_state(VerifyEmailState)

    await page.verify(verification_token("ada@example.com"))

    assert page.error == "" and page.session_token
    with Session(get_engine()) as session:
        context = accounts_auth.resolve_session(session, page.session_token)
    assert context is not None and context.email == "ada@example.com" and context.email_verified


async def test_a_used_verification_link_says_so_and_signs_nobody_in(app_database) -> None:
    await submit_registration("ada@example.com")
    token = verification_token("ada@example.com")
    first = await rx.State().get_state(VerifyEmailState)
    await first.verify(token)

    again = await rx.State().get_state(VerifyEmailState)
    await again.verify(token)

    assert "already been used" in again.error and again.session_token == ""
    assert sessions() == 1


async def test_the_shell_marks_an_unverified_member_and_resends_the_link(app_database) -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        user = accounts_auth.register(session, email="ada@example.com", password=PASSWORD, name="Ada")
        token = accounts_auth.create_session(session, user)
        session.commit()
    shell = await rx.State().get_state(ShellState)
    shell.session_token = token

    await shell.load_shell()
    assert shell.email_verified is False

    await shell.resend_verification()
    with Session(get_engine()) as session:
        confirmations = session.exec(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.to_address == "ada@example.com", OutboxMessage.subject.contains("Confirm"))
        ).one()
    assert confirmations == 2  # registration + resend

    verifier = await rx.State().get_state(VerifyEmailState)
    await verifier.verify(verification_token("ada@example.com"))
    await shell.load_shell()
    assert shell.email_verified is True

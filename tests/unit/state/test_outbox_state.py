"""The dev outbox holds people's reset and invitation links: only a signed-in system admin reads it.

Everyone else gets the app's not-found page, and the messages never reach their browser (state).
"""

import pytest
import reflex as rx
from sqlmodel import Session

from postforge import routes
from postforge.db import get_engine
from postforge.models import User
from postforge.services.identity import accounts_auth
from postforge.services.infra import mail
from postforge.state.auth import AuthState
from postforge.state.outbox import OutboxState
from tests.support.factories import make_user

RESET_LINK = "http://localhost:3000/reset-password?token=secret-reset-token"


@pytest.fixture
def app_env() -> dict[str, str]:
    return {
        "SMTP_URL": "",
        "ENVIRONMENT": "embedded",
    }


@pytest.fixture
def tokens(app_database: str) -> dict[str, str]:
    """A system admin and an ordinary member, each signed in; one reset mail in the outbox."""
    with Session(get_engine()) as session:
        admin = make_user(session, name="Root", is_admin=True)
        member = make_user(session, name="Mallory")
        mail.send_mail(session, to="victim@example.org", subject="Reset your password", body=RESET_LINK)
        signed_in = {
            "admin": accounts_auth.create_session(session, admin),
            "member": accounts_auth.create_session(session, member),
        }
        session.commit()
        return signed_in


async def visit(token: str) -> tuple[OutboxState, object]:
    root = rx.State()
    auth = await root.get_state(AuthState)
    auth.session_token = token
    outbox = await root.get_state(OutboxState)
    return outbox, await outbox.load()


def redirect_target(answer: object) -> str:
    assert answer is not None, "expected a redirect, got nothing"
    return {str(name): value._var_value for name, value in answer.args}["path"]  # type: ignore[attr-defined]


async def test_a_system_admin_reads_the_outbox(tokens) -> None:
    outbox, answer = await visit(tokens["admin"])

    assert answer is None
    assert outbox.allowed and outbox.available
    assert [m.body_text for m in outbox.messages] == [RESET_LINK]


@pytest.mark.parametrize("who", ["member", "visitor"])
async def test_anyone_else_gets_the_not_found_page_and_no_mail(tokens, who: str) -> None:
    outbox, answer = await visit(tokens.get(who, ""))

    assert redirect_target(answer) == routes.NOT_FOUND
    assert outbox.messages == []
    assert not outbox.allowed and not outbox.available


async def test_mail_loaded_for_an_admin_is_dropped_when_the_tab_is_no_longer_theirs(tokens) -> None:
    root = rx.State()
    auth = await root.get_state(AuthState)
    outbox = await root.get_state(OutboxState)
    auth.session_token = tokens["admin"]
    await outbox.load()
    assert outbox.messages

    auth.session_token = tokens["member"]  # the same tab, someone else signed in
    answer = await outbox.load()

    assert redirect_target(answer) == routes.NOT_FOUND
    assert outbox.messages == []


async def test_a_demoted_admin_loses_the_outbox_at_once(tokens) -> None:
    with Session(get_engine()) as session:
        context = accounts_auth.resolve_session(session, tokens["admin"])
        assert context is not None
        user = session.get(User, context.user_id)
        assert user is not None
        user.is_admin = False
        session.add(user)
        session.commit()

    outbox, answer = await visit(tokens["admin"])

    assert redirect_target(answer) == routes.NOT_FOUND
    assert outbox.messages == []

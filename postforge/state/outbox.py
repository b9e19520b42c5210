"""The dev outbox: mail PostForge sent, readable in the browser when no SMTP server is set.

The mail holds password-reset and invitation links, so only a signed-in system admin reads it;
for everyone else the page does not exist (a redirect to the not-found page) and no message is
ever put in their state, which is what reaches their browser.
"""

import asyncio

import reflex as rx
from pydantic import BaseModel

from postforge import routes
from postforge.db import session_scope
from postforge.services.admin_console import guard
from postforge.services.infra import mail
from postforge.state.auth import AuthState
from postforge.state.public import public_event


class OutboxItem(BaseModel):
    id: int
    to_address: str
    subject: str
    body_text: str
    when: str


def _messages() -> list[OutboxItem]:
    with session_scope() as session:
        return [
            OutboxItem(
                id=m.id or 0,
                to_address=m.to,
                subject=m.subject,
                body_text=m.body,
                when=m.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            )
            for m in mail.list_outbox(session, limit=50)
        ]


def _is_admin(user_id: int) -> bool:
    with session_scope() as session:
        return guard.is_admin(session, user_id)


class OutboxState(rx.State):
    messages: list[OutboxItem] = []
    allowed: bool = False  # a system admin is asking: the page may show anything at all
    available: bool = False  # and mail stays in the outbox here (no SMTP, not production)

    @rx.event
    @public_event  # checks for a system admin itself: everyone else, signed in or not, gets the 404
    async def load(self):
        # Forget what an earlier visitor of this tab saw before deciding who is asking now.
        self.messages, self.allowed, self.available = [], False, False
        auth = await self.get_state(AuthState)
        viewer = await auth.current_user()
        if viewer is None or not await asyncio.to_thread(_is_admin, viewer.user_id):
            return rx.redirect(routes.NOT_FOUND, replace=True)
        self.allowed = True
        # Only embedded mode shows mail in the browser: in production it goes out through SMTP.
        self.available = mail.outbox_is_readable()
        if self.available:
            self.messages = await asyncio.to_thread(_messages)
        return None

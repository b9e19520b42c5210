"""The dev outbox: mail PostForge sent, readable in the browser when no SMTP server is set."""

import asyncio

import reflex as rx
from pydantic import BaseModel

from postforge.db import session_scope
from postforge.services import mail


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


class OutboxState(rx.State):
    messages: list[OutboxItem] = []
    available: bool = False

    @rx.event
    async def load(self):
        # Only embedded mode shows mail in the browser: in production it holds people's reset links.
        self.available = mail.outbox_is_readable()
        self.messages = await asyncio.to_thread(_messages) if self.available else []

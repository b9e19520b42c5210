"""The credits page: the balance (from the shell) and the ledger, paged and filtered on the server."""

import asyncio
import math

import reflex as rx
from pydantic import BaseModel

from postforge.db import session_scope
from postforge.models import TransactionType
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import ServiceError
from postforge.services.ledger import credits
from postforge.services.tenancy import workspaces
from postforge.state.shell import ShellState

PAGE_SIZE = 25
ALL_TYPES = "all"
TYPE_FILTERS = [ALL_TYPES, *(t.value for t in TransactionType)]


class LedgerItem(BaseModel):
    id: int
    when: str
    type: str
    amount: str
    positive: bool
    balance_after: int
    description: str


def _ledger_page(user_id: int, workspace_id: int, page: int, type_filter: str) -> credits.LedgerPage:
    with session_scope() as session:
        workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="read")
        return credits.ledger_page(
            session,
            workspace_id,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
            type=None if type_filter == ALL_TYPES else type_filter,
        )


class CreditsState(rx.State):
    entries: list[LedgerItem] = []
    page: int = 1
    total: int = 0
    type_filter: str = ALL_TYPES

    @rx.var
    def page_count(self) -> int:
        return max(1, math.ceil(self.total / PAGE_SIZE))

    @rx.var
    def has_previous(self) -> bool:
        return self.page > 1

    @rx.var
    def has_next(self) -> bool:
        return self.page < self.page_count

    async def _fetch(self):
        shell = await self.get_state(ShellState)
        if not shell.workspace_id:
            self.entries, self.total, self.page = [], 0, 1
            return None
        try:
            result = await asyncio.to_thread(
                _ledger_page, shell.user_id, shell.workspace_id, self.page, self.type_filter
            )
            if result.rows == [] and result.total and self.page > 1:
                # The filter or new rows moved the last page: show the last one that exists.
                self.page = max(1, math.ceil(result.total / PAGE_SIZE))
                result = await asyncio.to_thread(
                    _ledger_page, shell.user_id, shell.workspace_id, self.page, self.type_filter
                )
        except ServiceError as error:
            self.entries, self.total = [], 0
            return rx.toast.error(error.message)
        self.total = result.total
        self.entries = [
            LedgerItem(
                id=row.id,
                when=timefmt.format_local(row.created_at, shell.user_timezone),
                type=row.type,
                amount=f"{row.amount:+d}",
                positive=row.amount > 0,
                balance_after=row.balance_after,
                description=row.description,
            )
            for row in result.rows
        ]
        return None

    @rx.event
    async def load(self):
        return await self._fetch()

    @rx.event
    async def set_type_filter(self, value: str):
        self.type_filter = value if value in TYPE_FILTERS else ALL_TYPES
        self.page = 1
        return await self._fetch()

    @rx.event
    async def next_page(self):
        if self.page < self.page_count:
            self.page += 1
        return await self._fetch()

    @rx.event
    async def previous_page(self):
        self.page = max(1, self.page - 1)
        return await self._fetch()

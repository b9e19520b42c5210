"""View data for the list pages (posts, accounts, admin): thin calls into services."""

import asyncio

import reflex as rx
from pydantic import BaseModel

from postforge.db import session_scope
from postforge.services import accounts, admin, billing, health, workspaces
from postforge.settings import get_settings
from postforge.state.shell import ShellState


class AccountItem(BaseModel):
    id: int
    platform: str
    handle: str
    display_name: str
    status: str
    last_error: str


class HealthItem(BaseModel):
    name: str
    ok: bool
    detail: str


class OwedItem(BaseModel):
    workspace_id: int
    workspace_name: str
    credits_owed: int
    payments: int


def _in_session(fn, *args):
    with session_scope() as session:
        return fn(session, *args)


def _read(fn, user_id: int, workspace_id: int):
    """Membership is re-checked in the same transaction as the read (tenancy in one place)."""
    with session_scope() as session:
        workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="read")
        return fn(session, workspace_id)


async def _shell(state: rx.State) -> ShellState:
    """The shell loaded by the same on_load chain (sign-in and membership already checked)."""
    return await state.get_state(ShellState)


class AccountsState(rx.State):
    accounts: list[AccountItem] = []

    @rx.event
    async def load(self):
        shell = await _shell(self)
        rows = (
            await asyncio.to_thread(_read, accounts.list_accounts, shell.user_id, shell.workspace_id)
            if shell.workspace_id
            else []
        )
        self.accounts = [AccountItem(**row.__dict__) for row in rows]


class AdminState(rx.State):
    components: list[HealthItem] = []
    users: int = 0
    workspaces: int = 0
    posts: int = 0
    failed_destinations: int = 0
    environment: str = ""
    checkout_mode: str = ""
    broker_mode: str = ""
    owed: list[OwedItem] = []
    stuck_stripe_events: int = 0

    @rx.event
    async def load(self):
        shell = await _shell(self)
        if not shell.is_admin:
            return rx.redirect("/dashboard")
        report = await health.check_health_async()
        self.components = [
            HealthItem(name=name, ok=part.ok, detail=part.detail)
            for name, part in (
                ("Database", report.database),
                ("Broker", report.broker),
                ("Worker", report.worker),
            )
        ]
        counts = await asyncio.to_thread(_in_session, admin.system_counts)
        self.users, self.workspaces = counts.users, counts.workspaces
        self.posts, self.failed_destinations = counts.posts, counts.failed_destinations
        owed = await asyncio.to_thread(_in_session, admin.owed_credits)
        self.owed = [OwedItem(**row.__dict__) for row in owed]
        self.stuck_stripe_events = await asyncio.to_thread(_in_session, admin.stuck_stripe_events)
        settings = get_settings()
        self.environment = settings.environment
        self.checkout_mode = billing.checkout_mode(settings)
        self.broker_mode = "Redis" if settings.redis_url else "embedded (SQLite)"

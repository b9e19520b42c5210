"""View data for the list pages (posts, accounts, credits, admin): thin calls into services."""

import asyncio

import reflex as rx
from pydantic import BaseModel

from postforge.db import session_scope
from postforge.services import accounts, admin, credits, health, posts, timefmt, workspaces
from postforge.settings import get_settings
from postforge.state.shell import ShellState


class PostItem(BaseModel):
    id: int
    content: str
    status: str
    when: str


class AccountItem(BaseModel):
    id: int
    platform: str
    handle: str
    display_name: str
    status: str
    last_error: str


class LedgerItem(BaseModel):
    id: int
    when: str
    type: str
    amount: str
    balance_after: int
    description: str


class HealthItem(BaseModel):
    name: str
    ok: bool
    detail: str


def _in_session(fn, *args):
    with session_scope() as session:
        return fn(session, *args)


def _read(fn, user_id: int, workspace_id: int):
    """Membership is re-checked in the same transaction as the read (tenancy in one place)."""
    with session_scope() as session:
        workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="read")
        return fn(session, workspace_id)


def _upcoming_posts(session, workspace_id: int) -> posts.PostPage:
    return posts.search_posts(session, workspace_id, sort="scheduled_at", direction="asc", limit=100)


async def _shell(state: rx.State) -> ShellState:
    """The shell loaded by the same on_load chain (sign-in and membership already checked)."""
    return await state.get_state(ShellState)


class PostsState(rx.State):
    posts: list[PostItem] = []

    @rx.event
    async def load(self):
        shell = await _shell(self)
        if not shell.workspace_id:
            self.posts = []
            return
        page = await asyncio.to_thread(_read, _upcoming_posts, shell.user_id, shell.workspace_id)
        rows = page.rows
        self.posts = [
            PostItem(
                id=row.id,
                content=row.content,
                status=row.status.replace("_", " "),
                when=timefmt.format_local(row.scheduled_at, shell.workspace_timezone)
                if row.scheduled_at
                else "Not scheduled",
            )
            for row in rows
        ]


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


class CreditsState(rx.State):
    entries: list[LedgerItem] = []

    @rx.event
    async def load(self):
        shell = await _shell(self)
        rows = (
            await asyncio.to_thread(_read, credits.ledger_page, shell.user_id, shell.workspace_id)
            if shell.workspace_id
            else []
        )
        self.entries = [
            LedgerItem(
                id=row.id,
                when=timefmt.format_local(row.created_at, shell.workspace_timezone),
                type=row.type,
                amount=f"{row.amount:+d}",
                balance_after=row.balance_after,
                description=row.description,
            )
            for row in (rows.rows if rows else [])
        ]


class AdminState(rx.State):
    components: list[HealthItem] = []
    users: int = 0
    workspaces: int = 0
    posts: int = 0
    failed_destinations: int = 0
    environment: str = ""
    checkout_mode: str = ""
    broker_mode: str = ""

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
        settings = get_settings()
        self.environment = settings.environment
        self.checkout_mode = settings.checkout_mode
        self.broker_mode = "Redis" if settings.redis_url else "embedded (SQLite)"

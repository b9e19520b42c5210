"""Dashboard view data: plain values for the page, loaded through the dashboard service."""

import asyncio

import reflex as rx
from pydantic import BaseModel

from postforge import routes
from postforge.db import session_scope
from postforge.services.kernel import timefmt
from postforge.services.operations import dashboard, health
from postforge.services.tenancy import workspaces
from postforge.state.live import refresh_on_change
from postforge.state.shell import ShellState


class UpcomingRow(BaseModel):
    id: int
    content: str
    scheduled_at: str
    status: str


class StatusCount(BaseModel):
    status: str
    count: int


def _figures(user_id: int, workspace_id: int) -> dashboard.DashboardFigures:
    with session_scope() as session:
        workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="read")
        return dashboard.dashboard_figures(session, workspace_id)


class DashboardState(rx.State):
    total_posts: int = 0
    scheduled_next_7_days: int = 0
    connected_accounts: int = 0
    accounts_needing_reconnect: int = 0
    failed_destinations: int = 0
    review_destinations: int = 0
    status_counts: list[StatusCount] = []
    upcoming: list[UpcomingRow] = []
    worker_ok: bool = False
    worker_detail: str = ""

    @rx.event
    async def load(self):
        shell = await self.get_state(ShellState)
        if not shell.signed_in:
            return
        report = await health.check_health_async()
        self.worker_ok = report.worker.ok
        self.worker_detail = report.worker.detail
        if not shell.workspace_id:
            return
        await self._load_figures(shell)

    @rx.event
    async def refresh_live(self):
        """A post of the workspace changed (published, failed): show the figures again."""
        shell = await self.get_state(ShellState)
        if shell.signed_in and shell.workspace_id:
            await self._load_figures(shell)

    async def _load_figures(self, shell: ShellState) -> None:
        figures = await asyncio.to_thread(_figures, shell.user_id, shell.workspace_id)
        self.total_posts = figures.total_posts
        self.scheduled_next_7_days = figures.scheduled_next_7_days
        self.connected_accounts = figures.connected_accounts
        self.accounts_needing_reconnect = figures.accounts_needing_reconnect
        self.failed_destinations = figures.failed_destinations
        self.review_destinations = figures.review_destinations
        self.status_counts = [
            StatusCount(status=status.replace("_", " "), count=count)
            for status, count in sorted(figures.posts_by_status.items())
        ]
        self.upcoming = [
            UpcomingRow(
                id=row.id,
                content=row.content[:140],
                scheduled_at=timefmt.format_local(row.scheduled_at, shell.workspace_timezone),
                status=row.status,
            )
            for row in figures.upcoming
        ]


refresh_on_change(routes.DASHBOARD, DashboardState.refresh_live)

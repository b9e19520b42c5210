"""What the app shell shows on every page: the workspace, its balance, the worker's pulse."""

import asyncio

import reflex as rx

from postforge.db import session_scope
from postforge.services import workspaces
from postforge.settings import get_settings


def _load_workspace() -> workspaces.WorkspaceSummary | None:
    with session_scope() as session:
        return workspaces.default_workspace(session)


class ShellState(rx.State):
    workspace_id: int = 0
    workspace_name: str = ""
    workspace_timezone: str = "UTC"
    credits: int = 0
    ai_mode: str = ""
    loaded: bool = False

    @rx.event
    async def load_shell(self):
        summary = await asyncio.to_thread(_load_workspace)
        self.ai_mode = "Claude" if get_settings().ai_provider == "anthropic" else "Offline samples"
        self.loaded = True
        if summary is None:
            self.workspace_id, self.workspace_name, self.credits = 0, "", 0
            return
        self.workspace_id = summary.id
        self.workspace_name = summary.name
        self.workspace_timezone = summary.timezone
        self.credits = summary.credits

"""What the app shell shows on every page: the signed-in member's workspace, its balance, and
whether the member's email address still needs confirming.

Feature states act for that member through the helpers at the end: `workspace_shell` (or
`workspace_member`, its two ids) re-checks the session in the event at hand, `in_workspace` runs a
service call as the member in the open workspace, `run_in_session` runs any service call in a
transaction of its own. Service calls block: they run in a worker thread, never on the event loop.
"""

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import reflex as rx
from pydantic import BaseModel

from postforge.db import session_scope
from postforge.services.identity import email_verification
from postforge.services.kernel.errors import ServiceError
from postforge.services.tenancy import workspaces
from postforge.settings import get_settings
from postforge.state.auth import AuthState


class WorkspaceOption(BaseModel):
    id: str
    name: str
    role: str


def _load(user_id: int, preferred: int):
    with session_scope() as session:
        options = workspaces.list_memberships(session, user_id)
        if not options:
            return None, options
        return workspaces.current_workspace_for(session, user_id, preferred or None), options


def _switch(user_id: int, session_id: int, workspace_id: int) -> None:
    with session_scope() as session:
        workspaces.switch_workspace(
            session, user_id=user_id, session_id=session_id, workspace_id=workspace_id
        )


def _resend_confirmation(user_id: int) -> str:
    with session_scope() as session:
        return email_verification.resend_link(session, user_id)


class ShellState(AuthState):
    email_verified: bool = True  # False: the shell asks to confirm the address, with a resend
    workspace_id: int = 0
    workspace_name: str = ""
    workspace_timezone: str = "UTC"
    workspace_role: str = ""
    credits: int = 0
    ai_mode: str = ""
    workspace_options: list[WorkspaceOption] = []

    @rx.var
    def can_write(self) -> bool:
        return self.workspace_role in ("admin", "editor")

    @rx.var
    def is_workspace_admin(self) -> bool:
        return self.workspace_role == "admin"

    @rx.event
    async def load_shell(self):
        """Sign-in check first, then the member's current workspace (membership re-checked)."""
        context = await self.current_user()
        if context is None:
            return AuthState.require_login
        self.email_verified = context.email_verified
        current, options = await asyncio.to_thread(_load, context.user_id, self._session_workspace_id)
        self.ai_mode = "Claude" if get_settings().ai_provider == "anthropic" else "Offline samples"
        self.workspace_options = [
            WorkspaceOption(id=str(option.id), name=option.name, role=option.role) for option in options
        ]
        if current is None:
            self.workspace_id, self.workspace_name, self.credits, self.workspace_role = 0, "", 0, ""
            return None
        self.workspace_id, self.workspace_name = current.id, current.name
        self.workspace_timezone, self.credits = current.timezone, current.credits
        self.workspace_role = current.role
        return None

    @rx.event
    async def switch_workspace(self, workspace_id: str):
        context = await self.current_user()
        if context is None:
            return AuthState.require_login
        try:
            await asyncio.to_thread(_switch, context.user_id, context.session_id, int(workspace_id))
        except (ValueError, ServiceError) as error:
            return rx.toast.error(getattr(error, "message", "That workspace is not available."))
        return rx.redirect(self.router.url.path or "/dashboard")

    @rx.event
    async def resend_verification(self):
        context = await self.current_user()
        if context is None:
            return AuthState.require_login
        self.email_verified = context.email_verified
        try:
            notice = await asyncio.to_thread(_resend_confirmation, context.user_id)
        except ServiceError as error:
            return rx.toast.error(error.message)
        return rx.toast.success(notice)


T = TypeVar("T")


def run_in_session(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(session, *args, **kwargs)` in one transaction of its own (blocking: call it in a thread)."""
    with session_scope() as session:
        return fn(session, *args, **kwargs)


async def in_workspace(shell: ShellState, fn: Callable[..., T], /, **kwargs: Any) -> T:
    """`fn(session, actor_id=…, workspace_id=…, **kwargs)` for the shell's member in the workspace
    they have open, in a worker thread; the service checks the membership and the role."""
    return await asyncio.to_thread(
        run_in_session, fn, actor_id=shell.user_id, workspace_id=shell.workspace_id, **kwargs
    )


async def workspace_shell(state: rx.State) -> ShellState | None:
    """The tab's shell when its member is signed in (checked in this event) and has a workspace
    open; None otherwise, and the caller sends them to sign in or shows nothing."""
    shell = await state.get_state(ShellState)
    if await shell.current_user() is None or not shell.workspace_id:
        return None
    return shell


async def workspace_member(state: rx.State) -> tuple[int, int] | None:
    """`workspace_shell` as (user id, workspace id), for states that pass the two on."""
    shell = await workspace_shell(state)
    return (shell.user_id, shell.workspace_id) if shell is not None else None

"""Settings page: profile, password, sessions, and (for admins) members and invitations."""

import asyncio

import reflex as rx
from pydantic import BaseModel

from postforge import routes
from postforge.db import session_scope
from postforge.services.admin_console import audit
from postforge.services.identity import accounts_auth
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import ServiceError
from postforge.services.tenancy import workspaces
from postforge.state.shell import ShellState, in_workspace, run_in_session

ROLE_CHOICES = ["admin", "editor", "viewer"]


class SessionItem(BaseModel):
    id: int
    device: str
    ip_address: str
    last_seen: str
    current: bool


class MemberItem(BaseModel):
    user_id: int
    name: str
    email: str
    role: str


class ConsoleActionItem(BaseModel):
    """Something a PostForge system admin did to this workspace or one of its members."""

    when: str
    action: str
    target: str
    change: str
    reason: str


class InviteItem(BaseModel):
    id: int
    email: str
    role: str
    expires: str


def _as_member(fn, **fields):
    """`_attempt`'s work for a workspace service call: `fn` as the member, in their open workspace."""
    return lambda shell: run_in_session(fn, actor_id=shell.user_id, workspace_id=shell.workspace_id, **fields)


class SettingsState(rx.State):
    name: str = ""
    timezone: str = "UTC"
    timezone_query: str = ""
    timezone_matches: list[str] = []
    sessions: list[SessionItem] = []
    members: list[MemberItem] = []
    invites: list[InviteItem] = []
    console_actions: list[ConsoleActionItem] = []
    invite_email: str = ""
    invite_role: str = "editor"
    team_name: str = ""
    error: str = ""

    @rx.event
    def set_name(self, value: str):
        self.name = value

    @rx.event
    def set_invite_email(self, value: str):
        self.invite_email = value

    @rx.event
    def set_invite_role(self, value: str):
        self.invite_role = value if value in ROLE_CHOICES else "editor"

    @rx.event
    def set_team_name(self, value: str):
        self.team_name = value

    @rx.event
    def search_timezones(self, query: str):
        self.timezone_query = query
        self.timezone_matches = accounts_auth.search_timezones(query, limit=12)

    @rx.event
    def pick_timezone(self, zone: str):
        self.timezone, self.timezone_query, self.timezone_matches = zone, "", []

    async def _shell(self) -> ShellState:
        return await self.get_state(ShellState)

    @rx.event
    async def load(self):
        shell = await self._shell()
        if not shell.signed_in:
            return
        self.name, self.timezone, self.error = shell.user_name, shell.user_timezone, ""
        await self._reload_lists(shell)

    async def _reload_lists(self, shell: ShellState) -> None:
        rows = await asyncio.to_thread(
            run_in_session, accounts_auth.list_sessions, shell.user_id, current_token=shell.session_token
        )
        self.sessions = [
            SessionItem(
                id=row.id,
                device=row.user_agent or "Unknown browser",
                ip_address=row.ip_address,
                last_seen=timefmt.format_local(row.last_seen_at, shell.user_timezone),
                current=row.current,
            )
            for row in rows
        ]
        self.members, self.invites, self.console_actions = [], [], []
        if shell.is_workspace_admin and shell.workspace_id:
            actions = await asyncio.to_thread(
                run_in_session,
                audit.for_workspace_admins,
                user_id=shell.user_id,
                workspace_id=shell.workspace_id,
            )
            self.console_actions = [
                ConsoleActionItem(
                    when=timefmt.format_local(a.created_at, shell.user_timezone),
                    action=a.action_label,
                    target=a.target_label,
                    change=a.change,
                    reason=a.reason,
                )
                for a in actions
            ]
            members = await in_workspace(shell, workspaces.list_members)
            invites = await in_workspace(shell, workspaces.list_invites)
            self.members = [
                MemberItem(user_id=m.user_id, name=m.name, email=m.email, role=m.role) for m in members
            ]
            self.invites = [
                InviteItem(
                    id=i.id,
                    email=i.email,
                    role=i.role,
                    expires=timefmt.format_local(i.expires_at, shell.user_timezone),
                )
                for i in invites
            ]

    async def _attempt(self, work, success: str, then=None):
        """Run one service call off the event loop; a refusal becomes an error toast and leaves the
        form as typed. `then(shell, result)` updates state back on the loop and may return events."""
        shell = await self._shell()
        if await shell.current_user() is None:
            return ShellState.require_login
        try:
            result = await asyncio.to_thread(work, shell)
        except ServiceError as error:
            self.error = error.message
            return rx.toast.error(error.message)
        self.error = ""
        events = then(shell, result) if then else None
        await self._reload_lists(shell)
        return [rx.toast.success(success), *(events or [])]

    @rx.event
    async def save_profile(self):
        name, zone = self.name, self.timezone

        def saved(shell: ShellState, user) -> None:
            shell.user_name, shell.user_timezone = user.name, user.timezone

        return await self._attempt(
            lambda shell: run_in_session(
                accounts_auth.update_profile, shell.user_id, name=name, timezone=zone
            ),
            "Profile saved.",
            then=saved,
        )

    @rx.event
    async def change_password(self, form: dict):
        current, new = str(form.get("current_password", "")), str(form.get("new_password", ""))

        def changed(shell: ShellState, token: str) -> list:
            shell.session_token = token  # every other browser is signed out; this one continues
            return [rx.set_value("field-current_password", ""), rx.set_value("field-new_password", "")]

        return await self._attempt(
            lambda shell: run_in_session(
                accounts_auth.change_password,
                shell.user_id,
                current=current,
                new=new,
                current_token=shell.session_token,
            ),
            "Password changed. Every other browser was signed out.",
            then=changed,
        )

    @rx.event
    async def revoke(self, session_id: int):
        return await self._attempt(
            lambda shell: run_in_session(accounts_auth.revoke_session, shell.user_id, int(session_id)),
            "Signed out.",
        )

    @rx.event
    async def sign_out_everywhere(self):
        shell = await self._shell()
        if shell.signed_in:
            await asyncio.to_thread(run_in_session, accounts_auth.sign_out_everywhere, shell.user_id)
        return ShellState.sign_out

    @rx.event
    async def invite(self):
        email, role = self.invite_email, self.invite_role

        def sent(_shell: ShellState, _token: str) -> None:
            self.invite_email = ""

        return await self._attempt(
            _as_member(workspaces.invite_member, email=email, role=role),
            f"Invitation sent to {email.strip()}.",
            then=sent,
        )

    @rx.event
    async def revoke_invite(self, invite_id: int):
        return await self._attempt(
            _as_member(workspaces.revoke_invite, invite_id=int(invite_id)),
            "Invitation withdrawn.",
        )

    @rx.event
    async def change_role(self, member_user_id: int, role: str):
        return await self._attempt(
            _as_member(workspaces.change_role, member_user_id=int(member_user_id), role=role),
            "Role changed.",
        )

    @rx.event
    async def remove_member(self, member_user_id: int):
        return await self._attempt(
            _as_member(workspaces.remove_member, member_user_id=int(member_user_id)),
            "Member removed.",
        )

    @rx.event
    async def create_team(self):
        name = self.team_name

        def create_and_switch(shell: ShellState) -> None:
            with session_scope() as session:  # one transaction: never a workspace nobody switched to
                created = workspaces.create_team_workspace(session, shell.user_id, name)
                workspaces.switch_workspace(
                    session, user_id=shell.user_id, session_id=shell._session_id, workspace_id=created.id
                )

        def created(_shell: ShellState, _result: None) -> list:
            self.team_name = ""
            return [rx.redirect(routes.SETTINGS)]

        return await self._attempt(create_and_switch, f"Workspace “{name.strip()}” created.", then=created)

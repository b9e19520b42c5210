"""Who is signed in. Feature states read it; every protected page's on_load starts here.

The browser keeps only a random session token (LocalStorage, shared by its tabs); the server
keeps its SHA-256 with expiry and revocation, so tampering with the token just signs you out.
"""

import asyncio
from urllib.parse import quote

import reflex as rx

from postforge import routes
from postforge.db import session_scope
from postforge.services import accounts_auth
from postforge.services.accounts_auth import AuthContext
from postforge.services.redirects import safe_next_path


def _resolve(token: str) -> AuthContext | None:
    with session_scope() as session:
        return accounts_auth.resolve_session(session, token)


def safe_next(target: str) -> str:
    """Only same-site paths may be a post-sign-in destination (no open redirects)."""
    return safe_next_path(target, default=routes.DASHBOARD)


class AuthState(rx.State):
    session_token: str = rx.LocalStorage("", name="postforge_session", sync=True)
    user_id: int = 0
    user_email: str = ""
    user_name: str = ""
    user_timezone: str = "UTC"
    is_admin: bool = False
    _session_workspace_id: int = 0
    _session_id: int = 0

    @rx.var
    def signed_in(self) -> bool:
        return self.user_id > 0

    async def current_user(self) -> AuthContext | None:
        """Re-check the token against the database (never trust state from an earlier event)."""
        if not self.session_token:
            self._forget()
            return None
        context = await asyncio.to_thread(_resolve, self.session_token)
        if context is None:
            self._forget()
            return None
        self.user_id, self.user_email, self.user_name = context.user_id, context.email, context.name
        self.user_timezone, self.is_admin = context.timezone, context.is_admin
        self._session_workspace_id = context.workspace_id or 0
        self._session_id = context.session_id
        return context

    def _forget(self) -> None:
        self.user_id, self.user_email, self.user_name, self.is_admin = 0, "", "", False
        self._session_workspace_id, self._session_id = 0, 0

    @rx.event
    async def require_login(self):
        if await self.current_user() is None:
            path = (self.router.url.path or "").rstrip("/") or routes.DASHBOARD
            query = self.router.url.query or ""
            asked_for = path + (f"?{query}" if query else "")
            return rx.redirect(f"{routes.SIGN_IN}?next={quote(asked_for, safe='')}")
        return None

    @rx.event
    async def redirect_if_signed_in(self):
        if await self.current_user() is not None:
            return rx.redirect(routes.DASHBOARD)
        return None

    @rx.event
    async def sign_out(self):
        token = self.session_token
        if token:
            await asyncio.to_thread(_sign_out, token)
        self.session_token = ""
        self._forget()
        return rx.redirect(routes.SIGN_IN)

    def start_session(self, token: str, next_path: str = ""):
        self.session_token = token
        return rx.redirect(safe_next(next_path))


def _sign_out(token: str) -> None:
    with session_scope() as session:
        accounts_auth.sign_out(session, token)

"""Who is signed in. Feature states read it; every protected page's on_load starts here.

The browser keeps only a random session token (LocalStorage, shared by its tabs); the server
keeps its SHA-256 with expiry and revocation, so tampering with the token just signs you out.
"""

import asyncio
from contextvars import ContextVar
from urllib.parse import quote

import reflex as rx
from reflex_base.event import EventSpec

from postforge import routes
from postforge.db import session_scope
from postforge.services.identity import accounts_auth
from postforge.services.identity.accounts_auth import AuthContext
from postforge.services.infra import client_address
from postforge.services.kernel.redirects import safe_next_path
from postforge.state.public import public_event

# The session check the guard made for the event being processed (token, who): handlers asking
# `current_user()` in the same foreground event reuse it instead of querying again. Background
# events never set it, so each of their checks goes to the database.
_validated: ContextVar[tuple[str, AuthContext] | None] = ContextVar("postforge_validated", default=None)


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
        """Who holds this browser's session, checked in this event (never trusted from an earlier one)."""
        known = _validated.get()
        if known is not None and known[0] == self.session_token:
            self._remember(known[1])
            return known[1]
        return await self.revalidate(remember=False)

    async def revalidate(self, *, remember: bool) -> AuthContext | None:
        """Check the token against the database; `remember` lets this event's handlers reuse it."""
        token = self.session_token
        context = await asyncio.to_thread(_resolve, token) if token else None
        _validated.set((token, context) if remember and context is not None else None)
        if context is None:
            self._forget()
            return None
        self._remember(context)
        return context

    def _remember(self, context: AuthContext) -> None:
        self.user_id, self.user_email, self.user_name = context.user_id, context.email, context.name
        self.user_timezone, self.is_admin = context.timezone, context.is_admin
        self._session_workspace_id = context.workspace_id or 0
        self._session_id = context.session_id

    def _forget(self) -> None:
        _validated.set(None)
        self.user_id, self.user_email, self.user_name, self.is_admin = 0, "", "", False
        self._session_workspace_id, self._session_id = 0, 0

    @rx.event
    @public_event
    async def require_login(self):
        if await self.current_user() is None:
            return sign_in_redirect(self.router)
        return None

    @rx.event
    @public_event
    async def redirect_if_signed_in(self):
        if await self.current_user() is not None:
            return rx.redirect(routes.DASHBOARD)
        return None

    @rx.event
    @public_event
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


def client_ip(state: rx.State) -> str:
    """The address of the browser behind an event (rate limits, sessions, the audit log)."""
    # The socket's peer as Reflex saw it, and the X-Forwarded-For its connection arrived with.
    router = state.router
    return client_address.client_ip(
        router.session.client_ip, router.headers.raw_headers.get("x-forwarded-for", "")
    )


def sign_in_redirect(router) -> EventSpec:
    """To the sign-in page, coming back to the page the visitor asked for."""
    path = (router.url.path or "").rstrip("/") or routes.DASHBOARD
    query = router.url.query or ""
    asked_for = path + (f"?{query}" if query else "")
    return rx.redirect(f"{routes.SIGN_IN}?next={quote(asked_for, safe='')}")


def _sign_out(token: str) -> None:
    with session_scope() as session:
        accounts_auth.sign_out(session, token)

"""Sign-in, registration, email confirmation, password reset and invite acceptance forms.

Handlers pass the form's values to the accounts services and show their refusal messages next
to the field they name; the typed values stay in the form (nothing the user typed is lost).
"""

import asyncio

import reflex as rx

from postforge import routes
from postforge.db import session_scope
from postforge.services.identity import accounts_auth, email_verification, oidc
from postforge.services.kernel.errors import RateLimited, ServiceError
from postforge.services.tenancy import workspaces
from postforge.state.auth import AuthState, client_ip, safe_next
from postforge.state.public import public_state


def _user_agent(state: rx.State) -> str:
    return (getattr(state.router.headers, "user_agent", "") or "")[:512]


class FormState(AuthState):
    error: str = ""
    error_field: str = ""
    notice: str = ""
    busy: bool = False

    def _fail(self, error: ServiceError) -> None:
        self.error = error.message
        self.error_field = error.field or ""
        self.busy = False

    def _clear(self) -> None:
        self.error, self.error_field, self.notice, self.busy = "", "", "", True


@public_state
class SignInState(FormState):
    email: str = ""
    next_path: str = ""

    @rx.event
    def set_email(self, value: str):
        self.email = value

    @rx.event
    async def load(self):
        self.next_path = safe_next(self.router.url.query_parameters.get("next", routes.DASHBOARD))
        return AuthState.redirect_if_signed_in

    @rx.event
    async def submit(self, form: dict):
        self._clear()
        self.email = str(form.get("email", ""))
        password = str(form.get("password", ""))
        ip, agent = client_ip(self), _user_agent(self)

        def work() -> str:
            with session_scope() as session:
                user = accounts_auth.authenticate(session, email=self.email, password=password, ip=ip)
                return accounts_auth.create_session(session, user, user_agent=agent, ip=ip)

        try:
            token = await asyncio.to_thread(work)
        except RateLimited as error:
            self._fail(error)
            return None
        except ServiceError as error:
            self._fail(error)
            return None
        self.busy = False
        return self.start_session(token, self.next_path)


@public_state
class RegisterState(FormState):
    name: str = ""
    email: str = ""
    timezone: str = "UTC"
    sent_to: str = ""  # set once the form is done: the page shows "check your inbox"

    @rx.event
    def set_timezone(self, value: str):
        self.timezone = value if isinstance(value, str) and value else "UTC"

    @rx.event
    def start_over(self):
        self.sent_to, self.notice, self.error = "", "", ""

    @rx.event
    def detect_timezone(self):
        """Start from the browser's own zone; the settings page changes it later."""
        return rx.call_script(
            "Intl.DateTimeFormat().resolvedOptions().timeZone", callback=RegisterState.set_timezone
        )

    @rx.event
    async def submit(self, form: dict):
        self._clear()
        self.name = str(form.get("name", ""))
        self.email = str(form.get("email", ""))
        password = str(form.get("password", ""))
        timezone = str(form.get("timezone", "") or self.timezone or "UTC")
        ip = client_ip(self)

        def work() -> str:
            # The same answer for a new address and a known one, and no session either way: the
            # confirmation link signs a new member in (an existing owner is mailed instead).
            with session_scope() as session:
                accounts_auth.register(
                    session, email=self.email, password=password, name=self.name, timezone=timezone, ip=ip
                )
                return accounts_auth.registration_sent(self.email)

        try:
            notice = await asyncio.to_thread(work)
        except ServiceError as error:
            self._fail(error)
            return
        self.busy = False
        self.notice, self.sent_to = notice, self.email.strip()


@public_state
class ForgotPasswordState(FormState):
    email: str = ""

    @rx.event
    async def submit(self, form: dict):
        self._clear()
        self.email = str(form.get("email", ""))
        ip = client_ip(self)

        def work() -> None:
            with session_scope() as session:
                accounts_auth.request_password_reset(session, email=self.email, ip=ip)

        try:
            await asyncio.to_thread(work)
        except ServiceError as error:
            self._fail(error)
            return
        self.busy = False
        self.notice = (
            "If an account uses that address, a reset link is on its way. It works once, for one hour."
        )


@public_state
class ResetPasswordState(FormState):
    @rx.event
    async def submit(self, form: dict):
        self._clear()
        token = self.router.url.query_parameters.get("token", "")
        password = str(form.get("password", ""))
        agent, ip = _user_agent(self), client_ip(self)

        def work() -> str:
            with session_scope() as session:
                user = accounts_auth.reset_password(session, token=token, new_password=password)
                return accounts_auth.create_session(session, user, user_agent=agent, ip=ip)

        try:
            session_token = await asyncio.to_thread(work)
        except ServiceError as error:
            self._fail(error)
            return None
        self.busy = False
        return [self.start_session(session_token, routes.DASHBOARD), rx.toast.success("Password changed.")]


@public_state
class VerifyEmailState(AuthState):
    """Lands here from the confirmation link: confirm the address, then sign the member in."""

    error: str = ""

    @rx.event
    async def load(self):
        return await self.verify(self.router.url.query_parameters.get("token", ""))

    async def verify(self, token: str):
        agent, ip = _user_agent(self), client_ip(self)

        def work() -> str:
            with session_scope() as session:
                user = email_verification.consume_link(session, token)
                return accounts_auth.create_session(session, user, user_agent=agent, ip=ip)

        self.error = ""
        try:
            session_token = await asyncio.to_thread(work)
        except ServiceError as error:
            self.error = error.message
            return None
        return [
            self.start_session(session_token, routes.DASHBOARD),
            rx.toast.success("Email address confirmed."),
        ]


class AcceptInviteState(FormState):
    @rx.event
    async def load(self):
        self.error, self.notice = "", ""
        context = await self.current_user()
        if context is None:
            return AuthState.require_login
        token = self.router.url.query_parameters.get("token", "")

        def work() -> None:
            with session_scope() as session:
                joined = workspaces.accept_invite(session, token=token, user_id=context.user_id)
                workspaces.switch_workspace(
                    session, user_id=context.user_id, session_id=context.session_id, workspace_id=joined.id
                )

        try:
            await asyncio.to_thread(work)
        except ServiceError as error:
            self.error = error.message
            return None
        return [rx.toast.success("You joined the workspace."), rx.redirect(routes.DASHBOARD)]


@public_state
class AuthCompleteState(AuthState):
    """Lands here after an OIDC provider: trade the one-time handoff code for a session."""

    error: str = ""

    @rx.event
    async def load(self):
        code = self.router.url.query_parameters.get("code", "")

        def work() -> str:
            with session_scope() as session:
                return oidc.exchange_handoff(session, code)

        try:
            token = await asyncio.to_thread(work)
        except ServiceError as error:
            self.error = error.message
            return None
        return self.start_session(token, oidc.safe_next_path(self.router.url.query_parameters.get("next")))

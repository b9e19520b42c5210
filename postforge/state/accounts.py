"""Accounts page: the workspace's social accounts, connecting, reconnecting and disconnecting them.

OAuth platforms leave the app: `start_oauth` stores the attempt, puts the browser's half of it
in the `pf_connect` cookie (sent only to the callback route) and sends the browser to the
platform. The callback route brings it back to `/accounts?connect=<attempt>`, and `load` shows
what happened. Everything else stays in the dialog, which keeps what was typed on an error.
"""

import asyncio

import reflex as rx
from pydantic import BaseModel

from postforge import routes
from postforge.services.channels import account_connect
from postforge.services.kernel.errors import ServiceError
from postforge.state.shell import ShellState, run_in_session, workspace_member

# Inputs whose refusals are shown beside them; any other refusal is shown above the form.
FORM_FIELDS = frozenset({"name", "handle", "identifier", "app_password", "service_url", "instance_url"})
UNTRACEABLE_NOTICE = (
    "That connection could not be finished: its link was already used, had expired, or was opened in "
    "another browser. Start connecting again."
)


class AccountItem(BaseModel):
    id: int
    platform: str
    platform_label: str
    connect_kind: str
    initial: str
    handle: str
    display_name: str
    avatar_url: str
    instance_url: str
    status: str
    status_label: str
    last_error: str
    expiry_hint: str
    scheduled_count: int
    published_count: int


class PlatformChoice(BaseModel):
    platform: str
    label: str
    connect_kind: str
    needs_instance: bool


def _item(card: account_connect.AccountCard) -> AccountItem:
    name = card.display_name or card.handle.lstrip("@") or card.platform_label
    return AccountItem(**card.__dict__, initial=name[:1].upper())


class AccountsState(rx.State):
    accounts: list[AccountItem] = []
    platforms: list[PlatformChoice] = []
    notice: str = ""  # a failed connect, shown above the cards
    # The "Connect account" dialog: a platform list, then that platform's form.
    dialog_open: bool = False
    chosen: str = ""
    sandbox_name: str = ""
    sandbox_handle: str = ""
    instance_url: str = ""
    bsky_identifier: str = ""
    _bsky_password: str = ""  # backend only: an app password never travels back to the browser
    bsky_service_url: str = ""
    error: str = ""
    error_field: str = ""
    busy: bool = False
    # Disconnect confirmation.
    disconnect_open: bool = False
    disconnect_id: int = 0
    disconnect_name: str = ""
    # The browser's half of an OAuth attempt: a cookie only the callback route receives.
    connect_binding: str = rx.Cookie(
        "", name=routes.CONNECT_COOKIE, path=routes.CONNECT_COOKIE_PATH, max_age=600, same_site="lax"
    )

    @rx.var
    def general_error(self) -> str:
        return "" if self.error_field in FORM_FIELDS else self.error

    @rx.var
    def chosen_label(self) -> str:
        return next((p.label for p in self.platforms if p.platform == self.chosen), "")

    @rx.var
    def chosen_kind(self) -> str:
        return next((p.connect_kind for p in self.platforms if p.platform == self.chosen), "")

    @rx.var
    def chosen_needs_instance(self) -> bool:
        return any(p.needs_instance for p in self.platforms if p.platform == self.chosen)

    # -- plain setters (auto setters are off) ---------------------------------------------------

    @rx.event
    def set_sandbox_name(self, value: str):
        self.sandbox_name = value

    @rx.event
    def set_sandbox_handle(self, value: str):
        self.sandbox_handle = value

    @rx.event
    def set_instance_url(self, value: str):
        self.instance_url = value

    @rx.event
    def set_bsky_identifier(self, value: str):
        self.bsky_identifier = value

    @rx.event
    def set_bsky_password(self, value: str):
        self._bsky_password = value

    @rx.event
    def set_bsky_service_url(self, value: str):
        self.bsky_service_url = value

    @rx.event
    def set_dialog_open(self, value: bool):
        self.dialog_open = value
        if not value:
            self._bsky_password = ""  # a password never outlives the dialog

    @rx.event
    def set_disconnect_open(self, value: bool):
        self.disconnect_open = value

    @rx.event
    def dismiss_notice(self):
        self.notice = ""

    # -- loading --------------------------------------------------------------------------------

    @rx.event
    async def load(self):
        context = await workspace_member(self)
        if context is None:
            self.accounts, self.platforms = [], []
            return None
        await self._reload(*context)
        self.platforms = [PlatformChoice(**o.__dict__) for o in account_connect.available_platforms()]
        return await self._show_outcome(*context)

    async def _reload(self, user_id: int, workspace_id: int) -> None:
        try:
            cards = await asyncio.to_thread(
                run_in_session, account_connect.list_account_cards, user_id=user_id, workspace_id=workspace_id
            )
        except ServiceError as error:
            self.accounts, self.notice = [], error.message
            return
        self.accounts = [_item(card) for card in cards]

    async def _show_outcome(self, user_id: int, workspace_id: int):
        """After the callback route: `?connect=<attempt>` (or `failed`) says how connecting went."""
        ref = self.router.url.query_parameters.get("connect", "")
        if not ref:
            return None
        if not ref.isdigit():
            self.notice = UNTRACEABLE_NOTICE
            return None
        try:
            outcome = await asyncio.to_thread(
                run_in_session,
                account_connect.connect_outcome,
                user_id=user_id,
                workspace_id=workspace_id,
                attempt_id=int(ref),
            )
        except ServiceError:
            outcome = None
        if outcome is None:
            self.notice = UNTRACEABLE_NOTICE
            return None
        if outcome.ok:
            self.notice = ""
            return rx.toast.success(outcome.message)
        self.notice = outcome.message
        return None

    # -- the connect dialog ---------------------------------------------------------------------

    def _open(self, platform: str = "") -> None:
        self.chosen, self.error, self.error_field = platform, "", ""
        self.dialog_open = True

    @rx.event
    def open_connect(self):
        self._open()

    @rx.event
    def choose(self, platform: str):
        self.chosen, self.error, self.error_field = platform, "", ""

    @rx.event
    def back_to_platforms(self):
        self.chosen, self.error, self.error_field = "", "", ""

    def _refused(self, error: ServiceError):
        # The dialog stays open with everything as typed; the message goes beside its field.
        self.error, self.error_field = error.message, error.field or ""
        return rx.toast.error(error.message)

    async def _connected(self, user_id: int, workspace_id: int, result: account_connect.ConnectResult):
        self.dialog_open, self.error, self.error_field, self._bsky_password = False, "", "", ""
        self.notice = ""
        await self._reload(user_id, workspace_id)
        return rx.toast.success(f"Connected {', '.join(result.names)}.")

    @rx.event
    async def connect_sandbox(self):
        return await self._connect_with(
            account_connect.connect_sandbox, name=self.sandbox_name, handle=self.sandbox_handle
        )

    @rx.event
    async def connect_bluesky(self):
        return await self._connect_with(
            account_connect.connect_bluesky,
            identifier=self.bsky_identifier,
            app_password=self._bsky_password,
            service_url=self.bsky_service_url,
        )

    async def _connect_with(self, connect, **fields):
        """Run a form connect (sandbox, Bluesky) off the event loop; refusals show beside the form."""
        context = await workspace_member(self)
        if context is None:
            return ShellState.require_login
        self.busy = True
        try:
            result = await asyncio.to_thread(
                run_in_session, connect, user_id=context[0], workspace_id=context[1], **fields
            )
        except ServiceError as error:
            return self._refused(error)
        finally:
            self.busy = False
        return await self._connected(*context, result)

    @rx.event
    async def start_oauth(self):
        """Mastodon, LinkedIn, X, …: off to the platform (the chosen one in the dialog)."""
        if self.chosen not in {p.platform for p in self.platforms}:
            return self._refused(ServiceError("Choose a platform to connect."))
        return await self._begin(self.chosen, instance_url=self.instance_url)

    async def _begin(self, platform: str, *, instance_url: str = "", reconnect_account_id: int | None = None):
        context = await workspace_member(self)
        if context is None:
            return ShellState.require_login
        self.busy = True
        try:
            url, browser_state = await asyncio.to_thread(
                run_in_session,
                account_connect.begin_oauth,
                user_id=context[0],
                workspace_id=context[1],
                platform=platform,
                instance_url=instance_url,
                reconnect_account_id=reconnect_account_id,
                redirect_uri=account_connect.callback_url(platform),
            )
        except ServiceError as error:
            self.busy = False
            if reconnect_account_id and not self.dialog_open:
                return rx.toast.error(error.message)
            return self._refused(error)
        self.connect_binding = browser_state
        self.busy = False
        # The state outlives the trip to the platform: back on this page, the dialog is closed.
        self.dialog_open, self.chosen = False, ""
        return rx.redirect(url)

    # -- reconnect and disconnect ---------------------------------------------------------------

    @rx.event
    async def reconnect(self, account_id: int):
        """OAuth accounts go back to the platform; password and sandbox ones re-run their form."""
        account = next((a for a in self.accounts if a.id == int(account_id)), None)
        if account is None:
            return rx.toast.error("That account is no longer here. Reload the page.")
        if account.connect_kind == "oauth":
            return await self._begin(account.platform, reconnect_account_id=account.id)
        if account.connect_kind == "password":
            self.bsky_identifier = account.handle.lstrip("@")
            self.bsky_service_url = account.instance_url
            self._bsky_password = ""
        else:
            self.sandbox_name, self.sandbox_handle = account.display_name, account.handle
        self._open(account.platform)
        return None

    @rx.event
    def ask_disconnect(self, account_id: int, name: str):
        self.disconnect_id, self.disconnect_name, self.disconnect_open = int(account_id), name, True

    @rx.event
    async def disconnect(self):
        context = await workspace_member(self)
        if context is None:
            return ShellState.require_login
        self.disconnect_open = False
        try:
            failed = await asyncio.to_thread(
                run_in_session, account_connect.disconnect, user_id=context[0], account_id=self.disconnect_id
            )
        except ServiceError as error:
            return rx.toast.error(error.message)
        await self._reload(*context)
        waiting = f" {failed} waiting post{'s' if failed != 1 else ''} marked failed." if failed else ""
        return rx.toast.success(f"{self.disconnect_name} disconnected.{waiting}")

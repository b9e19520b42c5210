"""The admin console's pages: users, one user, workspaces, one workspace, the audit log.

Every handler goes through `ConsoleState._as_admin`, which runs one console service as the signed-in
user: the service authorizes a system admin itself (`admin_console.guard`), and a refusal clears
the page's data and sends the tab to the not-found page, so a non-admin learns nothing and changes
nothing. Inputs arrive as whole forms (`on_submit`), so what was typed is checked by the service and
a refusal shows next to the form with the typed values kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import reflex as rx
from pydantic import BaseModel

from postforge import routes
from postforge.db import session_scope
from postforge.models import PaymentStatus
from postforge.services.admin_console import audit, payments, plans, publishing, users, workspaces
from postforge.services.admin_console.guard import NotAnAdmin
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import ServiceError
from postforge.state.auth import AuthState, client_ip

PAGE_SIZE = 25
LEDGER_PAGE_SIZE = 20
ANY = "any"  # a select's "no filter" choice (a select's value cannot be empty)
ACTION_CHOICES = [(ANY, "Every action"), *audit.ACTIONS.items()]
TARGET_CHOICES = [
    (ANY, "Any target"),
    ("user", "A user"),
    ("workspace", "A workspace"),
    ("post", "A post"),
    ("event", "A webhook event"),
    ("plan", "A plan"),
]


def _when(instant, zone: str) -> str:
    return timefmt.format_local(instant, zone, "%Y-%m-%d %H:%M") if instant is not None else "—"


def _in_session(fn: Callable, kwargs: dict[str, Any]) -> Any:
    with session_scope() as session:
        return fn(session, **kwargs)


def _unless_any(value: Any) -> str:
    text = str(value or "").strip()
    return "" if text == ANY else text


def _id_from(text: str) -> int:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) < 12 else 0


def user_link(user_id: int) -> str:
    return f"{routes.ADMIN_USER}?id={user_id}"


def workspace_link(workspace_id: int) -> str:
    return f"{routes.ADMIN_WORKSPACE}?id={workspace_id}"


class ConsoleState(rx.State):
    """What every console page shares: the admin check, the error line and paging."""

    allowed: bool = False  # the server confirmed a system admin: the page may show anything at all
    error: str = ""
    total: int = 0
    offset: int = 0
    dialog: str = ""  # the confirmation dialog open now ("suspend", "delete", "adjust", ...), if any

    @rx.event
    def open_dialog(self, name: str):
        # Only opens a confirmation; what it confirms is a separate event, checked like all others.
        self.dialog, self.error = (name if self.allowed else ""), ""

    @rx.event
    def set_dialog_open(self, is_open: bool):
        if not is_open:
            self.dialog = ""

    @rx.var
    def page_label(self) -> str:
        if self.total == 0:
            return "Nothing found"
        last = min(self.offset + PAGE_SIZE, self.total)
        if self.total > users.COUNT_CAP:
            return f"{self.offset + 1}-{last} of more than {users.COUNT_CAP:,}"
        return f"{self.offset + 1}-{last} of {self.total}"

    @rx.var
    def has_previous(self) -> bool:
        return self.offset > 0

    @rx.var
    def has_next(self) -> bool:
        return self.offset + PAGE_SIZE < self.total

    def _clear(self) -> None:
        """Forget everything the page shows (each page adds its own data)."""
        self.allowed, self.error, self.total, self.offset, self.dialog = False, "", 0, 0, ""

    async def _as_admin(self, fn: Callable, **kwargs: Any) -> tuple[Any, Any]:
        """(result, None) when the service answered; (None, the event to return) when it refused.

        The actor is whoever this browser's session belongs to now, the client address comes from
        this event's connection.
        """
        auth = await self.get_state(AuthState)
        context = await auth.current_user()
        if context is None:
            self._clear()
            return None, AuthState.require_login
        if "ip" in kwargs:  # a service that records the client's address: it is this event's
            kwargs["ip"] = client_ip(self)
        try:
            result = await asyncio.to_thread(_in_session, fn, {"actor_id": context.user_id, **kwargs})
        except NotAnAdmin:
            self._clear()
            return None, rx.redirect(routes.NOT_FOUND, replace=True)
        except ServiceError as error:
            self.allowed, self.error = True, error.message
            return None, rx.toast.error(error.message)
        self.allowed, self.error, self.dialog = True, "", ""
        return result, None

    async def _zone(self) -> str:
        return (await self.get_state(AuthState)).user_timezone or "UTC"


# --- users ---------------------------------------------------------------------------------------


class UserItem(BaseModel):
    id: int
    link: str
    email: str
    name: str
    is_admin: bool
    suspended: bool
    verified: bool
    created: str
    last_activity: str


class AdminUsersState(ConsoleState):
    query: str = ""
    rows: list[UserItem] = []

    def _clear(self) -> None:
        super()._clear()
        self.rows = []

    async def _search(self, query: str, offset: int):
        page, refusal = await self._as_admin(users.search_users, query=query, limit=PAGE_SIZE, offset=offset)
        if refusal is not None:
            return refusal
        zone = await self._zone()
        self.query, self.total, self.offset = query, page.total, page.offset
        self.rows = [
            UserItem(
                id=row.id,
                link=user_link(row.id),
                email=row.email,
                name=row.name,
                is_admin=row.is_admin,
                suspended=row.suspended,
                verified=row.verified,
                created=_when(row.created_at, zone),
                last_activity=_when(row.last_activity, zone),
            )
            for row in page.rows
        ]
        return None

    @rx.event
    async def load(self):
        self._clear()
        return await self._search(self.router.url.query_parameters.get("q", ""), 0)

    @rx.event
    async def search(self, form: dict):
        return await self._search(str(form.get("query", "")), 0)

    @rx.event
    async def next_page(self):
        return await self._search(self.query, self.offset + PAGE_SIZE)

    @rx.event
    async def previous_page(self):
        return await self._search(self.query, max(0, self.offset - PAGE_SIZE))


class MembershipItem(BaseModel):
    workspace_id: int
    link: str
    workspace_name: str
    role: str
    personal: bool


class IdentityItem(BaseModel):
    provider: str
    issuer: str
    email: str
    since: str


class SessionItem(BaseModel):
    device: str
    ip_address: str
    last_seen: str


class AdminUserState(ConsoleState):
    user_id_shown: int = 0
    email: str = ""
    name: str = ""
    is_admin: bool = False
    suspended: bool = False
    suspended_since: str = ""
    verified: str = ""
    created: str = ""
    last_activity: str = ""
    sign_in_methods: list[str] = []
    identities: list[IdentityItem] = []
    memberships: list[MembershipItem] = []
    sessions: list[SessionItem] = []

    def _clear(self) -> None:
        super()._clear()
        self.user_id_shown, self.email, self.name, self.is_admin, self.suspended = 0, "", "", False, False
        self.suspended_since = self.verified = self.created = self.last_activity = ""
        self.sign_in_methods, self.identities, self.memberships, self.sessions = [], [], [], []

    async def _show(self, user_id: int):
        detail, refusal = await self._as_admin(users.user_detail, user_id=user_id)
        if refusal is not None:
            return refusal
        zone = await self._zone()
        self.user_id_shown, self.email, self.name = detail.id, detail.email, detail.name
        self.is_admin, self.suspended = detail.is_admin, detail.suspended_at is not None
        self.suspended_since = _when(detail.suspended_at, zone) if detail.suspended_at else ""
        self.verified = _when(detail.email_verified_at, zone) if detail.email_verified_at else "not verified"
        self.created, self.last_activity = _when(detail.created_at, zone), _when(detail.last_activity, zone)
        self.sign_in_methods = (["Password"] if detail.has_password else []) + [
            identity.provider.title() for identity in detail.identities
        ]
        self.identities = [
            IdentityItem(provider=i.provider, issuer=i.issuer, email=i.email, since=_when(i.created_at, zone))
            for i in detail.identities
        ]
        self.memberships = [
            MembershipItem(
                workspace_id=m.workspace_id,
                link=workspace_link(m.workspace_id),
                workspace_name=m.workspace_name,
                role=m.role,
                personal=m.is_personal,
            )
            for m in detail.memberships
        ]
        self.sessions = [
            SessionItem(
                device=s.user_agent or "Unknown browser",
                ip_address=s.ip_address,
                last_seen=_when(s.last_seen_at, zone),
            )
            for s in detail.sessions
        ]
        return None

    @rx.event
    async def load(self):
        self._clear()
        return await self._show(_id_from(self.router.url.query_parameters.get("id", "")))

    async def _act(self, fn: Callable, success: str, **kwargs: Any):
        _done, refusal = await self._as_admin(fn, user_id=self.user_id_shown, ip="", **kwargs)
        if refusal is not None:
            return refusal
        shown = await self._show(self.user_id_shown)
        return shown if shown is not None else rx.toast.success(success)

    @rx.event
    async def suspend(self, form: dict):
        return await self._act(
            users.suspend_user,
            "Suspended: the account's sessions have ended.",
            reason=str(form.get("reason", "")),
        )

    @rx.event
    async def restore(self, form: dict):
        return await self._act(
            users.restore_user, "Restored: the account can sign in again.", reason=str(form.get("reason", ""))
        )

    @rx.event
    async def sign_out_everywhere(self):
        return await self._act(users.sign_out_everywhere, "Every session of the account has ended.")

    @rx.event
    async def send_password_reset(self):
        return await self._act(users.send_password_reset, "A password reset link is on its way.")

    @rx.event
    async def delete(self, form: dict):
        email = self.email
        _done, refusal = await self._as_admin(
            users.delete_user,
            user_id=self.user_id_shown,
            confirm_email=str(form.get("confirm_email", "")),
            ip="",
        )
        if refusal is not None:
            return refusal
        self._clear()
        return [rx.toast.success(f"{email} was deleted."), rx.redirect(routes.ADMIN_USERS)]


# --- workspaces ----------------------------------------------------------------------------------


class WorkspaceItem(BaseModel):
    id: int
    link: str
    name: str
    slug: str
    personal: bool
    credits: int
    members: int
    created: str


class AdminWorkspacesState(ConsoleState):
    query: str = ""
    rows: list[WorkspaceItem] = []

    def _clear(self) -> None:
        super()._clear()
        self.rows = []

    async def _search(self, query: str, offset: int):
        page, refusal = await self._as_admin(
            workspaces.search_workspaces, query=query, limit=PAGE_SIZE, offset=offset
        )
        if refusal is not None:
            return refusal
        zone = await self._zone()
        self.query, self.total, self.offset = query, page.total, page.offset
        self.rows = [
            WorkspaceItem(
                id=row.id,
                link=workspace_link(row.id),
                name=row.name,
                slug=row.slug,
                personal=row.is_personal,
                credits=row.credits,
                members=row.members,
                created=_when(row.created_at, zone),
            )
            for row in page.rows
        ]
        return None

    @rx.event
    async def load(self):
        self._clear()
        return await self._search(self.router.url.query_parameters.get("q", ""), 0)

    @rx.event
    async def search(self, form: dict):
        return await self._search(str(form.get("query", "")), 0)

    @rx.event
    async def next_page(self):
        return await self._search(self.query, self.offset + PAGE_SIZE)

    @rx.event
    async def previous_page(self):
        return await self._search(self.query, max(0, self.offset - PAGE_SIZE))


class MemberItem(BaseModel):
    user_id: int
    link: str
    email: str
    name: str
    role: str
    suspended: bool


class AccountItem(BaseModel):
    platform: str
    name: str
    status: str
    last_error: str


class StatusCount(BaseModel):
    status: str
    count: int


class LedgerItem(BaseModel):
    when: str
    type: str
    amount: str
    balance_after: int
    description: str


class PlanOption(BaseModel):
    code: str
    name: str


class AdminWorkspaceState(ConsoleState):
    workspace_id_shown: int = 0
    name: str = ""
    slug: str = ""
    personal: bool = False
    created: str = ""
    credits: int = 0
    ledger_ok: bool = True
    plan_name: str = ""
    plan_status: str = ""
    paid_through_stripe: bool = False
    storage: str = ""
    members: list[MemberItem] = []
    accounts: list[AccountItem] = []
    posts_by_status: list[StatusCount] = []
    ledger: list[LedgerItem] = []
    plans: list[PlanOption] = []

    @rx.var
    def ledger_label(self) -> str:
        if self.total == 0:
            return "No ledger rows"
        return f"{self.offset + 1}-{min(self.offset + LEDGER_PAGE_SIZE, self.total)} of {self.total}"

    @rx.var
    def ledger_has_next(self) -> bool:
        return self.offset + LEDGER_PAGE_SIZE < self.total

    def _clear(self) -> None:
        super()._clear()
        self.workspace_id_shown, self.name, self.slug, self.personal, self.created = 0, "", "", False, ""
        self.credits, self.ledger_ok, self.plan_name, self.plan_status = 0, True, "", ""
        self.paid_through_stripe, self.storage = False, ""
        self.members, self.accounts, self.posts_by_status, self.ledger, self.plans = [], [], [], [], []

    async def _show(self, workspace_id: int, ledger_offset: int = 0):
        detail, refusal = await self._as_admin(
            workspaces.workspace_detail,
            workspace_id=workspace_id,
            ledger_offset=ledger_offset,
            ledger_limit=LEDGER_PAGE_SIZE,
        )
        if refusal is not None:
            return refusal
        plans, refusal = await self._as_admin(workspaces.plan_choices)
        if refusal is not None:
            return refusal
        zone = await self._zone()
        self.workspace_id_shown, self.name, self.slug = detail.id, detail.name, detail.slug
        self.personal, self.created, self.credits = (
            detail.is_personal,
            _when(detail.created_at, zone),
            detail.credits,
        )
        self.ledger_ok, self.plan_name, self.plan_status = (
            detail.ledger_ok,
            detail.plan_name,
            detail.plan_status,
        )
        self.paid_through_stripe, self.storage = detail.paid_through_stripe, _size(detail.storage_bytes)
        self.members = [
            MemberItem(
                user_id=m.user_id,
                link=user_link(m.user_id),
                email=m.email,
                name=m.name,
                role=m.role,
                suspended=m.suspended,
            )
            for m in detail.members
        ]
        self.accounts = [
            AccountItem(platform=a.platform, name=a.name, status=a.status, last_error=a.last_error)
            for a in detail.accounts
        ]
        self.posts_by_status = [
            StatusCount(status=s, count=n) for s, n in sorted(detail.posts_by_status.items())
        ]
        self.total, self.offset = detail.ledger.total, detail.ledger.offset
        self.ledger = [
            LedgerItem(
                when=_when(r.created_at, zone),
                type=r.type,
                amount=f"{r.amount:+d}",
                balance_after=r.balance_after,
                description=r.description,
            )
            for r in detail.ledger.rows
        ]
        self.plans = [PlanOption(code=p.code, name=p.name) for p in plans]
        return None

    @rx.event
    async def load(self):
        self._clear()
        return await self._show(_id_from(self.router.url.query_parameters.get("id", "")))

    @rx.event
    async def adjust(self, form: dict):
        entry, refusal = await self._as_admin(
            workspaces.adjust_credits,
            workspace_id=self.workspace_id_shown,
            amount=str(form.get("amount", "")),
            reason=str(form.get("reason", "")),
            ip="",
        )
        if refusal is not None:
            return refusal
        shown = await self._show(self.workspace_id_shown)
        return shown or [
            rx.toast.success(f"Adjusted by {entry.amount:+d}: the balance is now {entry.balance_after}."),
            rx.set_value("adjust-amount", ""),
            rx.set_value("adjust-reason", ""),
        ]

    @rx.event
    async def change_plan(self, form: dict):
        name, refusal = await self._as_admin(
            workspaces.change_plan,
            workspace_id=self.workspace_id_shown,
            plan_code=str(form.get("plan", "")),
            reason=str(form.get("reason", "")),
            ip="",
        )
        if refusal is not None:
            return refusal
        return await self._show(self.workspace_id_shown) or rx.toast.success(
            f"The workspace is now on {name}."
        )

    @rx.event
    async def next_ledger_page(self):
        return await self._show(self.workspace_id_shown, self.offset + LEDGER_PAGE_SIZE)

    @rx.event
    async def previous_ledger_page(self):
        return await self._show(self.workspace_id_shown, max(0, self.offset - LEDGER_PAGE_SIZE))


def _size(size_bytes: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size_bytes < 1024 or unit == "GB":
            return f"{size_bytes:,.0f} {unit}" if unit == "bytes" else f"{size_bytes:,.1f} {unit}"
        size_bytes /= 1024
    return ""


# --- publishing ----------------------------------------------------------------------------------

PUBLISHING_LISTS = [("failed", "Failed"), ("needs_review", "Needs review"), ("overdue", "Overdue")]


class DestinationItem(BaseModel):
    id: int
    workspace_name: str
    workspace_link: str
    account: str
    status: str
    attempts: int
    message: str
    content: str
    due: str


class ReconnectItem(BaseModel):
    workspace_name: str
    workspace_link: str
    account: str
    last_error: str
    since: str


class AdminPublishingState(ConsoleState):
    which: str = "failed"
    rows: list[DestinationItem] = []
    accounts: list[ReconnectItem] = []
    chosen_id: int = 0  # the publish a confirmation dialog is about
    chosen_published: bool = False

    def _clear(self) -> None:
        super()._clear()
        self.rows, self.accounts, self.chosen_id, self.chosen_published = [], [], 0, False

    async def _list(self, which: str, offset: int):
        page, refusal = await self._as_admin(
            publishing.destinations, which=which, limit=PAGE_SIZE, offset=offset
        )
        if refusal is not None:
            return refusal
        accounts, refusal = await self._as_admin(publishing.accounts_needing_reconnect)
        if refusal is not None:
            return refusal
        zone = await self._zone()
        self.which, self.total, self.offset = which, page.total, page.offset
        self.rows = [
            DestinationItem(
                id=r.id,
                workspace_name=r.workspace_name,
                workspace_link=workspace_link(r.workspace_id),
                account=r.account,
                status=r.status,
                attempts=r.attempts,
                message=r.message,
                content=r.content,
                due=_when(r.due_at, zone),
            )
            for r in page.rows
        ]
        self.accounts = [
            ReconnectItem(
                workspace_name=a.workspace_name,
                workspace_link=workspace_link(a.workspace_id),
                account=a.account,
                last_error=a.last_error,
                since=_when(a.updated_at, zone),
            )
            for a in accounts
        ]
        return None

    @rx.event
    async def load(self):
        self._clear()
        wanted = self.router.url.query_parameters.get("list", "failed")
        return await self._list(wanted if wanted in dict(PUBLISHING_LISTS) else "failed", 0)

    @rx.event
    async def show(self, which: str):
        return await self._list(str(which), 0)

    @rx.event
    async def next_page(self):
        return await self._list(self.which, self.offset + PAGE_SIZE)

    @rx.event
    async def previous_page(self):
        return await self._list(self.which, max(0, self.offset - PAGE_SIZE))

    @rx.event
    async def retry(self, destination_id: int):
        _done, refusal = await self._as_admin(publishing.retry, destination_id=_as_int(destination_id), ip="")
        if refusal is not None:
            return refusal
        shown = await self._list(self.which, self.offset)
        return shown or rx.toast.success("Sent again: it goes out within a minute.")

    @rx.event
    def ask_review(self, destination_id: int, published: bool):
        # Only opens the confirmation; the answer is `answer_review`, checked like every other event.
        if not self.allowed:
            self._clear()
            return
        self.chosen_id, self.chosen_published = _as_int(destination_id), bool(published)
        self.dialog = "review"

    @rx.event
    async def answer_review(self, _form: dict):
        _done, refusal = await self._as_admin(
            publishing.resolve_review, destination_id=self.chosen_id, published=self.chosen_published, ip=""
        )
        if refusal is not None:
            return refusal
        done = "Marked as published." if self.chosen_published else "Sent again: it goes out within a minute."
        self.chosen_id = 0
        return await self._list(self.which, self.offset) or rx.toast.success(done)


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


# --- payments ------------------------------------------------------------------------------------

PAYMENT_STATUS_CHOICES = [
    (ANY, "Every status"),
    *((s.value, s.value.replace("_", " ")) for s in PaymentStatus),
]


class PaymentItem(BaseModel):
    id: int
    workspace_name: str
    workspace_link: str
    plan_name: str
    amount: str
    refunded: str
    credits: int
    credits_taken_back: int
    credits_owed: int
    status: str
    when: str
    stripe_url: str


class SubscriptionItem(BaseModel):
    workspace_name: str
    workspace_link: str
    plan_name: str
    status: str
    period_end: str
    cancels: bool
    source: str
    stripe_url: str


class EventItem(BaseModel):
    kind: str
    id: str
    type: str
    received: str
    attempts: int
    error: str


class AdminPaymentsState(ConsoleState):
    status: str = ANY
    owed_only: bool = False
    rows: list[PaymentItem] = []
    subscriptions: list[SubscriptionItem] = []
    events: list[EventItem] = []

    def _clear(self) -> None:
        super()._clear()
        self.rows, self.subscriptions, self.events = [], [], []

    async def _list(self, status: str, owed_only: bool, offset: int):
        page, refusal = await self._as_admin(
            payments.payments, status=status, owed_only=owed_only, limit=PAGE_SIZE, offset=offset
        )
        if refusal is not None:
            return refusal
        subscriptions, refusal = await self._as_admin(payments.subscriptions)
        if refusal is not None:
            return refusal
        events, refusal = await self._as_admin(payments.stuck_events)
        if refusal is not None:
            return refusal
        zone = await self._zone()
        self.status, self.owed_only, self.total, self.offset = (
            status or ANY,
            owed_only,
            page.total,
            page.offset,
        )
        self.rows = [
            PaymentItem(
                id=p.id,
                workspace_name=p.workspace_name,
                workspace_link=workspace_link(p.workspace_id or 0),
                plan_name=p.plan_name,
                amount=p.amount,
                refunded=p.refunded,
                credits=p.credits,
                credits_taken_back=p.credits_taken_back,
                credits_owed=p.credits_owed,
                status=p.status,
                when=_when(p.created_at, zone),
                stripe_url=p.stripe_url,
            )
            for p in page.rows
        ]
        self.subscriptions = [
            SubscriptionItem(
                workspace_name=s.workspace_name,
                workspace_link=workspace_link(s.workspace_id),
                plan_name=s.plan_name,
                status=s.status,
                period_end=_when(s.current_period_end, zone),
                cancels=s.cancel_at_period_end,
                source=s.source,
                stripe_url=s.stripe_url,
            )
            for s in subscriptions
        ]
        self.events = [
            EventItem(
                kind=e.kind,
                id=e.id,
                type=e.type,
                received=_when(e.received_at, zone),
                attempts=e.attempts,
                error=e.error,
            )
            for e in events
        ]
        return None

    @rx.event
    async def load(self):
        self._clear()
        return await self._list("", False, 0)

    @rx.event
    async def filter(self, form: dict):
        return await self._list(_unless_any(form.get("status", "")), bool(form.get("owed_only")), 0)

    @rx.event
    async def next_page(self):
        return await self._list(_unless_any(self.status), self.owed_only, self.offset + PAGE_SIZE)

    @rx.event
    async def previous_page(self):
        return await self._list(_unless_any(self.status), self.owed_only, max(0, self.offset - PAGE_SIZE))

    @rx.event
    async def process_again(self, kind: str, event_id: str):
        queued, refusal = await self._as_admin(
            payments.process_again, kind=str(kind), event_id=str(event_id), ip=""
        )
        if refusal is not None:
            return refusal
        shown = await self._list(_unless_any(self.status), self.owed_only, self.offset)
        notice = (
            "Queued: the worker processes it in a moment."
            if queued
            else ("The queue could not be reached: the minutely sweep will pick the event up.")
        )
        return shown or rx.toast.success(notice)


# --- plans and packs -----------------------------------------------------------------------------


class PlanItem(BaseModel):
    code: str
    kind: str
    name: str
    price: str
    price_label: str
    credits: int
    stripe_price_id: str
    max_accounts: str
    storage_mb: str
    seats: str
    is_active: bool


class AdminPlansState(ConsoleState):
    rows: list[PlanItem] = []
    editing: PlanItem | None = None  # the plan the edit dialog shows

    def _clear(self) -> None:
        super()._clear()
        self.rows, self.editing = [], None

    async def _list(self):
        found, refusal = await self._as_admin(plans.list_plans)
        if refusal is not None:
            return refusal
        self.rows = [
            PlanItem(
                code=p.code,
                kind=p.kind.replace("_", " "),
                name=p.name,
                price=p.price,
                price_label=p.price_label,
                credits=p.credits,
                stripe_price_id=p.stripe_price_id,
                max_accounts=p.limits["max_accounts"],
                storage_mb=p.limits["storage_mb"],
                seats=p.limits["seats"],
                is_active=p.is_active,
            )
            for p in found
        ]
        return None

    @rx.event
    async def load(self):
        self._clear()
        return await self._list()

    @rx.event
    def edit(self, code: str):
        # Only opens the form with what this tab already shows; saving is `save`, checked like all.
        if not self.allowed:
            self._clear()
            return
        chosen = next((row for row in self.rows if row.code == code), None)
        if chosen is None:
            return
        self.editing, self.dialog, self.error = chosen, "plan", ""

    @rx.event
    async def save(self, form: dict):
        if self.editing is None:
            return None
        row, refusal = await self._as_admin(
            plans.update_plan,
            code=self.editing.code,
            name=str(form.get("name", "")),
            price=str(form.get("price", "")),
            credits=str(form.get("credits", "")),
            stripe_price_id=str(form.get("stripe_price_id", "")),
            limits={key: str(form.get(key, "")) for key in plans.LIMITS},
            is_active=bool(form.get("is_active")),
            ip="",
        )
        if refusal is not None:
            return refusal
        self.editing = None
        return await self._list() or rx.toast.success(f"{row.name} saved: the billing pages show it now.")


# --- audit log -----------------------------------------------------------------------------------


class AuditItem(BaseModel):
    id: int
    when: str
    actor: str
    action: str
    target: str
    target_link: str
    change: str
    reason: str
    ip_address: str


def audit_items(entries: list[audit.AuditEntry], zone: str) -> list[AuditItem]:
    return [
        AuditItem(
            id=e.id,
            when=_when(e.created_at, zone),
            actor=e.actor,
            action=e.action_label,
            target=f"{e.target_label or e.target_type} (#{e.target_id})",
            target_link=_target_link(e),
            change=e.change,
            reason=e.reason,
            ip_address=e.ip_address,
        )
        for e in entries
    ]


def _target_link(entry: audit.AuditEntry) -> str:
    if entry.target_type == "user":
        return user_link(int(entry.target_id))
    if entry.target_type == "workspace":
        return workspace_link(int(entry.target_id))
    if entry.target_type == "event":
        return routes.ADMIN_PAYMENTS
    if entry.target_type == "plan":
        return routes.ADMIN_PLANS
    return workspace_link(entry.workspace_id or 0)  # a post: its workspace


class AdminAuditState(ConsoleState):
    entries: list[AuditItem] = []
    action: str = ""
    actor: str = ""
    target_type: str = ""
    target_id: str = ""

    def _clear(self) -> None:
        super()._clear()
        self.entries = []

    async def _list(self, filters: audit.AuditFilters, offset: int):
        page, refusal = await self._as_admin(
            audit.audit_page, filters=filters, limit=PAGE_SIZE, offset=offset
        )
        if refusal is not None:
            return refusal
        self.action, self.actor = filters.action, filters.actor
        self.target_type, self.target_id = filters.target_type, filters.target_id
        self.total, self.offset = page.total, page.offset
        self.entries = audit_items(page.entries, await self._zone())
        return None

    def _filters(self) -> audit.AuditFilters:
        return audit.AuditFilters(self.action, self.actor, self.target_type, self.target_id)

    @rx.event
    async def load(self):
        self._clear()
        query = self.router.url.query_parameters
        filters = audit.AuditFilters(
            target_type=query.get("target_type", ""), target_id=query.get("target_id", "")
        )
        return await self._list(filters, 0)

    @rx.event
    async def filter(self, form: dict):
        filters = audit.AuditFilters(
            action=_unless_any(form.get("action", "")),
            actor=str(form.get("actor", "")),
            target_type=_unless_any(form.get("target_type", "")),
            target_id=str(form.get("target_id", "")),
        )
        return await self._list(filters, 0)

    @rx.event
    async def next_page(self):
        return await self._list(self._filters(), self.offset + PAGE_SIZE)

    @rx.event
    async def previous_page(self):
        return await self._list(self._filters(), max(0, self.offset - PAGE_SIZE))

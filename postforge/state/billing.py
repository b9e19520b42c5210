"""Billing pages' state: plans and checkout, the success page's wait, the billing overview, the sandbox.

Thin: every rule is in `services.payments.billing`, `services.payments.stripe_sandbox`; these handlers identify the
member from the shell (never from event arguments), call the service in a thread and turn a
refusal into a toast.
"""

import asyncio
import logging
import time

import httpx
import reflex as rx
from pydantic import BaseModel

from postforge import outbound, routes
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import ServiceError
from postforge.services.payments import billing, stripe_sandbox
from postforge.settings import get_settings
from postforge.state import background
from postforge.state.session_guard import still_signed_in
from postforge.state.shell import ShellState, in_workspace, run_in_session

log = logging.getLogger(__name__)

PAGE_SIZE = 20
WAIT_SECONDS = 60  # how long the success page waits for Stripe's confirmation before saying so
POLL_SECONDS = 1.0
SANDBOX_SETTLE_SECONDS = 3.0  # a "delayed" sandbox payment method clears after this pause
SANDBOX_WEBHOOK_DEADLINE_SECONDS = 10.0  # each call to this server's own webhook, whole


def _query(state: rx.State, name: str) -> str:
    return str(state.router.url.query_parameters.get(name, "") or "")


class PlanCard(BaseModel):
    code: str
    name: str
    credits: int
    price: str
    note: str  # "$0.58 a credit" or "100 credits a month · up to 10 accounts"
    popular: bool
    current: bool = False
    free: bool = False


class PaymentItem(BaseModel):
    id: int
    when: str
    plan: str
    kind: str
    amount: str
    credits: str
    status: str
    refund_note: str
    balance_after: str


def _pack_card(plan: billing.PlanView) -> PlanCard:
    per_credit = billing.money(round(plan.price_cents / plan.credits), plan.currency) if plan.credits else "—"
    return PlanCard(
        code=plan.code,
        name=plan.name,
        credits=plan.credits,
        price=plan.price_label,
        note=f"{per_credit} a credit",
        popular=plan.is_popular,
    )


def _tier_card(plan: billing.PlanView, current_code: str) -> PlanCard:
    accounts = plan.features.get("max_accounts")
    parts = [f"{plan.credits} credits a month" if plan.credits else "No monthly credits"]
    if accounts:
        parts.append(f"up to {accounts} social accounts")
    return PlanCard(
        code=plan.code,
        name=plan.name,
        credits=plan.credits,
        price=f"{plan.price_label} a month" if plan.price_cents else "$0",
        note=" · ".join(parts),
        popular=plan.is_popular,
        current=plan.code == current_code,
        free=plan.price_cents == 0,
    )


def _refund_note(row: billing.PaymentRow) -> str:
    if not row.refunded:
        return ""
    note = f"{row.refunded} refunded, {row.credits_taken_back} credits taken back"
    return note + (f", {row.credits_owed} owed" if row.credits_owed else "")


class BillingState(rx.State):
    """The buy page and the billing overview."""

    mode: str = ""  # stripe | sandbox | disabled
    packs: list[PlanCard] = []
    tiers: list[PlanCard] = []
    buying: str = ""  # the plan whose checkout is being opened
    # Billing overview
    allowed: bool = False
    tier_name: str = ""
    tier_status: str = ""
    tier_period: str = ""
    tier_note: str = ""
    subscribed: bool = False
    payments: list[PaymentItem] = []
    total: int = 0
    offset: int = 0
    opening_portal: bool = False
    _runs: dict[str, str] = {}  # the tier refresher (see `background`)

    @rx.var
    def has_older(self) -> bool:
        return self.offset + PAGE_SIZE < self.total

    @rx.var
    def has_newer(self) -> bool:
        return self.offset > 0

    @rx.var
    def page_label(self) -> str:
        if not self.total:
            return ""
        return f"{self.offset + 1} to {min(self.offset + PAGE_SIZE, self.total)} of {self.total}"

    async def _tier(self, shell: ShellState) -> billing.TierView | None:
        if not shell.workspace_id:
            return None
        return await in_workspace(shell, billing.current_subscription)

    @rx.event
    async def load_plans(self):
        shell = await self.get_state(ShellState)
        self.mode, self.buying = billing.checkout_mode(), ""
        plans = await asyncio.to_thread(run_in_session, billing.list_plans)
        current = ""
        if shell.is_workspace_admin:
            tier = await self._tier(shell)
            current = tier.plan.code if tier else ""
        self.packs = [_pack_card(p) for p in plans if p.kind == "credit_pack"]
        self.tiers = [_tier_card(p, current) for p in plans if p.kind == "subscription"]

    @rx.event
    async def buy(self, plan_code: str):
        shell = await self.get_state(ShellState)
        if not shell.workspace_id:
            yield rx.toast.error("Choose a workspace first.")
            return
        self.buying = plan_code
        yield
        try:
            started = await in_workspace(shell, billing.start_checkout, plan_code=plan_code)
        except ServiceError as error:
            self.buying = ""
            yield rx.toast.error(error.message)
            return
        # Stripe's hosted page (another site) or the in-app sandbox page; the same tab either way.
        yield rx.redirect(started.url)

    @rx.event
    async def load_billing(self):
        shell = await self.get_state(ShellState)
        self.mode, self.opening_portal = billing.checkout_mode(), False
        self.allowed = shell.is_workspace_admin
        if not self.allowed or not shell.workspace_id:
            self.payments, self.total = [], 0
            return
        tier = await self._tier(shell)
        if tier is not None:
            self._show_tier(tier, shell.workspace_timezone)
        self.offset = 0
        await self._load_payments(shell)

    def _show_tier(self, tier: billing.TierView, timezone: str) -> None:
        self.tier_name = tier.plan.name
        self.tier_status = tier.status.replace("_", " ")
        self.subscribed = tier.status != "free"
        self.tier_period = ""
        if tier.current_period_end is not None:
            verb = "Ends" if tier.cancel_at_period_end else "Renews"
            self.tier_period = f"{verb} {timefmt.format_local(tier.current_period_end, timezone, '%d %b %Y')}"
        accounts = tier.limit("max_accounts")
        credits_note = f"{tier.plan.credits} credits a month" if tier.plan.credits else "no monthly credits"
        self.tier_note = f"{credits_note} · up to {accounts} social accounts" if accounts else credits_note

    async def _load_payments(self, shell: ShellState) -> None:
        page = await in_workspace(shell, billing.payment_history, limit=PAGE_SIZE, offset=self.offset)
        self.total = page.total
        self.payments = [
            PaymentItem(
                id=row.id,
                when=timefmt.format_local(row.created_at, shell.workspace_timezone),
                plan=row.plan_name,
                kind="Subscription" if row.kind == "subscription" else "Credit pack",
                amount=row.amount,
                credits=f"+{row.credits}" if row.balance_after is not None else f"{row.credits} (not added)",
                status=row.status.replace("_", " "),
                refund_note=_refund_note(row),
                balance_after=str(row.balance_after) if row.balance_after is not None else "—",
            )
            for row in page.rows
        ]

    @rx.event
    async def older(self):
        if self.has_older:
            self.offset += PAGE_SIZE
            await self._load_payments(await self.get_state(ShellState))

    @rx.event
    async def newer(self):
        if self.offset > 0:
            self.offset = max(0, self.offset - PAGE_SIZE)
            await self._load_payments(await self.get_state(ShellState))

    @rx.event
    async def open_portal(self):
        shell = await self.get_state(ShellState)
        self.opening_portal = True
        yield
        try:
            url = await in_workspace(shell, billing.portal_url)
        except ServiceError as error:
            self.opening_portal = False
            yield rx.toast.error(error.message)
            return
        yield rx.redirect(url)

    @rx.event
    async def cancel_sandbox_subscription(self):
        shell = await self.get_state(ShellState)
        try:
            signed = await in_workspace(shell, stripe_sandbox.sandbox_cancel_events)
            await send_to_webhook(signed)
        except ServiceError as error:
            yield rx.toast.error(error.message)
            return
        yield rx.toast.success("Subscription canceled in the sandbox.")
        background.book(self, "refresh_tier")
        yield BillingState.refresh_tier

    @rx.event(background=True)
    async def refresh_tier(self):
        """Re-read the tier until the worker has processed the change (a few seconds at most)."""
        async with self:
            me = background.claim(self, "refresh_tier")
        if me is None:
            return  # only the cancel button starts it, once per click
        for _ in range(10):
            await asyncio.sleep(POLL_SECONDS)
            async with self:
                if not background.is_current(self, "refresh_tier", me) or not await still_signed_in(self):
                    return
                shell = await self.get_state(ShellState)
                user_id, workspace_id, timezone = shell.user_id, shell.workspace_id, shell.workspace_timezone
                was = self.subscribed
            try:
                tier = await asyncio.to_thread(
                    run_in_session, billing.current_subscription, actor_id=user_id, workspace_id=workspace_id
                )
            except ServiceError:
                return  # no longer allowed (role changed): the next page load says so
            async with self:
                self._show_tier(tier, timezone)
            if (tier.status != "free") != was:
                return


# --- after Stripe: the success page ------------------------------------------------------------------


class CheckoutState(rx.State):
    """Waits for the webhook to be processed, then shows the new balance — or says honestly why not."""

    session_id: str = ""
    phase: str = "waiting"  # waiting | clearing | paid | failed | slow | unknown
    plan_name: str = ""
    kind: str = ""
    credits: int = 0
    amount: str = ""
    balance: int = 0
    waited: int = 0
    message: str = ""
    _runs: dict[str, str] = {}  # the page's watcher (see `background`)

    @rx.var
    def progress(self) -> int:
        return min(100, round(100 * self.waited / WAIT_SECONDS))

    @rx.event
    async def start(self):
        shell = await self.get_state(ShellState)
        self.session_id = _query(self, "session_id")
        self.phase, self.waited, self.message = "waiting", 0, ""
        background.cancel(self, "watch")
        if not shell.signed_in or not self.session_id:
            self.phase = "unknown"
            self.message = (
                "This page needs the checkout it belongs to. Your payments are on the billing page."
            )
            return None
        background.book(self, "watch")
        return CheckoutState.watch

    def _apply(self, status: billing.CheckoutStatus) -> None:
        self.plan_name, self.kind = status.plan_name, status.kind
        self.credits, self.amount, self.balance = status.credits, status.amount, status.balance
        if status.status in ("paid", "refunded", "partially_refunded"):
            self.phase = "paid"
        elif status.status in ("failed", "expired"):
            self.phase = "failed"
        elif status.checkout_completed:
            self.phase = "clearing"

    @rx.event(background=True)
    async def watch(self):
        async with self:
            me = background.claim(self, "watch")
            shell = await self.get_state(ShellState)
            user_id, session_id = shell.user_id, self.session_id
        if me is None:
            return  # one watcher per visit of the page, whatever the client sends
        started = time.monotonic()
        while True:
            try:
                status = await asyncio.to_thread(
                    run_in_session, billing.checkout_status, actor_id=user_id, checkout_session_id=session_id
                )
            except ServiceError as error:
                async with self:
                    if background.is_current(self, "watch", me):
                        self.phase, self.message = "unknown", error.message
                return
            waited = time.monotonic() - started
            async with self:
                if not background.is_current(self, "watch", me):
                    return  # the page was opened again; that visit has its own watcher
                if not await still_signed_in(self):
                    return
                self._apply(status)
                self.waited = int(waited)
                if self.phase == "paid":
                    shell = await self.get_state(ShellState)
                    if shell.workspace_id == status.workspace_id:
                        shell.credits = status.balance
                    return
                if self.phase == "failed":
                    return
                if waited >= WAIT_SECONDS:
                    self.phase = "slow"
                    return
            await asyncio.sleep(POLL_SECONDS)

    @rx.event
    def check_again(self):
        self.phase, self.waited = "waiting", 0
        background.book(self, "watch")
        return CheckoutState.watch


# --- the sandbox checkout page ---------------------------------------------------------------------


async def send_to_webhook(events: list[stripe_sandbox.SignedEvent]) -> None:
    """POST signed events to this server's own webhook route, as Stripe would."""
    settings = get_settings()
    url = (settings.api_url or settings.app_url).rstrip("/") + routes.API_STRIPE_WEBHOOK
    policy = outbound.policy_for(
        settings, user_named=False, deadline_seconds=SANDBOX_WEBHOOK_DEADLINE_SECONDS
    )
    async with httpx.AsyncClient(**outbound.client_options(httpx, policy, asynchronous=True)) as client:
        for event in events:
            try:
                response = await client.post(
                    url,
                    content=event.body.encode(),
                    headers={"Stripe-Signature": event.signature, "Content-Type": "application/json"},
                )
            except httpx.HTTPError as error:
                log.warning("sandbox could not reach %s: %s", url, error)
                raise ServiceError(
                    f"The sandbox could not reach this server's webhook at {url}: check APP_URL / API_URL."
                ) from None
            if response.status_code != 200:
                raise ServiceError(f"The webhook refused the sandbox event ({response.status_code}).")


class SandboxCheckoutState(rx.State):
    session_id: str = ""
    plan_name: str = ""
    kind: str = ""
    credits: int = 0
    amount: str = ""
    open: bool = False
    loaded: bool = False
    paying: str = ""
    error: str = ""
    _later: list[tuple[str, str, str, str]] = []  # signed follow-up events; never sent to the browser

    @rx.event
    async def load(self):
        shell = await self.get_state(ShellState)
        self.session_id, self.paying, self.error, self.loaded = _query(self, "session_id"), "", "", False
        if not shell.signed_in:
            return
        try:
            shown = await asyncio.to_thread(
                run_in_session,
                stripe_sandbox.sandbox_checkout,
                actor_id=shell.user_id,
                checkout_session_id=self.session_id,
            )
        except ServiceError as error:
            self.error = error.message
            return
        self.plan_name, self.kind, self.credits = shown.plan_name, shown.kind, shown.credits
        self.amount, self.open, self.loaded = shown.amount, shown.open, True

    @rx.event
    async def pay(self, outcome: str):
        shell = await self.get_state(ShellState)
        self.paying = outcome
        yield
        try:
            delivery = await asyncio.to_thread(
                run_in_session,
                stripe_sandbox.sandbox_payment_events,
                actor_id=shell.user_id,
                checkout_session_id=self.session_id,
                outcome=outcome,
            )
            await send_to_webhook(delivery.now)
        except ServiceError as error:
            self.paying = ""
            yield rx.toast.error(error.message)
            return
        if delivery.later:
            self._later = [(e.id, e.type, e.body, e.signature) for e in delivery.later]
            yield SandboxCheckoutState.settle_later
        yield rx.redirect(f"{routes.CHECKOUT_SUCCESS}?session_id={self.session_id}")

    @rx.event(background=True)
    async def settle_later(self):
        """A delayed payment method clears (or fails) a moment later, as a bank would."""
        async with self:
            events, self._later = list(self._later), []
        if not events:
            return  # nothing booked by a payment: a second call has nothing to send
        await asyncio.sleep(SANDBOX_SETTLE_SECONDS)
        try:
            await send_to_webhook([stripe_sandbox.SignedEvent(*event) for event in events])
        except ServiceError as error:
            log.warning("sandbox follow-up event not delivered: %s", error.message)

"""Billing: buy credits or a plan, the checkout's success and cancel pages, the overview, the sandbox."""

import reflex as rx

from postforge import routes
from postforge.components.cards import empty_state
from postforge.components.layout import template
from postforge.services.payments import stripe_sandbox
from postforge.state.billing import (
    BillingState,
    CheckoutState,
    PaymentItem,
    PlanCard,
    SandboxCheckoutState,
)
from postforge.state.shell import ShellState

MUTED = rx.color("gray", 11)


def _admins_only(what: str) -> rx.Component:
    return rx.cond(
        ShellState.is_workspace_admin,
        rx.fragment(),
        rx.callout.root(
            rx.callout.icon(rx.icon("lock")),
            rx.callout.text(
                f"Only workspace admins can {what} for ",
                rx.text.strong(ShellState.workspace_name),
                ". Ask one of its admins, or switch to a workspace you manage.",
            ),
            color_scheme="amber",
            width="100%",
            id="billing-admins-only",
        ),
    )


def _mode_notice() -> rx.Component:
    return rx.match(
        BillingState.mode,
        (
            "sandbox",
            rx.callout(
                "Sandbox checkout: no Stripe key is set, so no money moves. The next page plays Stripe's part "
                "and sends the same signed events Stripe would.",
                icon="flask-conical",
                color_scheme="blue",
                width="100%",
                id="sandbox-notice",
            ),
        ),
        (
            "disabled",
            rx.callout(
                "Payments are not set up on this server yet. Ask its administrator to add the Stripe keys.",
                icon="circle-alert",
                color_scheme="red",
                width="100%",
            ),
        ),
        rx.fragment(),
    )


def _cannot_buy() -> rx.Var:
    return ~ShellState.is_workspace_admin | (BillingState.mode == "disabled")


def _pack_card(card: PlanCard) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(card.name, size="5", as_="h3"),
                rx.cond(card.popular, rx.badge("Most popular", color_scheme="violet", variant="solid")),
                justify="between",
                align="center",
                width="100%",
            ),
            rx.text(card.credits, " credits", size="7", weight="bold"),
            rx.text(card.price, size="4"),
            rx.text(card.note, size="2", color=MUTED),
            rx.button(
                "Buy ",
                card.name,
                on_click=BillingState.buy(card.code),
                loading=BillingState.buying == card.code,
                disabled=_cannot_buy(),
                variant=rx.cond(card.popular, "solid", "soft"),
                size="3",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        size="3",
        border=rx.cond(
            card.popular, f"2px solid {rx.color('accent', 9)}", f"1px solid {rx.color('gray', 5)}"
        ),
        box_shadow=rx.cond(card.popular, "var(--shadow-4)", "none"),
        id=f"plan-{card.code}",
    )


def _tier_action(card: PlanCard) -> rx.Component:
    return rx.cond(
        card.current,
        rx.badge("Your current plan", color_scheme="green", size="2"),
        rx.cond(
            card.free,
            rx.text("Included with every workspace", size="2", color=MUTED),
            rx.button(
                "Subscribe to ",
                card.name,
                on_click=BillingState.buy(card.code),
                loading=BillingState.buying == card.code,
                disabled=_cannot_buy(),
                variant="soft",
                width="100%",
            ),
        ),
    )


def _tier_card(card: PlanCard) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(card.name, size="4", as_="h3"),
                rx.cond(card.popular, rx.badge("Most popular", color_scheme="violet")),
                justify="between",
                align="center",
                width="100%",
            ),
            rx.text(card.price, size="5", weight="bold"),
            rx.text(card.note, size="2", color=MUTED),
            _tier_action(card),
            spacing="2",
            width="100%",
        ),
        width="100%",
        id=f"plan-{card.code}",
    )


@template(route=routes.BUY_CREDITS, title="Buy credits", on_load=BillingState.load_plans)
def buy_credits_page() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Balance of ",
            ShellState.workspace_name,
            ": ",
            rx.text.strong(ShellState.credits),
            " credits. One AI generation costs one credit. Credits never expire.",
            color=MUTED,
        ),
        _mode_notice(),
        _admins_only("buy credits"),
        rx.heading("Credit packs", size="5", as_="h2", margin_top="0.5em"),
        rx.grid(
            rx.foreach(BillingState.packs, _pack_card),
            columns=rx.breakpoints(initial="1", sm="3"),
            spacing="4",
            width="100%",
        ),
        rx.heading("Monthly plans", size="5", as_="h2", margin_top="1em", id="plans"),
        rx.text(
            "A plan adds its credits every month and raises the workspace's limits. Change or cancel it any "
            "time from the billing page.",
            color=MUTED,
        ),
        rx.grid(
            rx.foreach(BillingState.tiers, _tier_card),
            columns=rx.breakpoints(initial="1", sm="3"),
            spacing="4",
            width="100%",
        ),
        rx.link("Payment history and your plan →", href=routes.BILLING),
        spacing="4",
        width="100%",
    )


# --- success and cancel --------------------------------------------------------------------------------


def _waiting(title: str, body: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.spinner(size="3"), rx.heading(title, size="5", as_="h2"), align="center", spacing="3"),
        body,
        rx.progress(value=CheckoutState.progress, max=100, width="100%", aria_label="Time waited"),
        rx.text("Waiting for ", CheckoutState.waited, " s …", size="1", color=MUTED),
        spacing="3",
        width="100%",
        role="status",
        aria_live="polite",
    )


def _links() -> rx.Component:
    return rx.hstack(
        rx.link(rx.button("Go to billing", variant="soft"), href=routes.BILLING),
        rx.link(rx.button("Credit history", variant="soft"), href=routes.CREDITS),
        rx.link(rx.button("Generate a post"), href=routes.GENERATE),
        spacing="3",
        wrap="wrap",
    )


def _paid() -> rx.Component:
    return rx.vstack(
        rx.callout.root(
            rx.callout.icon(rx.icon("circle-check")),
            rx.callout.text(
                rx.cond(
                    CheckoutState.kind == "subscription",
                    "Your " + CheckoutState.plan_name + " plan is active and its credits were added.",
                    "Payment received for the " + CheckoutState.plan_name + " pack.",
                )
            ),
            color_scheme="green",
            width="100%",
        ),
        rx.hstack(
            rx.badge(
                "+", CheckoutState.credits, " credits", size="3", color_scheme="green", id="credits-added"
            ),
            rx.text(
                "Your balance is now ", rx.text.strong(CheckoutState.balance, id="new-balance"), " credits."
            ),
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        _links(),
        spacing="4",
        width="100%",
        role="status",
    )


@template(route=routes.CHECKOUT_SUCCESS, title="Checkout", on_load=CheckoutState.start)
def checkout_success_page() -> rx.Component:
    return rx.card(
        rx.match(
            CheckoutState.phase,
            (
                "waiting",
                _waiting(
                    "Confirming your payment …",
                    rx.text(
                        "Stripe tells PostForge when the payment is through; this usually takes a few seconds. "
                        "Your credits are added the moment it does.",
                        color=MUTED,
                    ),
                ),
            ),
            (
                "clearing",
                _waiting(
                    "Waiting for your bank …",
                    rx.text(
                        "The checkout is complete, but this payment method takes a while to confirm. Your "
                        "credits appear as soon as it clears — you can leave this page.",
                        color=MUTED,
                    ),
                ),
            ),
            ("paid", _paid()),
            (
                "failed",
                rx.vstack(
                    rx.callout(
                        "The payment did not go through, so nothing was charged and no credits were added.",
                        icon="circle-x",
                        color_scheme="red",
                        width="100%",
                    ),
                    rx.link(rx.button("Try again"), href=routes.BUY_CREDITS),
                    spacing="3",
                    width="100%",
                ),
            ),
            (
                "slow",
                rx.vstack(
                    rx.callout(
                        "Stripe hasn't confirmed the payment yet. Nothing is lost: your credits appear as soon "
                        "as it does — you can leave this page. If you were charged and see no credits within "
                        "an hour, contact us with the time of the purchase.",
                        icon="clock",
                        color_scheme="amber",
                        width="100%",
                        id="checkout-slow",
                    ),
                    rx.hstack(
                        rx.button("Check again", on_click=CheckoutState.check_again, variant="soft"),
                        rx.link(rx.button("Go to billing", variant="soft"), href=routes.BILLING),
                        spacing="3",
                    ),
                    spacing="3",
                    width="100%",
                ),
            ),
            rx.vstack(
                rx.callout(CheckoutState.message, icon="info", width="100%"),
                rx.link("Go to billing", href=routes.BILLING),
                spacing="3",
                width="100%",
            ),
        ),
        width="100%",
        max_width="40em",
        size="3",
        id="checkout-result",
    )


@template(route=routes.CHECKOUT_CANCEL, title="Checkout canceled")
def checkout_cancel_page() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Nothing was charged", size="5", as_="h2"),
            rx.text(
                "You left the checkout before paying. Your balance is unchanged; pick a plan whenever you like.",
                color=MUTED,
            ),
            rx.hstack(
                rx.link(rx.button("Back to the plans"), href=routes.BUY_CREDITS),
                rx.link(rx.button("Go to the dashboard", variant="soft"), href=routes.DASHBOARD),
                spacing="3",
                wrap="wrap",
            ),
            spacing="3",
        ),
        width="100%",
        max_width="40em",
        size="3",
    )


# --- billing overview ------------------------------------------------------------------------------------


def _status_badge(status: rx.Var) -> rx.Component:
    return rx.badge(
        status,
        color_scheme=rx.match(
            status,
            ("paid", "green"),
            ("pending", "gray"),
            ("failed", "red"),
            ("refunded", "amber"),
            ("partially refunded", "amber"),
            "gray",
        ),
    )


def _payment_row(item: PaymentItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.when, white_space="nowrap"),
        rx.table.cell(rx.text(item.plan, weight="medium"), rx.text(item.kind, size="1", color=MUTED)),
        rx.table.cell(item.amount),
        rx.table.cell(item.credits),
        rx.table.cell(_status_badge(item.status), rx.text(item.refund_note, size="1", color=MUTED)),
        rx.table.cell(item.balance_after),
    )


def _history() -> rx.Component:
    return rx.vstack(
        rx.heading("Payment history", size="4", as_="h2"),
        rx.cond(
            BillingState.payments.length() > 0,
            rx.vstack(
                rx.box(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                *[
                                    rx.table.column_header_cell(h)
                                    for h in ("Date", "Plan", "Amount", "Credits", "Status", "Balance after")
                                ]
                            )
                        ),
                        rx.table.body(rx.foreach(BillingState.payments, _payment_row)),
                        width="100%",
                        variant="surface",
                        id="payment-history",
                    ),
                    overflow_x="auto",
                    width="100%",
                ),
                rx.hstack(
                    rx.button(
                        "Newer", on_click=BillingState.newer, disabled=~BillingState.has_newer, variant="soft"
                    ),
                    rx.text(BillingState.page_label, size="2", color=MUTED),
                    rx.button(
                        "Older", on_click=BillingState.older, disabled=~BillingState.has_older, variant="soft"
                    ),
                    align="center",
                    spacing="3",
                ),
                spacing="3",
                width="100%",
            ),
            empty_state(
                "receipt",
                "No payments yet",
                "Credit packs and plan payments show here with their status and any refunds.",
                rx.link(rx.button("Buy credits"), href=routes.BUY_CREDITS),
            ),
        ),
        spacing="3",
        width="100%",
    )


def _manage() -> rx.Component:
    return rx.match(
        BillingState.mode,
        (
            "stripe",
            rx.button(
                rx.icon("external-link", size=16),
                "Manage subscription and invoices",
                on_click=BillingState.open_portal,
                loading=BillingState.opening_portal,
                variant="soft",
            ),
        ),
        (
            "sandbox",
            rx.vstack(
                rx.text(
                    "Stripe's customer portal (invoices, cards, cancelling) opens here once Stripe keys are set. "
                    "In the sandbox you can cancel the plan directly.",
                    size="2",
                    color=MUTED,
                ),
                rx.cond(
                    BillingState.subscribed,
                    rx.button(
                        "Cancel subscription (sandbox)",
                        on_click=BillingState.cancel_sandbox_subscription,
                        color_scheme="red",
                        variant="soft",
                    ),
                ),
                spacing="2",
                align="start",
            ),
        ),
        rx.fragment(),
    )


def _plan_summary() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Plan: ", BillingState.tier_name, size="4", as_="h2", id="current-plan"),
                rx.badge(
                    BillingState.tier_status, color_scheme=rx.cond(BillingState.subscribed, "green", "gray")
                ),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.text(BillingState.tier_note, color=MUTED),
            rx.cond(BillingState.tier_period != "", rx.text(BillingState.tier_period, size="2")),
            rx.hstack(
                rx.link(rx.button("Buy credits"), href=routes.BUY_CREDITS),
                rx.cond(
                    ~BillingState.subscribed,
                    rx.link(
                        rx.button("See monthly plans", variant="soft"), href=routes.BUY_CREDITS + "#plans"
                    ),
                ),
                spacing="3",
                wrap="wrap",
            ),
            _manage(),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


@template(route=routes.BILLING, title="Billing", on_load=BillingState.load_billing)
def billing_page() -> rx.Component:
    return rx.vstack(
        _mode_notice(),
        _admins_only("see and manage billing"),
        rx.cond(BillingState.allowed, rx.vstack(_plan_summary(), _history(), spacing="5", width="100%")),
        spacing="4",
        width="100%",
    )


# --- sandbox checkout --------------------------------------------------------------------------------------


def _sandbox_form() -> rx.Component:
    busy = SandboxCheckoutState.paying != ""
    return rx.vstack(
        rx.hstack(
            rx.badge("Sandbox", color_scheme="blue", size="2"),
            rx.text("No money moves. This page stands in for Stripe's checkout.", size="2", color=MUTED),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        rx.heading(
            rx.cond(SandboxCheckoutState.kind == "subscription", "Subscribe to ", "Buy the "),
            SandboxCheckoutState.plan_name,
            rx.cond(SandboxCheckoutState.kind == "subscription", " plan", " pack"),
            size="5",
            as_="h2",
        ),
        rx.data_list.root(
            rx.data_list.item(
                rx.data_list.label("Credits"), rx.data_list.value(SandboxCheckoutState.credits)
            ),
            rx.data_list.item(
                rx.data_list.label("Total"),
                rx.data_list.value(SandboxCheckoutState.amount, id="sandbox-amount"),
            ),
        ),
        rx.cond(
            SandboxCheckoutState.open,
            rx.vstack(
                rx.button(
                    "Pay ",
                    SandboxCheckoutState.amount,
                    on_click=SandboxCheckoutState.pay(stripe_sandbox.PAY),
                    loading=SandboxCheckoutState.paying == stripe_sandbox.PAY,
                    disabled=busy,
                    size="3",
                    width="100%",
                    id="sandbox-pay",
                ),
                rx.cond(
                    SandboxCheckoutState.kind != "subscription",
                    rx.hstack(
                        rx.button(
                            "Pay with a delayed method",
                            on_click=SandboxCheckoutState.pay(stripe_sandbox.DELAYED_SUCCESS),
                            loading=SandboxCheckoutState.paying == stripe_sandbox.DELAYED_SUCCESS,
                            disabled=busy,
                            variant="soft",
                        ),
                        rx.button(
                            "Delayed method that fails",
                            on_click=SandboxCheckoutState.pay(stripe_sandbox.DELAYED_FAILURE),
                            loading=SandboxCheckoutState.paying == stripe_sandbox.DELAYED_FAILURE,
                            disabled=busy,
                            variant="soft",
                            color_scheme="red",
                        ),
                        spacing="2",
                        wrap="wrap",
                    ),
                ),
                rx.link(
                    "Cancel and go back",
                    href=routes.CHECKOUT_CANCEL + "?session_id=" + SandboxCheckoutState.session_id,
                ),
                spacing="3",
                width="100%",
            ),
            rx.vstack(
                rx.callout("This checkout is already completed.", icon="info", width="100%"),
                rx.link(
                    "See its result",
                    href=routes.CHECKOUT_SUCCESS + "?session_id=" + SandboxCheckoutState.session_id,
                ),
                spacing="2",
                width="100%",
            ),
        ),
        spacing="4",
        width="100%",
    )


@template(route=routes.SANDBOX_CHECKOUT, title="Sandbox checkout", on_load=SandboxCheckoutState.load)
def sandbox_checkout_page() -> rx.Component:
    return rx.card(
        rx.cond(
            SandboxCheckoutState.error != "",
            rx.vstack(
                rx.callout(SandboxCheckoutState.error, icon="circle-alert", color_scheme="red", width="100%"),
                rx.link("Back to the plans", href=routes.BUY_CREDITS),
                spacing="3",
            ),
            rx.cond(SandboxCheckoutState.loaded, _sandbox_form(), rx.spinner(size="3")),
        ),
        width="100%",
        max_width="32em",
        size="3",
    )

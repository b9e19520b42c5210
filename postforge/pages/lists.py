"""Accounts, credits, generate, settings and admin pages.

Each shows the workspace's real data read-only; the editing flows arrive with their features.
"""

import reflex as rx

from postforge import routes
from postforge.components.cards import empty_state, stat_card
from postforge.components.layout import template
from postforge.state.pages import (
    AccountItem,
    AccountsState,
    AdminState,
    CreditsState,
    HealthItem,
    LedgerItem,
)
from postforge.state.shell import ShellState


def _table(headers: list[str], body: rx.Component) -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(body),
        width="100%",
        variant="surface",
    )


def _account_card(account: AccountItem) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.badge(account.platform), rx.badge(account.status, variant="outline")),
            rx.heading(account.display_name, size="4", as_="h3"),
            rx.text(account.handle, color=rx.color("gray", 11)),
            rx.cond(
                account.last_error != "", rx.text(account.last_error, color=rx.color("red", 11), size="2")
            ),
            spacing="2",
        ),
        width="100%",
    )


@template(route=routes.ACCOUNTS, title="Accounts", on_load=AccountsState.load)
def accounts_page() -> rx.Component:
    return rx.cond(
        AccountsState.accounts.length() > 0,
        rx.grid(
            rx.foreach(AccountsState.accounts, _account_card),
            columns=rx.breakpoints(initial="1", sm="2", lg="3"),
            spacing="4",
            width="100%",
        ),
        empty_state(
            "at-sign",
            "No social accounts connected",
            "Connect the built-in sandbox feed to try publishing without any outside account.",
        ),
    )


def _ledger_row(entry: LedgerItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(entry.when, white_space="nowrap"),
        rx.table.cell(rx.badge(entry.type)),
        rx.table.cell(entry.amount),
        rx.table.cell(entry.balance_after),
        rx.table.cell(entry.description),
    )


@template(route=routes.CREDITS, title="Credits", on_load=CreditsState.load)
def credits_page() -> rx.Component:
    return rx.vstack(
        rx.box(stat_card("Balance", ShellState.credits, "coins"), max_width="20em", width="100%"),
        rx.cond(
            CreditsState.entries.length() > 0,
            _table(
                ["When", "Type", "Amount", "Balance after", "Description"],
                rx.foreach(CreditsState.entries, _ledger_row),
            ),
            empty_state(
                "coins", "No credit history", "Every credit spent, refunded or bought is listed here."
            ),
        ),
        spacing="4",
        width="100%",
    )


@template(route=routes.GENERATE, title="Generate")
def generate_page() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Each generation costs one credit; you have ",
            rx.text.strong(ShellState.credits),
            ". Generator: ",
            rx.text.strong(ShellState.ai_mode),
            ".",
        ),
        empty_state(
            "sparkles",
            "AI generation is not switched on in this build yet",
            "Until it is, write posts yourself on the Posts page; your credits are untouched.",
            rx.link(rx.button("Go to posts", variant="soft"), href=routes.POSTS),
        ),
        spacing="4",
        width="100%",
    )


def _health_row(item: HealthItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.name),
        rx.table.cell(
            rx.cond(item.ok, rx.badge("ok", color_scheme="green"), rx.badge("down", color_scheme="red"))
        ),
        rx.table.cell(item.detail),
    )


@template(route=routes.ADMIN, title="Admin", on_load=AdminState.load)
def admin_page() -> rx.Component:
    return rx.vstack(
        rx.heading("System health", size="4", as_="h2"),
        _table(["Component", "Status", "Detail"], rx.foreach(AdminState.components, _health_row)),
        rx.grid(
            stat_card("Users", AdminState.users, "users"),
            stat_card("Workspaces", AdminState.workspaces, "building-2"),
            stat_card("Posts", AdminState.posts, "file-text"),
            stat_card("Failed publishes", AdminState.failed_destinations, "circle-x"),
            columns=rx.breakpoints(initial="1", sm="2", lg="4"),
            spacing="4",
            width="100%",
        ),
        rx.text(
            "Mode: ",
            AdminState.environment,
            " · broker: ",
            AdminState.broker_mode,
            " · checkout: ",
            AdminState.checkout_mode,
            color=rx.color("gray", 11),
        ),
        spacing="4",
        width="100%",
    )

"""The admin console's overview: system health, counts and the billing watch."""

import reflex as rx

from postforge import routes
from postforge.components.cards import stat_card, stat_grid
from postforge.components.layout import template
from postforge.pages.admin_console import console_nav
from postforge.state.pages import AdminState, HealthItem, OwedItem, PlatformTrouble


def _table(headers: list[str], body: rx.Component) -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(body),
        width="100%",
        variant="surface",
    )


def _health_row(item: HealthItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.name),
        rx.table.cell(
            rx.cond(item.ok, rx.badge("ok", color_scheme="green"), rx.badge("down", color_scheme="red"))
        ),
        rx.table.cell(item.detail),
    )


def _owed_row(item: OwedItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.workspace_name, " (#", item.workspace_id, ")"),
        rx.table.cell(item.credits_owed),
        rx.table.cell(item.payments),
    )


def _billing_watch() -> rx.Component:
    return rx.vstack(
        rx.heading("Billing", size="4", as_="h2"),
        rx.text(
            "Stripe events waiting to be processed: ",
            rx.text.strong(AdminState.stuck_stripe_events),
            " (the worker retries them every minute).",
            color=rx.color("gray", 11),
        ),
        rx.cond(
            AdminState.owed.length() > 0,
            rx.vstack(
                rx.text(
                    "Refunds these workspaces had already spent: the credits could not be taken back and are "
                    "owed. Settle them with a credit adjustment or with the customer.",
                    color=rx.color("gray", 11),
                ),
                _table(["Workspace", "Credits owed", "Payments"], rx.foreach(AdminState.owed, _owed_row)),
                width="100%",
            ),
            rx.text("No workspace owes credits after a refund.", color=rx.color("gray", 11)),
        ),
        spacing="3",
        width="100%",
        id="admin-billing",
    )


def _trouble_row(item: PlatformTrouble) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.platform),
        rx.table.cell(item.rate_limited_last_hour),
        rx.table.cell(item.failed_last_day),
    )


def _publishing_watch() -> rx.Component:
    return rx.vstack(
        rx.heading("Publishing", size="4", as_="h2"),
        stat_grid(
            stat_card("Overdue (due > 1 min ago)", AdminState.publish_overdue, "alarm-clock"),
            stat_card("Being published", AdminState.publish_in_flight, "send"),
            stat_card("Need review", AdminState.publish_needs_review, "circle-help"),
            stat_card("Accounts to reconnect", AdminState.accounts_needing_reconnect, "unplug"),
        ),
        rx.cond(
            AdminState.publish_trouble.length() > 0,
            _table(
                ["Platform", "Rate-limited (last hour)", "Failed (last 24 h)"],
                rx.foreach(AdminState.publish_trouble, _trouble_row),
            ),
            rx.text("No rate limit or failure on any platform lately.", color=rx.color("gray", 11)),
        ),
        spacing="3",
        width="100%",
        id="admin-publishing",
    )


@template(route=routes.ADMIN, title="Admin", on_load=AdminState.load)
def admin_page() -> rx.Component:
    # Nothing shows until the server has confirmed a system admin; anyone else is sent away.
    return rx.cond(
        AdminState.allowed,
        _overview(),
        rx.center(rx.spinner(size="3"), padding="4em", width="100%"),
    )


def _overview() -> rx.Component:
    return rx.vstack(
        console_nav(),
        rx.heading("System health", size="4", as_="h2"),
        _table(["Component", "Status", "Detail"], rx.foreach(AdminState.components, _health_row)),
        stat_grid(
            stat_card("Users", AdminState.users, "users"),
            stat_card("Workspaces", AdminState.workspaces, "building-2"),
            stat_card("Posts", AdminState.posts, "file-text"),
            stat_card("Failed publishes", AdminState.failed_destinations, "circle-x"),
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
        _publishing_watch(),
        _billing_watch(),
        spacing="4",
        width="100%",
    )

"""Dashboard: this workspace's figures at a glance."""

import reflex as rx

from postforge import routes
from postforge.components.cards import empty_state, stat_card, stat_grid
from postforge.components.layout import template
from postforge.state.dashboard import DashboardState, StatusCount, UpcomingRow
from postforge.state.shell import ShellState


def _worker_banner() -> rx.Component:
    return rx.cond(
        DashboardState.worker_ok,
        rx.callout("Publishing worker is running.", icon="circle-check", color_scheme="green", size="1"),
        rx.callout(
            DashboardState.worker_detail,
            icon="triangle-alert",
            color_scheme="orange",
            size="1",
            id="worker-warning",
        ),
    )


def _upcoming_row(row: UpcomingRow) -> rx.Component:
    return rx.table.row(rx.table.cell(row.scheduled_at), rx.table.cell(row.content))


def _upcoming() -> rx.Component:
    return rx.cond(
        DashboardState.upcoming.length() > 0,
        rx.table.root(
            rx.table.header(
                rx.table.row(rx.table.column_header_cell("When"), rx.table.column_header_cell("Post"))
            ),
            rx.table.body(rx.foreach(DashboardState.upcoming, _upcoming_row)),
            width="100%",
        ),
        empty_state(
            "calendar-plus",
            "Nothing scheduled yet",
            "Generate a post or write one, then pick a time: it shows up here and on the calendar.",
            rx.link(rx.button("Generate a post"), href=routes.GENERATE),
        ),
    )


def _status_badge(item: StatusCount) -> rx.Component:
    return rx.badge(item.status, ": ", item.count, variant="surface", size="2")


@template(route=routes.DASHBOARD, title="Dashboard", on_load=DashboardState.load)
def dashboard() -> rx.Component:
    return rx.vstack(
        _worker_banner(),
        stat_grid(
            stat_card("Credits", ShellState.credits, "coins", test_id="stat-credits"),
            stat_card("Scheduled next 7 days", DashboardState.scheduled_next_7_days, "calendar-clock"),
            stat_card("Connected accounts", DashboardState.connected_accounts, "at-sign"),
            stat_card("Failed publishes", DashboardState.failed_destinations, "circle-x"),
            stat_card(
                "Need review", DashboardState.review_destinations, "circle-help", test_id="stat-review"
            ),
        ),
        rx.hstack(
            rx.text("Posts:", weight="medium"),
            rx.text(DashboardState.total_posts, id="stat-total-posts"),
            rx.foreach(DashboardState.status_counts, _status_badge),
            wrap="wrap",
            spacing="2",
            align="center",
        ),
        rx.heading("Coming up", size="4", as_="h2"),
        _upcoming(),
        spacing="5",
        width="100%",
    )

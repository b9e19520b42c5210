"""Credits: the balance, a way to buy more, and the full history, paged on the server."""

import reflex as rx

from postforge import routes
from postforge.components.cards import empty_state, stat_card
from postforge.components.layout import template
from postforge.state.credits import TYPE_FILTERS, CreditsState, LedgerItem
from postforge.state.shell import ShellState


def _row(entry: LedgerItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(entry.when, white_space="nowrap"),
        rx.table.cell(rx.badge(entry.type)),
        rx.table.cell(
            rx.text(entry.amount, color=rx.cond(entry.positive, rx.color("green", 11), rx.color("red", 11))),
            text_align="right",
        ),
        rx.table.cell(entry.balance_after, text_align="right"),
        rx.table.cell(entry.description),
    )


def _filter() -> rx.Component:
    return rx.hstack(
        rx.el.label("Show", html_for="credits-type-filter", style={"font_size": "14px"}),
        rx.select.root(
            rx.select.trigger(id="credits-type-filter", aria_label="Filter by type"),
            rx.select.content(
                *[
                    rx.select.item("All types" if t == "all" else t.capitalize(), value=t)
                    for t in TYPE_FILTERS
                ]
            ),
            value=CreditsState.type_filter,
            on_change=CreditsState.set_type_filter,
        ),
        align="center",
        spacing="2",
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.button(
            rx.icon("chevron-left", size=16),
            "Previous",
            variant="soft",
            disabled=~CreditsState.has_previous,
            on_click=CreditsState.previous_page,
        ),
        rx.text(
            "Page ",
            CreditsState.page,
            " of ",
            CreditsState.page_count,
            " · ",
            CreditsState.total,
            " entries",
            size="2",
            id="credits-page-info",
        ),
        rx.button(
            "Next",
            rx.icon("chevron-right", size=16),
            variant="soft",
            disabled=~CreditsState.has_next,
            on_click=CreditsState.next_page,
        ),
        align="center",
        spacing="3",
        wrap="wrap",
    )


def _table() -> rx.Component:
    headers = [("When", "left"), ("Type", "left"), ("Amount", "right"), ("Balance after", "right")]
    return rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[rx.table.column_header_cell(label, text_align=align) for label, align in headers],
                    rx.table.column_header_cell("Description"),
                )
            ),
            rx.table.body(rx.foreach(CreditsState.entries, _row)),
            width="100%",
            variant="surface",
            id="credits-history",
        ),
        width="100%",
        overflow_x="auto",
    )


@template(route=routes.CREDITS, title="Credits", on_load=CreditsState.load)
def credits_page() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.box(
                stat_card(
                    "Balance",
                    ShellState.credits,
                    "coins",
                    hint="One credit writes one post.",
                    test_id="credits-balance",
                ),
                width="100%",
                max_width="20em",
            ),
            rx.link(rx.button(rx.icon("shopping-cart", size=16), "Buy credits"), href=routes.BUY_CREDITS),
            align="center",
            gap="4",
            wrap="wrap",
            width="100%",
        ),
        rx.flex(
            rx.heading("History", size="4", as_="h2"),
            _filter(),
            justify="between",
            align="center",
            wrap="wrap",
            gap="3",
            width="100%",
        ),
        rx.cond(
            CreditsState.entries.length() > 0,
            rx.vstack(_table(), _pager(), spacing="3", width="100%"),
            empty_state(
                "coins",
                "No credit history here",
                "Every credit granted, spent, refunded or bought is listed here with the balance after it.",
            ),
        ),
        spacing="4",
        width="100%",
    )

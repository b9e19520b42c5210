"""The sandbox platform's public feed: what this workspace's sandbox accounts have posted."""

import reflex as rx

from postforge import routes
from postforge.components.cards import empty_state
from postforge.components.layout import template
from postforge.state.sandbox_feed import FeedRow, SandboxFeedState

S = SandboxFeedState


def _avatar(row: FeedRow) -> rx.Component:
    return rx.center(
        rx.text(row.initial, weight="bold", size="4"),
        width="2.75em",
        height="2.75em",
        min_width="2.75em",
        border_radius="50%",
        background=rx.color("accent", 4),
        color=rx.color("accent", 11),
        aria_hidden="true",
    )


def _post(row: FeedRow) -> rx.Component:
    return rx.el.article(
        rx.hstack(
            _avatar(row),
            rx.vstack(
                rx.flex(
                    rx.text(row.display_name, weight="bold", size="2"),
                    rx.text(row.handle, size="2", color=rx.color("gray", 11)),
                    rx.text("·", size="2", color=rx.color("gray", 9), aria_hidden="true"),
                    rx.el.time(row.when, style={"font_size": "13px", "color": rx.color("gray", 11)}),
                    gap="2",
                    wrap="wrap",
                    align="baseline",
                ),
                rx.text(row.text, size="3", white_space="pre-wrap", overflow_wrap="anywhere"),
                spacing="1",
                align="start",
                min_width="0",
                width="100%",
            ),
            spacing="3",
            align="start",
            width="100%",
        ),
        id=row.anchor,
        class_name="sandbox-post",
        aria_label="Post by " + row.display_name,
        style={"padding": "1em 0", "border_bottom": f"1px solid {rx.color('gray', 5)}", "width": "100%"},
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.text(S.range_text, size="2", color=rx.color("gray", 11), id="sandbox-range"),
        rx.spacer(),
        rx.button(
            rx.icon("chevron-left", size=16),
            "Newer",
            variant="soft",
            size="1",
            disabled=~S.has_previous,
            on_click=S.previous_page,
        ),
        rx.button(
            "Older",
            rx.icon("chevron-right", size=16),
            variant="soft",
            size="1",
            disabled=~S.has_next,
            on_click=S.next_page,
        ),
        width="100%",
        align="center",
    )


@template(route=routes.SANDBOX, title="Sandbox feed", on_load=SandboxFeedState.load)
def sandbox_feed_page() -> rx.Component:
    return rx.vstack(
        rx.text(
            "The sandbox is PostForge's own practice network: posts scheduled to a sandbox account appear "
            "here when they are published, the way they would on a real platform. This page updates by itself.",
            size="2",
            color=rx.color("gray", 11),
        ),
        rx.cond(
            S.total > 0,
            rx.vstack(
                rx.el.section(
                    rx.foreach(S.rows, _post), aria_label="Sandbox feed", id="sandbox-feed", width="100%"
                ),
                _pager(),
                width="100%",
                spacing="3",
            ),
            rx.cond(
                S.loaded,
                empty_state(
                    "radio-tower",
                    "Nothing posted yet",
                    "Schedule a post to a sandbox account: when its time comes it is published here.",
                    rx.link(rx.button("Write a post"), href=routes.POSTS),
                ),
            ),
        ),
        spacing="4",
        width="100%",
        max_width="42em",
    )

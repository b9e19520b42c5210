"""The header's notification bell (unread count, the latest notices) and one notice's row."""

import reflex as rx

from postforge import routes
from postforge.state.notifications import NotificationRow, NotificationsState

N = NotificationsState


def notification_item(row: NotificationRow, *, compact: bool = True) -> rx.Component:
    """One notice: what happened (icon and title), the details, when, and a link to the post."""
    clamp = {"max_height": "4.5em", "overflow": "hidden"} if compact else {}
    body = rx.text(
        row.body,
        size="1",
        color=rx.color("gray", 11),
        white_space="pre-line",
        class_name="notification-body",
        **clamp,
    )
    return rx.hstack(
        rx.icon(row.icon, size=18, color=rx.color(row.color, 10), flex="none", margin_top="2px"),
        rx.vstack(
            rx.hstack(
                rx.text(row.title, size="2", weight=rx.cond(row.read, "regular", "bold")),
                rx.cond(~row.read, rx.badge("new", size="1", color_scheme="blue", variant="soft")),
                align="center",
                spacing="2",
                wrap="wrap",
            ),
            body,
            rx.hstack(
                rx.text(row.when, size="1", color=rx.color("gray", 10)),
                rx.cond(
                    row.link != "",
                    rx.link("View post", href=row.link, size="1", aria_label="View post: " + row.title),
                ),
                spacing="3",
                align="center",
            ),
            spacing="1",
            align="start",
            min_width="0",
            width="100%",
        ),
        spacing="2",
        align="start",
        width="100%",
        padding_y="0.5em",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        class_name="notification-item",
        data_kind=row.kind,
    )


def _bell_button() -> rx.Component:
    return rx.box(
        rx.icon_button(
            rx.icon("bell", size=18),
            variant="ghost",
            aria_label=N.unread_label,
            id="notification-bell",
        ),
        rx.cond(
            N.unread > 0,
            rx.badge(
                N.unread_badge,
                color_scheme="red",
                variant="solid",
                radius="full",
                size="1",
                id="notification-unread",
                position="absolute",
                top="-6px",
                right="-8px",
                pointer_events="none",
                aria_hidden="true",
            ),
        ),
        position="relative",
    )


def notification_bell() -> rx.Component:
    """The bell: click (or Enter/Space) opens the latest notices; Escape closes them."""
    return rx.popover.root(
        rx.popover.trigger(_bell_button()),
        rx.popover.content(
            rx.vstack(
                rx.hstack(
                    rx.heading("Notifications", size="3", as_="h2"),
                    rx.spacer(),
                    rx.button(
                        "Mark all as read",
                        variant="ghost",
                        size="1",
                        on_click=N.mark_all_read,
                        disabled=N.unread == 0,
                        id="mark-all-read",
                    ),
                    width="100%",
                    align="center",
                ),
                rx.cond(
                    N.items.length() > 0,
                    rx.scroll_area(
                        rx.vstack(rx.foreach(N.items, notification_item), spacing="0", width="100%"),
                        type="auto",
                        scrollbars="vertical",
                        max_height="min(60vh, 28em)",
                    ),
                    rx.text(
                        "Nothing yet: publishes and problems show up here.",
                        size="2",
                        color=rx.color("gray", 11),
                    ),
                ),
                rx.link("See all notifications", href=routes.NOTIFICATIONS, size="2"),
                spacing="2",
                width="100%",
                role="region",
                aria_label="Latest notifications",
                id="notification-list",
            ),
            width="min(24em, calc(100vw - 2em))",
            align="end",
        ),
        on_open_change=N.bell_opened,
    )

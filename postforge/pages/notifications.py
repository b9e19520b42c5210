"""Every notification of the workspace the member can see, newest first."""

import reflex as rx

from postforge import routes
from postforge.components.cards import empty_state
from postforge.components.layout import template
from postforge.components.notifications import notification_item
from postforge.state.notifications import NotificationRow, NotificationsState

N = NotificationsState


def _row(row: NotificationRow) -> rx.Component:
    return rx.el.li(notification_item(row, compact=False), list_style="none")


@template(route=routes.NOTIFICATIONS, title="Notifications", on_load=NotificationsState.load_page)
def notifications_page() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.text(
                "Publishes, failed posts, posts to check and accounts to reconnect. Times are in your zone.",
                size="2",
                color=rx.color("gray", 11),
                flex="1 1 16em",
            ),
            rx.button(
                rx.icon("check-check", size=16),
                "Mark all as read",
                variant="soft",
                on_click=N.mark_all_read,
                disabled=N.unread == 0,
                id="page-mark-all-read",
            ),
            gap="3",
            align="center",
            wrap="wrap",
            width="100%",
        ),
        rx.cond(
            N.page_items.length() > 0,
            rx.el.ul(
                rx.foreach(N.page_items, _row),
                aria_label="Notifications",
                id="notifications-page-list",
                style={"padding": "0", "margin": "0", "width": "100%"},
            ),
            rx.cond(
                N.page_loaded,
                empty_state(
                    "bell",
                    "No notifications yet",
                    "When a scheduled post goes out, fails or needs a look, it is listed here.",
                ),
            ),
        ),
        spacing="4",
        width="100%",
        max_width="48em",
    )

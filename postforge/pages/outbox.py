"""Dev outbox page (embedded mode, system admins only): every email PostForge would have sent."""

import reflex as rx

from postforge import routes
from postforge.components.cards import empty_state
from postforge.state.outbox import OutboxItem, OutboxState


def _message(item: OutboxItem) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.text(item.when, size="1", color=rx.color("gray", 10)), rx.badge(item.to_address)),
            rx.heading(item.subject, size="3", as_="h2"),
            rx.text(item.body_text, white_space="pre-wrap", size="2", class_name="outbox-body"),
            spacing="2",
            align="start",
        ),
        width="100%",
        class_name="outbox-message",
    )


@rx.page(route=routes.OUTBOX, title="Dev outbox · PostForge", on_load=OutboxState.load)
def outbox() -> rx.Component:
    # Nothing shows until the server has confirmed a system admin; anyone else is sent away.
    return rx.box(
        rx.cond(
            OutboxState.allowed,
            rx.box(
                rx.heading("Dev outbox", size="7", as_="h1"),
                rx.text(
                    "Mail PostForge sent while no SMTP server is configured.", color=rx.color("gray", 11)
                ),
                rx.cond(
                    OutboxState.available,
                    rx.cond(
                        OutboxState.messages.length() > 0,
                        rx.vstack(rx.foreach(OutboxState.messages, _message), spacing="3", margin_top="1em"),
                        empty_state(
                            "mail",
                            "No mail yet",
                            "Confirmation links, password resets and invitations land here.",
                        ),
                    ),
                    rx.callout(
                        "The outbox is off: mail is sent through SMTP.", icon="info", margin_top="1em"
                    ),
                ),
            ),
            rx.center(rx.spinner(size="3"), padding="4em"),
        ),
        padding="2em",
        max_width="56em",
        margin="0 auto",
    )

"""Small reusable display pieces."""

import reflex as rx


def stat_card(
    label: str, value: rx.Var | int | str, icon: str, hint: str = "", test_id: str = ""
) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.icon(icon, size=20, color=rx.color("accent", 10)),
            rx.vstack(
                rx.text(label, size="2", color=rx.color("gray", 11)),
                rx.text(value, size="6", weight="bold", id=test_id or None),
                rx.cond(hint != "", rx.text(hint, size="1", color=rx.color("gray", 10)))
                if hint
                else rx.fragment(),
                spacing="1",
            ),
            align="start",
            spacing="3",
        ),
        width="100%",
    )


def stat_grid(*cards: rx.Component) -> rx.Component:
    """Stat cards side by side: one column on a phone, two on a tablet, four on a wide screen."""
    return rx.grid(*cards, columns=rx.breakpoints(initial="1", sm="2", lg="4"), spacing="4", width="100%")


def empty_state(icon: str, title: str, body: str, action: rx.Component | None = None) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon(icon, size=32, color=rx.color("gray", 9)),
            rx.heading(title, size="4", as_="h2"),
            rx.text(body, color=rx.color("gray", 11), text_align="center", max_width="32em"),
            action or rx.fragment(),
            align="center",
            spacing="2",
        ),
        padding="2.5em",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="var(--radius-4)",
        width="100%",
    )

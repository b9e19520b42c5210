"""Calendar: posts by their time in the viewer's zone; drag to reschedule, click to edit or create."""

import reflex as rx

from postforge import routes
from postforge.components.calendar import post_calendar
from postforge.components.layout import template
from postforge.state.calendar import CalendarState
from postforge.state.shell import ShellState


def _toolbar() -> rx.Component:
    return rx.flex(
        rx.text(
            "Times in ",
            rx.text.strong(CalendarState.zone, id="calendar-zone"),
            ". Drag a post to move it; its time of day stays the same.",
            color=rx.color("gray", 11),
            size="2",
        ),
        rx.spacer(),
        rx.cond(CalendarState.loading, rx.spinner(size="2", aria_label="Loading posts")),
        rx.text(
            CalendarState.count,
            " posts",
            size="1",
            color=rx.color("gray", 10),
            id="calendar-count",
            aria_live="polite",
        ),
        align="center",
        gap="3",
        wrap="wrap",
        width="100%",
    )


@template(route=routes.CALENDAR, title="Calendar", on_load=CalendarState.load)
def calendar_page() -> rx.Component:
    return rx.vstack(
        _toolbar(),
        rx.box(
            post_calendar(
                id="post-calendar",
                events=CalendarState.events,
                patches=CalendarState.patches,
                revision=CalendarState.revision,
                zone=CalendarState.zone,
                initial_view="dayGridMonth",
                editable=ShellState.can_write,
                height="auto",
                on_event_drop=CalendarState.move,
                on_dates_set=CalendarState.load_range,
            ),
            width="100%",
        ),
        spacing="3",
        width="100%",
    )

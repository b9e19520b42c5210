"""Calendar: posts by their time in the viewer's zone; drag to reschedule, click to edit or create.

Below the calendar, the workspace's weekly posting slots ("Next free slot" in the editor fills them).
"""

import reflex as rx

from postforge import routes
from postforge.components.calendar import post_calendar
from postforge.components.layout import template
from postforge.components.post_editor import post_editor_dialog
from postforge.services.content.slots import WEEKDAYS
from postforge.state.calendar import CalendarState
from postforge.state.shell import ShellState
from postforge.state.slots import DaySlots, SlotItem, SlotsState


def _toolbar() -> rx.Component:
    return rx.flex(
        rx.text(
            "Times in ",
            rx.text.strong(CalendarState.zone, id="calendar-zone"),
            ". Drag a post to another day or time; a move across days keeps its time of day. "
            "Click a post to edit it, or an empty day to start one there.",
            color=rx.color("gray", 11),
            size="2",
            flex="1 1 20em",
        ),
        rx.hstack(
            rx.cond(CalendarState.loading, rx.spinner(size="2", aria_label="Loading posts")),
            rx.text(
                CalendarState.count,
                rx.cond(CalendarState.count == 1, " post", " posts"),
                size="1",
                color=rx.color("gray", 10),
                id="calendar-count",
                aria_live="polite",
            ),
            rx.cond(
                ShellState.can_write,
                rx.button(
                    rx.icon("plus", size=16), "New post", on_click=CalendarState.new_post, id="new-post"
                ),
            ),
            align="center",
            spacing="3",
        ),
        align="center",
        gap="3",
        wrap="wrap",
        width="100%",
    )


def _slot_badge(slot: SlotItem) -> rx.Component:
    return rx.badge(
        slot.local_time,
        rx.cond(
            ShellState.can_write,
            rx.icon_button(
                rx.icon("x", size=12),
                size="1",
                variant="ghost",
                color_scheme="gray",
                on_click=SlotsState.remove(slot.id),
                aria_label="Remove slot " + slot.label,
            ),
        ),
        variant="soft",
        size="2",
        class_name="posting-slot",
    )


def _day_column(day: DaySlots) -> rx.Component:
    return rx.vstack(
        rx.text(day.name, weight="bold", size="2"),
        rx.cond(
            day.slots.length() > 0,
            rx.vstack(rx.foreach(day.slots, _slot_badge), spacing="1", align="start"),
            rx.text("—", color=rx.color("gray", 9), size="2", aria_label="no slots"),
        ),
        spacing="2",
        align="start",
        min_width="4.5em",
    )


def _day_choice(index: int) -> rx.Component:
    return rx.checkbox(
        WEEKDAYS[index],
        checked=SlotsState.chosen_days.contains(index),
        on_change=lambda checked: SlotsState.toggle_day(index, checked),
        id=f"slot-day-{index}",
    )


def _add_slots_form() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.el.fieldset(
                rx.el.legend("Weekdays", style={"font_weight": "500", "font_size": "14px"}),
                rx.flex(*[_day_choice(i) for i in range(7)], gap="1em", wrap="wrap", padding_y="0.25em"),
                style={"border": "none", "padding": "0", "margin": "0"},
            ),
            rx.vstack(
                rx.el.label("Time", html_for="slot-time", style={"font_weight": "500", "font_size": "14px"}),
                rx.input(
                    id="slot-time",
                    type="time",
                    value=SlotsState.new_time,
                    on_change=SlotsState.set_new_time,
                    width="8em",
                ),
                spacing="1",
            ),
            rx.button(rx.icon("plus", size=16), "Add slots", type="submit", id="add-slots"),
            gap="4",
            align="end",
            wrap="wrap",
        ),
        on_submit=lambda _form: SlotsState.add(),
        reset_on_submit=False,
        width="100%",
    )


def _slots_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Posting slots", size="4", as_="h2", id="posting-slots"),
            rx.text(
                "Your weekly times to post, in the workspace's zone (",
                rx.text.strong(SlotsState.zone),
                "). “Next free slot” in the post editor picks the first one no scheduled post holds yet.",
                size="2",
                color=rx.color("gray", 11),
            ),
            rx.flex(
                rx.foreach(SlotsState.days, _day_column), gap="4", wrap="wrap", width="100%", id="slot-grid"
            ),
            rx.cond(ShellState.can_write, _add_slots_form()),
            rx.cond(
                SlotsState.error != "",
                rx.text(SlotsState.error, color=rx.color("red", 11), size="2", role="alert", id="slot-error"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


@template(route=routes.CALENDAR, title="Calendar", on_load=[CalendarState.load, SlotsState.load])
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
                on_event_click=CalendarState.open_post,
                on_date_click=CalendarState.new_post_at,
                on_dates_set=CalendarState.load_range,
            ),
            width="100%",
        ),
        _slots_card(),
        post_editor_dialog(on_saved=CalendarState.reload),
        spacing="4",
        width="100%",
    )

"""Labelled form fields and the centred card the sign-in pages share."""

import reflex as rx


def field(
    label: str,
    name: str,
    *,
    type_: str = "text",
    value: rx.Var | str | None = None,
    on_change=None,
    autocomplete: str = "",
    error: rx.Var | None = None,
    hint: str = "",
    required: bool = True,
) -> rx.Component:
    input_id = f"field-{name}"
    props = {"default_value": value} if value is not None and on_change is None else {}
    if on_change is not None:
        props = {"value": value, "on_change": on_change}
    return rx.vstack(
        rx.el.label(label, html_for=input_id, style={"font_weight": "500", "font_size": "14px"}),
        rx.input(
            id=input_id,
            name=name,
            type=type_,
            required=required,
            auto_complete=autocomplete or None,
            width="100%",
            size="3",
            **props,
        ),
        rx.cond(error is not None, rx.text(error, color=rx.color("red", 11), size="2", role="alert"))
        if error is not None
        else rx.fragment(),
        rx.text(hint, size="1", color=rx.color("gray", 10)) if hint else rx.fragment(),
        spacing="1",
        width="100%",
        align="start",
    )


def auth_card(title: str, *children: rx.Component, footer: rx.Component | None = None) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.hstack(
                rx.icon("feather", size=22), rx.text("PostForge", size="5", weight="bold"), align="center"
            ),
            rx.card(
                rx.vstack(rx.heading(title, size="6", as_="h1"), *children, spacing="4", width="100%"),
                width="100%",
                size="3",
            ),
            footer or rx.fragment(),
            spacing="4",
            align="center",
            width="100%",
            max_width="26em",
            padding="1.5em",
        ),
        min_height="100vh",
    )


def form_error(message: rx.Var) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle-alert", color_scheme="red", role="alert", id="form-error"),
    )

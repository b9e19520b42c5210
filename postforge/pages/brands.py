"""Brands: the voice, audience and example posts the AI writer follows."""

import reflex as rx

from postforge import routes
from postforge.components.cards import empty_state
from postforge.components.forms import form_error
from postforge.components.layout import template
from postforge.services.content.brands import NAME_MAX, SAMPLE_MAX_CHARS, SAMPLES_MAX, TEXT_MAX
from postforge.state.brands import BrandItem, BrandsState
from postforge.state.shell import ShellState

LABEL_STYLE = {"font_weight": "500", "font_size": "14px"}


def _brand_card(brand: BrandItem) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(brand.name, size="4", as_="h3"),
            rx.cond(
                brand.tone_of_voice != "",
                rx.text(rx.text.strong("Voice: "), brand.tone_of_voice, size="2"),
            ),
            rx.cond(
                brand.target_audience != "",
                rx.text(rx.text.strong("Audience: "), brand.target_audience, size="2"),
            ),
            rx.text(brand.sample_count, " example posts", size="1", color=rx.color("gray", 10)),
            rx.cond(
                ShellState.can_write,
                rx.hstack(
                    rx.button(
                        rx.icon("pencil", size=14),
                        "Edit",
                        size="1",
                        variant="soft",
                        on_click=BrandsState.open_edit(brand.id),
                        aria_label="Edit " + brand.name,
                    ),
                    rx.button(
                        rx.icon("trash-2", size=14),
                        "Delete",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        on_click=BrandsState.ask_delete(brand.id, brand.name),
                        aria_label="Delete " + brand.name,
                    ),
                    spacing="2",
                ),
            ),
            spacing="2",
            align="start",
        ),
        width="100%",
    )


def _labelled(label: str, control: rx.Component, html_for: str, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=html_for, style=LABEL_STYLE),
        control,
        rx.text(hint, size="1", color=rx.color("gray", 10)) if hint else rx.fragment(),
        spacing="1",
        width="100%",
    )


def _sample(sample: rx.Var[str], index: rx.Var[int]) -> rx.Component:
    return rx.hstack(
        rx.text_area(
            value=sample,
            on_change=lambda value: BrandsState.set_sample(index, value),
            aria_label="Example post " + (index + 1).to_string(),
            max_length=SAMPLE_MAX_CHARS,
            rows="3",
            width="100%",
        ),
        rx.icon_button(
            rx.icon("x", size=14),
            variant="ghost",
            color_scheme="gray",
            type="button",
            on_click=BrandsState.remove_sample(index),
            aria_label="Remove example post " + (index + 1).to_string(),
        ),
        width="100%",
        align="start",
    )


def _editor() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(BrandsState.editing_id == 0, "New brand", "Edit brand")),
            rx.dialog.description(
                "The AI writer follows this voice and audience when the brand is chosen.",
                size="2",
                color=rx.color("gray", 11),
            ),
            rx.vstack(
                form_error(BrandsState.error),
                _labelled(
                    "Name",
                    rx.input(
                        id="brand-name",
                        value=BrandsState.name,
                        on_change=BrandsState.set_name,
                        max_length=NAME_MAX,
                        required=True,
                        width="100%",
                    ),
                    "brand-name",
                ),
                _labelled(
                    "Tone of voice",
                    rx.text_area(
                        id="brand-tone",
                        value=BrandsState.tone_of_voice,
                        on_change=BrandsState.set_tone_of_voice,
                        max_length=TEXT_MAX,
                        placeholder="e.g. Friendly and practical. Short sentences, no hype.",
                        width="100%",
                    ),
                    "brand-tone",
                ),
                _labelled(
                    "Audience",
                    rx.text_area(
                        id="brand-audience",
                        value=BrandsState.target_audience,
                        on_change=BrandsState.set_target_audience,
                        max_length=TEXT_MAX,
                        placeholder="e.g. Freelancers and small marketing teams",
                        width="100%",
                    ),
                    "brand-audience",
                ),
                rx.vstack(
                    rx.text("Example posts", style=LABEL_STYLE),
                    rx.text(
                        f"Up to {SAMPLES_MAX} posts in the brand's voice; the writer matches them, never copies.",
                        size="1",
                        color=rx.color("gray", 10),
                    ),
                    rx.foreach(BrandsState.samples, _sample),
                    rx.button(
                        rx.icon("plus", size=14),
                        "Add example post",
                        size="1",
                        variant="soft",
                        type="button",
                        on_click=BrandsState.add_sample,
                        disabled=~BrandsState.can_add_sample,
                    ),
                    spacing="2",
                    width="100%",
                ),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                    rx.button("Save brand", on_click=BrandsState.save, id="brand-save"),
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                width="100%",
                margin_top="1em",
            ),
            max_width="36em",
        ),
        open=BrandsState.dialog_open,
        on_open_change=BrandsState.set_dialog_open,
    )


def _delete_confirm() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete brand?"),
            rx.alert_dialog.description(
                "“",
                BrandsState.delete_name,
                "” will be deleted. Posts written with it keep their text.",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Keep it", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button("Delete", color_scheme="red", on_click=BrandsState.delete)),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
        ),
        open=BrandsState.delete_open,
        on_open_change=BrandsState.set_delete_open,
    )


@template(route=routes.BRANDS, title="Brands", on_load=BrandsState.load)
def brands_page() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.text(
                "A brand gives the AI writer a voice, an audience and examples to follow. Choose one on the ",
                rx.link("Generate", href=routes.GENERATE),
                " page.",
                color=rx.color("gray", 11),
            ),
            rx.cond(
                ShellState.can_write,
                rx.button(rx.icon("plus", size=16), "New brand", on_click=BrandsState.open_new),
            ),
            justify="between",
            align="center",
            wrap="wrap",
            gap="3",
            width="100%",
        ),
        rx.cond(
            BrandsState.brands.length() > 0,
            rx.grid(
                rx.foreach(BrandsState.brands, _brand_card),
                columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                spacing="4",
                width="100%",
                id="brand-list",
            ),
            empty_state(
                "palette",
                "No brands yet",
                "Create a brand so generated posts sound like you.",
            ),
        ),
        _editor(),
        _delete_confirm(),
        spacing="4",
        width="100%",
    )

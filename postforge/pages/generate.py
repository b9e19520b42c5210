"""Generate: describe a post, watch it being written, edit it, then save it as a draft or schedule it."""

import reflex as rx

from postforge import routes
from postforge.ai.base import LANGUAGES, TONES
from postforge.components.layout import template
from postforge.state.generate import SAMPLE_LABEL, AccountChoice, Choice, GenerateState
from postforge.state.shell import ShellState

LABEL_STYLE = {"font_weight": "500", "font_size": "14px"}


def _labelled(label: str, html_for: str, control: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=html_for, style=LABEL_STYLE), control, spacing="1", width="100%"
    )


def _select(control_id: str, label: str, value, on_change, items: list[rx.Component] | rx.Component):
    return _labelled(
        label,
        control_id,
        rx.select.root(
            rx.select.trigger(id=control_id, aria_label=label, width="100%"),
            rx.select.content(*(items if isinstance(items, list) else [items])),
            value=value,
            on_change=on_change,
            disabled=GenerateState.generating,
        ),
    )


def _choice_item(choice: Choice) -> rx.Component:
    return rx.select.item(choice.label, value=choice.value)


def _form() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("What should the post say?", size="4", as_="h2"),
            _labelled(
                "Topic",
                "generate-topic",
                rx.text_area(
                    id="generate-topic",
                    value=GenerateState.topic,
                    on_change=GenerateState.set_topic,
                    placeholder="e.g. We are launching a free plan for students next Monday",
                    max_length=500,
                    rows="4",
                    width="100%",
                ),
            ),
            rx.grid(
                _select(
                    "generate-tone",
                    "Tone",
                    GenerateState.tone,
                    GenerateState.set_tone,
                    [rx.select.item(tone, value=tone) for tone in TONES],
                ),
                _select(
                    "generate-language",
                    "Language",
                    GenerateState.language,
                    GenerateState.set_language,
                    [rx.select.item(name, value=code) for code, name in LANGUAGES.items()],
                ),
                _select(
                    "generate-platform",
                    "Platform",
                    GenerateState.platform,
                    GenerateState.set_platform,
                    rx.foreach(GenerateState.platform_options, _choice_item),
                ),
                _select(
                    "generate-brand",
                    "Brand",
                    GenerateState.brand,
                    GenerateState.set_brand,
                    rx.foreach(GenerateState.brand_options, _choice_item),
                ),
                columns=rx.breakpoints(initial="1", sm="2"),
                spacing="3",
                width="100%",
            ),
            rx.flex(
                rx.button(
                    rx.icon("sparkles", size=16),
                    rx.cond(
                        GenerateState.generating,
                        "Writing…",
                        rx.cond(GenerateState.has_result, "Regenerate · 1 credit", "Generate · 1 credit"),
                    ),
                    id="generate-button",
                    size="3",
                    loading=GenerateState.generating,
                    disabled=GenerateState.generating | ~ShellState.can_write,
                    on_click=GenerateState.generate,
                ),
                rx.text(
                    "Generator: ",
                    rx.text.strong(ShellState.ai_mode),
                    " · ",
                    rx.link("Manage brands", href=routes.BRANDS),
                    size="2",
                    color=rx.color("gray", 11),
                ),
                align="center",
                gap="3",
                wrap="wrap",
            ),
            rx.cond(
                ~ShellState.can_write,
                rx.text("Viewers can read this workspace but not generate posts.", size="2", color="gray"),
            ),
            _problems(),
            spacing="4",
            width="100%",
        ),
        width="100%",
    )


def _problems() -> rx.Component:
    return rx.fragment(
        rx.cond(
            GenerateState.out_of_credits,
            rx.callout(
                rx.text(
                    "You are out of credits: each post costs one. ",
                    rx.link("Buy credits", href=routes.BUY_CREDITS, weight="bold", id="buy-credits-link"),
                    " to keep writing. Your topic and choices are kept.",
                ),
                icon="coins",
                color_scheme="amber",
                role="alert",
                width="100%",
                id="out-of-credits",
            ),
            rx.cond(
                GenerateState.error != "",
                rx.callout(
                    rx.vstack(
                        rx.text(GenerateState.error),
                        rx.cond(
                            GenerateState.can_retry,
                            rx.button(
                                rx.icon("rotate-ccw", size=14),
                                "Try again · 1 credit",
                                size="1",
                                variant="soft",
                                on_click=GenerateState.regenerate,
                            ),
                        ),
                        spacing="2",
                        align="start",
                    ),
                    icon="triangle-alert",
                    color_scheme="red",
                    role="alert",
                    width="100%",
                    id="generate-error",
                ),
            ),
        ),
    )


def _hashtag_chip(tag: rx.Var[str]) -> rx.Component:
    return rx.badge(
        tag,
        rx.icon_button(
            rx.icon("x", size=12),
            size="1",
            variant="ghost",
            on_click=GenerateState.remove_hashtag(tag),
            aria_label="Remove " + tag,
            disabled=GenerateState.generating,
        ),
        variant="soft",
        radius="full",
        size="2",
    )


def _preview() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.heading("Preview", size="4", as_="h2"),
                rx.cond(
                    GenerateState.sample,
                    rx.badge(
                        rx.icon("flask-conical", size=14),
                        SAMPLE_LABEL,
                        color_scheme="amber",
                        size="2",
                        id="sample-label",
                    ),
                ),
                justify="between",
                align="center",
                wrap="wrap",
                gap="2",
                width="100%",
            ),
            rx.cond(
                GenerateState.generating | GenerateState.has_result,
                _result(),
                rx.center(
                    rx.text(
                        "Your post appears here as it is written. You can edit it before saving.",
                        color=rx.color("gray", 11),
                        text_align="center",
                    ),
                    padding="2em",
                    border=f"1px dashed {rx.color('gray', 6)}",
                    border_radius="var(--radius-3)",
                    width="100%",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _result() -> rx.Component:
    return rx.vstack(
        rx.el.label("Post text", html_for="generate-preview", style=LABEL_STYLE),
        rx.text_area(
            id="generate-preview",
            value=GenerateState.preview,
            on_change=GenerateState.set_preview,
            read_only=GenerateState.generating,
            rows="9",
            width="100%",
            aria_busy=GenerateState.generating,
        ),
        rx.flex(
            rx.text(
                GenerateState.char_count,
                " / ",
                GenerateState.char_limit,
                " characters",
                id="char-counter",
                size="2",
                color=rx.cond(GenerateState.over_limit, rx.color("red", 11), rx.color("gray", 11)),
                aria_live="polite",
            ),
            rx.cond(
                GenerateState.over_limit,
                rx.text("Too long for this platform: shorten it or drop hashtags.", size="2", color="red"),
            ),
            gap="3",
            wrap="wrap",
        ),
        rx.cond(
            GenerateState.warning != "",
            rx.callout(
                GenerateState.warning,
                icon="triangle-alert",
                color_scheme="amber",
                size="1",
                role="status",
                width="100%",
                id="generate-warning",
            ),
        ),
        rx.cond(
            GenerateState.hashtags.length() > 0,
            rx.vstack(
                rx.flex(
                    rx.foreach(GenerateState.hashtags, _hashtag_chip), wrap="wrap", gap="2", id="hashtags"
                ),
                rx.el.label(
                    rx.hstack(
                        rx.switch(
                            checked=GenerateState.include_hashtags,
                            on_change=GenerateState.set_include_hashtags,
                            id="include-hashtags",
                        ),
                        rx.text("Add the hashtags to the post", size="2"),
                        align="center",
                        spacing="2",
                    ),
                ),
                spacing="2",
                width="100%",
            ),
        ),
        rx.cond(
            GenerateState.best_time != "",
            rx.callout(
                rx.text(
                    rx.text.strong("Best time to post: "),
                    GenerateState.best_time,
                    " (your time) — ",
                    GenerateState.best_time_reason,
                ),
                icon="clock",
                size="1",
                width="100%",
                id="best-time",
            ),
        ),
        rx.flex(
            rx.button(
                rx.icon("save", size=16),
                "Save draft",
                id="save-draft",
                on_click=GenerateState.save_draft,
                disabled=~GenerateState.can_save,
                loading=GenerateState.saving,
            ),
            rx.button(
                rx.icon("calendar-clock", size=16),
                "Schedule…",
                variant="soft",
                on_click=GenerateState.open_schedule,
                disabled=~GenerateState.can_save,
            ),
            gap="3",
            wrap="wrap",
        ),
        spacing="3",
        width="100%",
    )


def _confirm_regenerate() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Write a new post?"),
            rx.alert_dialog.description(
                "This spends one more credit and replaces the preview, which has not been saved."
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Keep this one", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button(
                        "Generate again · 1 credit",
                        on_click=GenerateState.regenerate,
                        id="confirm-regenerate",
                    )
                ),
                justify="end",
                spacing="3",
                margin_top="1em",
                wrap="wrap",
            ),
        ),
        open=GenerateState.confirm_open,
        on_open_change=GenerateState.set_confirm_open,
    )


def _account_option(account: AccountChoice) -> rx.Component:
    return rx.el.label(
        rx.hstack(
            rx.checkbox(
                checked=GenerateState.selected_accounts.contains(account.id),
                on_change=lambda checked: GenerateState.toggle_account(account.id, checked),
            ),
            rx.text(account.label, size="2"),
            rx.badge(account.platform, size="1", variant="outline"),
            align="center",
            spacing="2",
        ),
    )


def _schedule_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Schedule the post"),
            rx.dialog.description(
                "The time is in your time zone, ",
                ShellState.user_timezone,
                ".",
                size="2",
                color=rx.color("gray", 11),
            ),
            rx.vstack(
                _labelled(
                    "Publish at",
                    "schedule-at",
                    rx.input(
                        id="schedule-at",
                        type="datetime-local",
                        value=GenerateState.schedule_at,
                        on_change=GenerateState.set_schedule_at,
                        width="100%",
                    ),
                ),
                rx.text("Publish to", style=LABEL_STYLE),
                rx.cond(
                    GenerateState.account_options.length() > 0,
                    rx.vstack(rx.foreach(GenerateState.account_options, _account_option), spacing="2"),
                    rx.text(
                        "No connected accounts yet. ",
                        rx.link("Connect one", href=routes.ACCOUNTS),
                        " or save a draft instead.",
                        size="2",
                    ),
                ),
                rx.cond(
                    GenerateState.schedule_error != "",
                    rx.text(GenerateState.schedule_error, color=rx.color("red", 11), size="2", role="alert"),
                ),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                    rx.button("Schedule", on_click=GenerateState.schedule, loading=GenerateState.saving),
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                width="100%",
                margin_top="1em",
            ),
            max_width="30em",
        ),
        open=GenerateState.schedule_open,
        on_open_change=GenerateState.set_schedule_open,
    )


@template(route=routes.GENERATE, title="Generate", on_load=GenerateState.load)
def generate_page() -> rx.Component:
    return rx.fragment(
        rx.grid(
            _form(),
            _preview(),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="4",
            width="100%",
        ),
        _confirm_regenerate(),
        _schedule_dialog(),
    )

"""The post editor dialog: text, accounts, per-account versions with live counters, time, save.

Place `post_editor_dialog(on_saved=Page.reload)` once on a page and open it with
`PostEditorState.open_new(local_start)` or `PostEditorState.open_edit(post_id)`; after a save or a
delete the page's `on_saved` handler runs (so a list or calendar can fetch again).
"""

from __future__ import annotations

import reflex as rx

from postforge.state.post_editor import EditorAccount, EditorMedia, PostEditorState, PreviewItem

S = PostEditorState
LABEL_STYLE = {"font_weight": "500", "font_size": "14px"}


def _handler_path(on_saved) -> str:
    if on_saved is None:
        return ""
    return f"{on_saved.state.get_full_name()}.{on_saved.fn.__name__}"


def _error(message) -> rx.Component:
    return rx.cond(message != "", rx.text(message, color=rx.color("red", 11), size="2", role="alert"))


def _account_choice(account: EditorAccount) -> rx.Component:
    return rx.hstack(
        rx.checkbox(
            rx.text(account.handle, " · ", account.platform_label),
            checked=S.account_ids.contains(account.id),
            on_change=lambda checked: S.toggle_account(account.id, checked),
            id="account-" + account.id.to_string(),
        ),
        rx.cond(
            account.status != "connected",
            rx.badge(account.status.replace("_", " "), color_scheme="amber", variant="soft"),
        ),
        align="center",
        spacing="2",
    )


YOUTUBE_PRIVACY = [("private", "Private"), ("unlisted", "Unlisted"), ("public", "Public")]
MADE_FOR_KIDS = [("default", "As the channel is set"), ("no", "Not made for kids"), ("yes", "Made for kids")]
TIKTOK_PRIVACY = [
    ("SELF_ONLY", "Only me"),
    ("MUTUAL_FOLLOW_FRIENDS", "Friends"),
    ("FOLLOWER_OF_CREATOR", "Followers"),
    ("PUBLIC_TO_EVERYONE", "Everyone"),
]


def _option_select(item: PreviewItem, control: str, label: str, value, choices) -> rx.Component:
    field_id = "option-" + control + "-" + item.account_id.to_string()
    return rx.vstack(
        rx.el.label(label, html_for=field_id, style={"font_size": "13px", "color": rx.color("gray", 11)}),
        rx.select.root(
            rx.select.trigger(id=field_id, width="100%"),
            rx.select.content(*[rx.select.item(text, value=choice) for choice, text in choices]),
            value=value,
            on_change=lambda chosen: S.set_option(item.account_id, control, chosen),
        ),
        spacing="1",
        width="100%",
    )


def _option_switch(item: PreviewItem, control: str, label: str, checked) -> rx.Component:
    return rx.checkbox(
        rx.text(label, size="2"),
        checked=checked,
        on_change=lambda value: S.set_option(item.account_id, control, value),
        id="option-" + control + "-" + item.account_id.to_string(),
    )


def _platform_options(item: PreviewItem) -> rx.Component:
    """YouTube's and TikTok's choices for this post; the defaults are the safe ones (private)."""
    youtube = rx.hstack(
        _option_select(item, "privacy", "Visibility", item.privacy, YOUTUBE_PRIVACY),
        _option_select(item, "made_for_kids", "Audience", item.made_for_kids, MADE_FOR_KIDS),
        spacing="3",
        width="100%",
    )
    tiktok = rx.vstack(
        _option_select(item, "privacy", "Who can watch", item.privacy, TIKTOK_PRIVACY),
        _option_switch(
            item,
            "brand_organic",
            "Promotes my own brand (labelled “Promotional content”)",
            item.brand_organic,
        ),
        _option_switch(
            item,
            "brand_content",
            "Paid partnership (labelled “Paid partnership”; not private)",
            item.brand_content,
        ),
        _option_switch(item, "ai_generated", "Made with AI", item.ai_generated),
        spacing="2",
        width="100%",
    )
    return rx.fragment(
        rx.cond(item.platform == "youtube", youtube),
        rx.cond(item.platform == "tiktok", tiktok),
        _error(item.options_error),
    )


def _preview(item: PreviewItem) -> rx.Component:
    counter_color = rx.cond(item.over, rx.color("red", 11), rx.color("gray", 11))
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.badge(item.platform_label),
                rx.text(item.handle, weight="medium", size="2"),
                rx.spacer(),
                rx.text(
                    item.count.to_string(),
                    " / ",
                    item.max_chars.to_string(),
                    size="2",
                    color=counter_color,
                    weight=rx.cond(item.over, "bold", "regular"),
                    aria_label=item.platform_label + " count",
                    class_name="post-counter",
                    data_platform=item.platform,
                ),
                width="100%",
                align="center",
            ),
            rx.text(
                rx.cond(item.text != "", item.text, "Nothing written yet."),
                white_space="pre-wrap",
                word_break="break-word",
                size="2",
                color=rx.cond(item.text != "", rx.color("gray", 12), rx.color("gray", 9)),
                class_name="post-preview-text",
                max_height="14em",
                overflow_y="auto",
                width="100%",
            ),
            rx.cond(
                item.problems != "",
                rx.text(item.problems, color=rx.color("red", 11), size="1", role="status"),
            ),
            rx.el.label(
                "Version for ",
                item.handle,
                " (optional)",
                html_for="override-" + item.account_id.to_string(),
                style={"font_size": "13px", "color": rx.color("gray", 11)},
            ),
            rx.text_area(
                id="override-" + item.account_id.to_string(),
                value=item.override,
                on_change=lambda value: S.set_override(item.account_id, value),
                placeholder="Same as the main text",
                rows="2",
                width="100%",
            ),
            _error(item.error),
            _platform_options(item),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def _conflict_prompt(saved_path: str) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Changed elsewhere"),
            rx.alert_dialog.description(
                "This post was changed elsewhere — reload it, or save again to overwrite. "
                "Reloading shows the other version and drops your changes here."
            ),
            rx.flex(
                rx.button("Keep editing", variant="soft", color_scheme="gray", on_click=S.keep_editing),
                rx.button("Reload", variant="soft", on_click=S.reload_latest, id="conflict-reload"),
                rx.button(
                    "Overwrite with my version",
                    color_scheme="red",
                    on_click=S.overwrite(saved_path),
                    id="conflict-overwrite",
                ),
                gap="3",
                justify="end",
                wrap="wrap",
                margin_top="1em",
            ),
        ),
        open=S.conflict_open,
    )


def _delete_confirmation(saved_path: str) -> rx.Component:
    return rx.cond(
        S.confirm_delete,
        rx.callout.root(
            rx.callout.text("Delete this post? Anything already published stays on the platforms."),
            rx.hstack(
                rx.button(
                    "Delete",
                    color_scheme="red",
                    size="1",
                    on_click=S.delete(saved_path),
                    id="editor-delete-confirm",
                ),
                rx.button("Keep it", variant="soft", size="1", on_click=S.keep_post),
                spacing="2",
            ),
            color_scheme="red",
            role="alert",
        ),
    )


def _thumb(item: EditorMedia) -> rx.Component:
    return rx.box(
        rx.cond(
            item.thumbnail_url != "",
            rx.image(src=item.thumbnail_url, alt="", width="100%", height="100%", object_fit="cover"),
            rx.center(rx.icon(rx.cond(item.kind == "video", "video", "image"), size=20), height="100%"),
        ),
        width="4em",
        height="4em",
        flex_shrink="0",
        border_radius="4px",
        overflow="hidden",
        background=rx.color("gray", 3),
    )


def _attached(item: EditorMedia) -> rx.Component:
    return rx.hstack(
        _thumb(item),
        rx.vstack(
            rx.text(item.filename, size="1", weight="medium"),
            rx.input(
                value=item.alt_text,
                on_change=lambda value: S.set_media_alt(item.id, value),
                on_blur=S.save_media_alt(item.id),
                placeholder="Alt text: describe it for people who cannot see it",
                aria_label="Alt text of " + item.filename,
                size="1",
                width="100%",
                class_name="editor-media-alt",
            ),
            spacing="1",
            width="100%",
        ),
        rx.icon_button(
            rx.icon("arrow-up", size=14),
            size="1",
            variant="soft",
            type="button",
            on_click=S.move_media(item.id, -1),
            aria_label="Move " + item.filename + " earlier",
        ),
        rx.icon_button(
            rx.icon("arrow-down", size=14),
            size="1",
            variant="soft",
            type="button",
            on_click=S.move_media(item.id, 1),
            aria_label="Move " + item.filename + " later",
        ),
        rx.icon_button(
            rx.icon("x", size=14),
            size="1",
            variant="soft",
            color_scheme="red",
            type="button",
            on_click=S.detach_media(item.id),
            aria_label="Remove " + item.filename,
        ),
        align="center",
        width="100%",
        class_name="editor-media",
    )


def _choice(item: EditorMedia) -> rx.Component:
    return rx.button(
        _thumb(item),
        rx.text(item.filename, size="1"),
        variant="ghost",
        type="button",
        on_click=S.attach_media(item.id),
        aria_label="Attach " + item.filename,
        height="auto",
        padding="0.25em",
    )


def _media_section() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text("Media", style=LABEL_STYLE),
            rx.popover.root(
                rx.popover.trigger(
                    rx.button(
                        rx.icon("image-plus", size=14),
                        "Add from library",
                        size="1",
                        variant="soft",
                        type="button",
                        on_click=S.open_picker,
                        id="editor-add-media",
                    )
                ),
                rx.popover.content(
                    rx.cond(
                        S.library_media.length() > 0,
                        rx.flex(rx.foreach(S.library_media, _choice), wrap="wrap", gap="2", max_width="26em"),
                        rx.text("Nothing more in the library: upload files on the Media page.", size="2"),
                    ),
                    aria_label="Media library",
                ),
                open=S.picker_open,
                on_open_change=S.set_picker_open,
            ),
            align="center",
            spacing="3",
        ),
        rx.vstack(rx.foreach(S.media, _attached), spacing="2", width="100%"),
        spacing="2",
        width="100%",
        align="start",
    )


def _form(saved_path: str) -> rx.Component:
    return rx.vstack(
        rx.el.label("Post text", html_for="post-content", style=LABEL_STYLE),
        rx.text_area(
            id="post-content",
            value=S.content,
            on_change=S.set_content,
            placeholder="What do you want to say?",
            rows="7",
            width="100%",
            aria_invalid=rx.cond(S.content_error != "", "true", "false"),
        ),
        _error(S.content_error),
        _media_section(),
        rx.el.fieldset(
            rx.el.legend("Accounts", style=LABEL_STYLE),
            rx.cond(
                S.accounts.length() > 0,
                rx.vstack(rx.foreach(S.accounts, _account_choice), spacing="2", padding_y="0.25em"),
                rx.text("No accounts connected yet: connect one on the Accounts page.", size="2"),
            ),
            _error(S.accounts_error),
            style={"border": "none", "padding": "0", "margin": "0"},
        ),
        rx.el.label("Publish at (", S.timezone, ")", html_for="post-schedule", style=LABEL_STYLE),
        rx.hstack(
            rx.input(
                id="post-schedule",
                type="datetime-local",
                value=S.schedule_local,
                on_change=S.set_schedule_local,
                width="100%",
                max_width="16em",
            ),
            rx.cond(
                S.schedule_local != "",
                rx.button("Clear", variant="ghost", size="1", on_click=S.clear_schedule, type="button"),
            ),
            rx.button(
                rx.icon("calendar-clock", size=14),
                "Next free slot",
                variant="soft",
                size="1",
                on_click=S.fill_next_slot,
                type="button",
                id="editor-next-slot",
            ),
            align="center",
            wrap="wrap",
        ),
        rx.text(
            "Times are in ",
            S.timezone,
            ". Save as a draft to keep the post without a time.",
            size="1",
            color=rx.color("gray", 10),
        ),
        _error(S.schedule_error),
        spacing="2",
        width="100%",
        align="start",
    )


def _previews() -> rx.Component:
    return rx.vstack(
        rx.heading("Previews", size="3", as_="h3"),
        rx.cond(
            S.previews.length() > 0,
            rx.vstack(rx.foreach(S.previews, _preview), spacing="3", width="100%"),
            rx.text(
                "Choose an account to see how the post looks there.", size="2", color=rx.color("gray", 10)
            ),
        ),
        spacing="2",
        width="100%",
    )


def post_editor_dialog(on_saved=None) -> rx.Component:
    saved_path = _handler_path(on_saved)
    return rx.fragment(
        rx.dialog.root(
            rx.dialog.content(
                rx.dialog.title(S.title),
                rx.dialog.description(
                    "Write once, adjust per account, then schedule or keep it as a draft.",
                    size="2",
                    color=rx.color("gray", 11),
                ),
                rx.grid(
                    _form(saved_path),
                    _previews(),
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="5",
                    width="100%",
                    margin_top="1em",
                ),
                rx.cond(
                    S.form_error != "",
                    rx.callout(
                        S.form_error,
                        icon="triangle-alert",
                        color_scheme="red",
                        role="alert",
                        margin_top="1em",
                    ),
                ),
                _delete_confirmation(saved_path),
                rx.flex(
                    rx.cond(
                        S.post_id > 0,
                        rx.button(
                            rx.icon("trash-2", size=16),
                            "Delete",
                            variant="soft",
                            color_scheme="red",
                            on_click=S.ask_delete,
                            id="editor-delete",
                        ),
                    ),
                    rx.spacer(),
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.button(
                        "Save as draft",
                        variant="outline",
                        on_click=S.save("draft", saved_path),
                        loading=S.saving,
                        id="editor-save-draft",
                    ),
                    rx.button(
                        rx.cond(S.post_id > 0, "Save and schedule", "Schedule"),
                        on_click=S.save("schedule", saved_path),
                        loading=S.saving,
                        id="editor-schedule",
                    ),
                    gap="3",
                    wrap="wrap",
                    margin_top="1.25em",
                    align="center",
                ),
                max_width="64em",
                width="96vw",
                id="post-editor",
            ),
            open=S.is_open,
            on_open_change=S.set_open,
        ),
        _conflict_prompt(saved_path),
    )

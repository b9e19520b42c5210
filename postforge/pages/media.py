"""Media: the workspace's images and videos — upload, find, describe (alt text) and delete."""

import reflex as rx

from postforge import routes
from postforge.components.cards import empty_state
from postforge.components.layout import template
from postforge.services.media.library import ALT_TEXT_MAX
from postforge.services.media.validation import ACCEPTED_TYPES
from postforge.state.media import MediaCard, MediaState
from postforge.state.shell import ShellState

HIDDEN = {"display": "none"}


def _bridge(element_id: str, handler) -> rx.Component:
    """A hidden input the uploader script writes to; its on_change reaches the state."""
    return rx.el.input(id=element_id, on_change=handler, style=HIDDEN, tab_index=-1, aria_hidden="true")


def _uploader() -> rx.Component:
    return rx.fragment(
        rx.script(src="/media_upload.js"),
        rx.el.input(
            type="file",
            id="media-file-input",
            accept=",".join(ACCEPTED_TYPES),
            style=HIDDEN,
            tab_index=-1,
            aria_hidden="true",
        ),
        _bridge("media-upload-chosen", MediaState.file_chosen),
        _bridge("media-upload-progress", MediaState.upload_progress),
        _bridge("media-upload-done", MediaState.upload_done),
    )


def _toolbar() -> rx.Component:
    return rx.flex(
        rx.select.root(
            rx.select.trigger(aria_label="Type of media", min_width="9em"),
            rx.select.content(
                rx.select.item("All media", value="all"),
                rx.select.item("Images", value="image"),
                rx.select.item("Videos", value="video"),
            ),
            value=MediaState.kind_filter,
            on_change=MediaState.set_kind_filter,
        ),
        rx.input(
            placeholder="Search names and alt text",
            value=MediaState.query,
            on_change=MediaState.set_query.debounce(300),
            aria_label="Search media",
            id="media-search",
            min_width="14em",
        ),
        rx.spacer(),
        rx.cond(
            ShellState.can_write,
            rx.button(
                rx.icon("upload", size=16),
                "Upload",
                on_click=MediaState.pick_file,
                loading=MediaState.uploading | MediaState.checking,
                id="media-upload-button",
            ),
        ),
        spacing="3",
        wrap="wrap",
        align="center",
        width="100%",
    )


def _usage() -> rx.Component:
    return rx.vstack(
        rx.text(MediaState.usage_label, size="2", id="media-usage"),
        rx.progress(value=MediaState.usage_percent, max=100, aria_label="Storage used"),
        spacing="1",
        width="100%",
        max_width="24em",
    )


def _upload_status() -> rx.Component:
    return rx.cond(
        MediaState.uploading | MediaState.checking,
        rx.callout(
            rx.cond(
                MediaState.checking,
                rx.text("Checking ", MediaState.upload_name, "…"),
                rx.text("Uploading ", MediaState.upload_name, ": ", MediaState.upload_percent, "%"),
            ),
            icon="loader",
            role="status",
            size="1",
        ),
    )


def _preview(item: MediaCard) -> rx.Component:
    return rx.box(
        rx.cond(
            item.thumbnail_url != "",
            rx.image(
                src=item.thumbnail_url,
                alt=rx.cond(item.alt_text != "", item.alt_text, item.filename),
                width="100%",
                height="100%",
                object_fit="cover",
                class_name="media-thumbnail",
            ),
            rx.center(
                rx.cond(
                    item.status == "failed",
                    rx.text("No preview", size="1"),
                    rx.spinner(size="2", aria_label="Preview on its way"),
                ),
                height="100%",
            ),
        ),
        rx.cond(
            item.kind == "video",
            rx.badge(rx.icon("video", size=12), "Video", position="absolute", top="6px", left="6px"),
        ),
        position="relative",
        width="100%",
        aspect_ratio="1",
        background=rx.color("gray", 3),
        border_radius="6px",
        overflow="hidden",
    )


def _media_card(item: MediaCard) -> rx.Component:
    return rx.card(
        rx.vstack(
            _preview(item),
            rx.text(item.filename, size="2", weight="medium", trim="both", class_name="media-name"),
            rx.text(item.details, size="1", color=rx.color("gray", 10)),
            rx.text(
                rx.cond(
                    item.used_in_posts == 1,
                    "Used in 1 post",
                    "Used in " + item.used_in_posts.to(str) + " posts",
                ),
                size="1",
                color=rx.color("gray", 10),
            ),
            rx.cond(
                item.alt_text != "",
                rx.text(item.alt_text, size="1", class_name="media-alt"),
                rx.text("No alt text", size="1", color=rx.color("orange", 10), class_name="media-alt"),
            ),
            rx.cond(
                ShellState.can_write,
                rx.hstack(
                    rx.button(
                        rx.icon("text", size=14),
                        "Alt text",
                        size="1",
                        variant="soft",
                        on_click=MediaState.open_alt(item.id, item.filename, item.alt_text),
                        aria_label="Edit alt text of " + item.filename,
                    ),
                    rx.button(
                        rx.icon("trash-2", size=14),
                        "Delete",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        on_click=MediaState.ask_delete(item.id, item.filename),
                        aria_label="Delete " + item.filename,
                    ),
                    spacing="2",
                ),
            ),
            spacing="2",
            align="start",
        ),
        class_name="media-card",
    )


def _grid() -> rx.Component:
    return rx.cond(
        MediaState.items.length() > 0,
        rx.grid(
            rx.foreach(MediaState.items, _media_card),
            columns=rx.breakpoints(initial="2", sm="3", md="4", lg="5"),
            spacing="3",
            width="100%",
        ),
        empty_state("images", "No media yet", "Upload images and videos to use them in your posts."),
    )


def _pager() -> rx.Component:
    return rx.cond(
        MediaState.page_count > 1,
        rx.hstack(
            rx.button(
                "Previous", variant="soft", on_click=MediaState.change_page(-1), disabled=MediaState.page <= 1
            ),
            rx.text("Page ", MediaState.page, " of ", MediaState.page_count, size="2"),
            rx.button(
                "Next",
                variant="soft",
                on_click=MediaState.change_page(1),
                disabled=MediaState.page >= MediaState.page_count,
            ),
            align="center",
            spacing="3",
        ),
    )


def _alt_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Alt text"),
            rx.dialog.description(
                "Describe ",
                MediaState.alt_name,
                " for people who cannot see it. Platforms read this out.",
                size="2",
            ),
            rx.text_area(
                value=MediaState.alt_draft,
                on_change=MediaState.set_alt_draft,
                max_length=ALT_TEXT_MAX,
                rows="4",
                id="media-alt-input",
                aria_label="Alt text",
                margin_top="0.75em",
            ),
            rx.cond(
                MediaState.alt_error != "", rx.text(MediaState.alt_error, color=rx.color("red", 11), size="2")
            ),
            rx.hstack(
                rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.button("Save", on_click=MediaState.save_alt, id="media-alt-save"),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
        ),
        open=MediaState.alt_open,
        on_open_change=MediaState.set_alt_open,
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete ", MediaState.delete_name, "?"),
            rx.alert_dialog.description(
                "It leaves the library. Posts that already went out keep it; a scheduled post using it "
                "must let go of it first.",
                size="2",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Keep it", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button("Delete", color_scheme="red", on_click=MediaState.delete)),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
        ),
        open=MediaState.delete_open,
        on_open_change=MediaState.set_delete_open,
    )


@template(routes.MEDIA, "Media", on_load=MediaState.load)
def media_page() -> rx.Component:
    return rx.vstack(
        _uploader(),
        _usage(),
        _toolbar(),
        _upload_status(),
        _grid(),
        _pager(),
        _alt_dialog(),
        _delete_dialog(),
        spacing="4",
        width="100%",
    )

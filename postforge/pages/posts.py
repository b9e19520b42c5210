"""The posts page: a server-paged table with search, filters, row and bulk actions, and the editor."""

import reflex as rx

from postforge import routes
from postforge.components.cards import empty_state
from postforge.components.layout import template
from postforge.components.post_editor import post_editor_dialog
from postforge.services.channels.publishing import ReviewAnswer
from postforge.state.post_editor import PostEditorState
from postforge.state.posts import (
    SORT_CHOICES,
    STATUS_CHOICES,
    DestinationBadge,
    DestinationDetail,
    FilterAccount,
    PostRow,
    PostsState,
)
from postforge.state.shell import ShellState

P = PostsState
A = ReviewAnswer
PLATFORMS = [
    ("sandbox", "Sandbox"),
    ("x", "X"),
    ("bluesky", "Bluesky"),
    ("mastodon", "Mastodon"),
    ("linkedin", "LinkedIn"),
    ("threads", "Threads"),
    ("instagram", "Instagram"),
    ("facebook", "Facebook"),
    ("youtube", "YouTube"),
    ("tiktok", "TikTok"),
]


def _labelled(label: str, control: rx.Component, html_for: str = "") -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=html_for or None, style={"font_size": "13px", "font_weight": "500"}),
        control,
        spacing="1",
    )


def _select(label: str, id_: str, value, on_change, items: list[rx.Component]) -> rx.Component:
    return _labelled(
        label,
        rx.select.root(
            rx.select.trigger(id=id_, aria_label=label, min_width="9em"),
            rx.select.content(rx.select.item("All", value="all"), *items),
            value=value,
            on_change=on_change,
        ),
        id_,
    )


def _account_item(account: FilterAccount) -> rx.Component:
    return rx.select.item(account.label, value=account.id)


def _filters() -> rx.Component:
    return rx.flex(
        _labelled(
            "Search",
            rx.input(
                rx.input.slot(rx.icon("search", size=16)),
                id="posts-search",
                placeholder="Search the text…",
                value=P.query,
                on_change=P.set_query,
                type="search",
                min_width="14em",
            ),
            "posts-search",
        ),
        _select(
            "Status",
            "filter-status",
            P.status_filter,
            P.set_status_filter,
            [rx.select.item(s.replace("_", " ").capitalize(), value=s) for s in STATUS_CHOICES],
        ),
        _select(
            "Platform",
            "filter-platform",
            P.platform_filter,
            P.set_platform_filter,
            [rx.select.item(label, value=value) for value, label in PLATFORMS],
        ),
        rx.cond(
            P.account_options.length() > 0,
            _labelled(
                "Account",
                rx.select.root(
                    rx.select.trigger(id="filter-account", aria_label="Account", min_width="10em"),
                    rx.select.content(
                        rx.select.item("All", value="all"), rx.foreach(P.account_options, _account_item)
                    ),
                    value=P.account_filter,
                    on_change=P.set_account_filter,
                ),
                "filter-account",
            ),
        ),
        _labelled(
            "From",
            rx.input(id="filter-from", type="date", value=P.date_from, on_change=P.set_date_from),
            "filter-from",
        ),
        _labelled(
            "To",
            rx.input(id="filter-to", type="date", value=P.date_to, on_change=P.set_date_to),
            "filter-to",
        ),
        rx.cond(
            P.filters_active,
            rx.button("Clear filters", variant="ghost", on_click=P.clear_filters, id="clear-filters"),
        ),
        gap="3",
        wrap="wrap",
        align="end",
        width="100%",
    )


def _sort_header(label: str, column: str) -> rx.Component:
    arrow = rx.cond(
        P.sort == column,
        rx.cond(P.direction == "asc", rx.icon("arrow-up", size=14), rx.icon("arrow-down", size=14)),
        rx.fragment(),
    )
    return rx.table.column_header_cell(
        rx.button(
            label,
            arrow,
            variant="ghost",
            size="1",
            on_click=P.sort_by(column),
            aria_label=f"Sort by {label.lower()}",
        ),
        aria_sort=rx.cond(P.sort == column, rx.cond(P.direction == "asc", "ascending", "descending"), "none"),
        white_space="nowrap",
    )


def _badge(destination: DestinationBadge) -> rx.Component:
    return rx.tooltip(
        rx.badge(
            destination.platform_label,
            " ",
            destination.handle,
            " · ",
            destination.status,
            color_scheme=destination.color,
            variant="soft",
        ),
        content=rx.cond(destination.last_error != "", destination.last_error, destination.status),
    )


def _problem_line(destination: DestinationBadge) -> rx.Component:
    """A failed or unconfirmed destination says what the platform said, right in the table."""
    return rx.cond(
        destination.problem,
        rx.text(
            rx.text.strong(destination.platform_label, " ", destination.handle, ": "),
            rx.cond(destination.last_error != "", destination.last_error, destination.status),
            size="1",
            # Orange for one that may be live (like its badge), red for a failure.
            color=rx.cond(destination.color == "orange", rx.color("orange", 11), rx.color("red", 11)),
            class_name="destination-problem",
        ),
    )


def _row_action(icon: str, label: str, row: PostRow, on_click, **props) -> rx.Component:
    return rx.icon_button(
        rx.icon(icon, size=16),
        variant="ghost",
        aria_label=label + " " + row.id.to_string(),
        on_click=on_click,
        **props,
    )


def _row_actions(row: PostRow) -> rx.Component:
    return rx.hstack(
        rx.cond(
            row.can_edit,
            _row_action("pencil", "Edit post", row, PostEditorState.open_edit(row.id), class_name="row-edit"),
        ),
        _row_action(
            "activity",
            "Publishing details of post",
            row,
            P.open_details(row.id),
            class_name="row-details",
            color_scheme=rx.cond(row.has_problem, "red", "gray"),
        ),
        _row_action("copy", "Duplicate post", row, P.duplicate(row.id)),
        rx.cond(
            row.can_retry,
            _row_action("rotate-ccw", "Retry failed accounts of post", row, P.retry(row.id)),
        ),
        rx.cond(row.can_cancel, _row_action("circle-stop", "Cancel post", row, P.cancel(row.id))),
        _row_action(
            "trash-2", "Delete post", row, P.ask_delete(row.id), color_scheme="red", class_name="row-delete"
        ),
        spacing="1",
    )


def _row(row: PostRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.checkbox(
                checked=P.selected.contains(row.id),
                on_change=lambda checked: P.toggle_row(row.id, checked),
                aria_label="Select post " + row.id.to_string(),
            )
        ),
        rx.table.cell(
            rx.vstack(
                rx.text(row.content, size="2", class_name="post-content"),
                rx.flex(rx.foreach(row.destinations, _badge), gap="1", wrap="wrap"),
                rx.cond(row.has_problem, rx.vstack(rx.foreach(row.destinations, _problem_line), spacing="1")),
                spacing="1",
                min_width="16em",
            ),
            max_width="36em",
        ),
        rx.table.cell(rx.badge(row.status_label, color_scheme=row.status_color, class_name="post-status")),
        rx.table.cell(row.when, white_space="nowrap"),
        rx.table.cell(row.updated, white_space="nowrap"),
        rx.table.cell(_row_actions(row)),
        data_post_id=row.id,
        class_name="post-row",
    )


def _table() -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell(
                        rx.checkbox(
                            checked=P.all_selected,
                            on_change=P.toggle_page,
                            aria_label="Select every post on this page",
                        )
                    ),
                    rx.table.column_header_cell("Post"),
                    _sort_header(SORT_CHOICES["status"], "status"),
                    _sort_header(SORT_CHOICES["scheduled_at"], "scheduled_at"),
                    _sort_header(SORT_CHOICES["updated_at"], "updated_at"),
                    rx.table.column_header_cell(rx.el.span("Actions")),
                )
            ),
            rx.table.body(rx.foreach(P.rows, _row)),
            width="100%",
            variant="surface",
            id="posts-table",
        ),
        overflow_x="auto",
        width="100%",
    )


def _bulk_bar() -> rx.Component:
    return rx.cond(
        P.selected_count > 0,
        rx.flex(
            rx.text(P.selected_count, " selected", weight="medium", id="selected-count"),
            rx.button("Cancel", variant="soft", size="1", on_click=P.bulk_cancel),
            rx.button("Retry failed", variant="soft", size="1", on_click=P.bulk_retry),
            rx.button("Duplicate", variant="soft", size="1", on_click=P.bulk_duplicate),
            rx.button("Delete", color_scheme="red", variant="soft", size="1", on_click=P.ask_bulk_delete),
            gap="2",
            align="center",
            wrap="wrap",
            padding="0.5em 0.75em",
            border_radius="var(--radius-3)",
            background=rx.color("accent", 3),
            role="toolbar",
            aria_label="Actions for the selected posts",
        ),
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.text(P.range_text, size="2", color=rx.color("gray", 11), id="posts-range"),
        rx.spacer(),
        rx.button(
            rx.icon("chevron-left", size=16),
            "Previous",
            variant="soft",
            size="1",
            disabled=~P.has_previous,
            on_click=P.previous_page,
        ),
        rx.button(
            "Next",
            rx.icon("chevron-right", size=16),
            variant="soft",
            size="1",
            disabled=~P.has_next,
            on_click=P.next_page,
        ),
        width="100%",
        align="center",
    )


def _delete_confirmation() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete?"),
            rx.alert_dialog.description(P.confirm_text),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Keep", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button("Delete", color_scheme="red", on_click=P.confirm_delete, id="confirm-delete")
                ),
                gap="3",
                justify="end",
                margin_top="1em",
            ),
        ),
        open=P.confirm_open,
        on_open_change=P.set_confirm_open,
    )


def _detail_fact(label: str, value) -> rx.Component:
    return rx.cond(
        value != "",
        rx.text(rx.text.span(label, ": ", color=rx.color("gray", 10)), value, size="1"),
    )


def _review_answer(
    d: DestinationDetail, answer: ReviewAnswer, label: str, class_name: str, **colour
) -> rx.Component:
    """One answer to "did it go out?"."""
    return rx.button(
        label,
        size="1",
        variant="soft",
        on_click=P.resolve_review(d.id, answer.value),
        class_name=class_name,
        **colour,
    )


def _destination_detail(d: DestinationDetail) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(d.account, weight="medium", size="2"),
            rx.badge(d.status_label, color_scheme=d.color, class_name="destination-status"),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        rx.cond(
            d.last_error != "",
            rx.callout(
                d.last_error,
                icon="triangle-alert",
                color_scheme=rx.cond(d.needs_review, "orange", "red"),
                size="1",
                class_name="destination-error",
                width="100%",
            ),
        ),
        rx.flex(
            rx.text(rx.text.span("Attempts: ", color=rx.color("gray", 10)), d.attempts, size="1"),
            _detail_fact("Next try", d.next_attempt),
            _detail_fact("Published", d.published),
            rx.cond(d.url != "", rx.link("Open on the platform", href=d.url, is_external=True, size="1")),
            gap="3",
            wrap="wrap",
        ),
        rx.cond(
            d.engagement != "",
            rx.text(
                rx.icon("heart", size=12),
                " ",
                d.engagement,
                rx.text.span(" (as of ", d.engagement_at, ")", color=rx.color("gray", 10)),
                size="1",
                class_name="destination-engagement",
            ),
        ),
        rx.cond(
            d.needs_review,
            rx.vstack(
                rx.text(
                    "The platform did not confirm whether this went out. Check the account, then say "
                    "what you found.",
                    size="1",
                    color=rx.color("gray", 11),
                ),
                rx.cond(
                    ShellState.can_write,
                    rx.flex(
                        _review_answer(
                            d, A.PUBLISHED, "It was published", "review-published", color_scheme="green"
                        ),
                        _review_answer(d, A.POST_AGAIN, "Post it again", "review-repost"),
                        _review_answer(
                            d,
                            A.NOT_PUBLISHED,
                            "It was not published",
                            "review-not-published",
                            color_scheme="gray",
                        ),
                        gap="2",
                        wrap="wrap",
                        role="group",
                        aria_label="What did you find on the platform?",
                    ),
                ),
                spacing="1",
            ),
        ),
        spacing="1",
        width="100%",
        padding_y="0.5em",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        class_name="destination-detail",
        data_destination_id=d.id,
    )


def _details_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Publishing details"),
            rx.dialog.description(
                rx.hstack(
                    rx.badge(P.detail_status, color_scheme=P.detail_color),
                    rx.text(P.detail_content, size="2"),
                    spacing="2",
                    align="start",
                ),
            ),
            rx.vstack(
                rx.foreach(P.detail_destinations, _destination_detail),
                spacing="0",
                width="100%",
                margin_top="0.75em",
                id="destination-details",
                aria_live="polite",
            ),
            rx.flex(
                rx.cond(
                    P.detail_can_retry & ShellState.can_write,
                    rx.button(
                        rx.icon("rotate-ccw", size=16),
                        "Retry failed accounts",
                        on_click=P.retry_details,
                        id="retry-failed",
                    ),
                ),
                rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                gap="3",
                justify="end",
                margin_top="1em",
                wrap="wrap",
            ),
            max_width="36em",
        ),
        open=P.detail_open,
        on_open_change=P.set_detail_open,
    )


def _empty() -> rx.Component:
    return rx.cond(
        P.filters_active,
        empty_state(
            "search-x",
            "No posts match these filters",
            "Try other words or a wider date range, or clear the filters to see every post.",
            rx.button("Clear filters", on_click=P.clear_filters, id="empty-clear-filters"),
        ),
        empty_state(
            "file-text",
            "No posts yet",
            "Write your first post, generate one with AI, or import a whole week from a CSV file.",
            rx.flex(
                rx.cond(ShellState.can_write, rx.button("New post", on_click=PostEditorState.open_new(""))),
                rx.link(rx.button("Generate with AI", variant="soft"), href=routes.GENERATE),
                rx.link(rx.button("Import CSV", variant="soft"), href=routes.IMPORT),
                gap="2",
                wrap="wrap",
                justify="center",
            ),
        ),
    )


@template(route=routes.POSTS, title="Posts", on_load=PostsState.load)
def posts_page() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.text("Times are shown in ", rx.text.strong(P.zone), ".", size="2", color=rx.color("gray", 11)),
            rx.spacer(),
            rx.cond(
                ShellState.can_write,
                rx.flex(
                    rx.link(
                        rx.button(rx.icon("upload", size=16), "Import CSV", variant="soft"),
                        href=routes.IMPORT,
                    ),
                    rx.button(
                        rx.icon("plus", size=16),
                        "New post",
                        on_click=PostEditorState.open_new(""),
                        id="new-post",
                    ),
                    gap="2",
                ),
            ),
            width="100%",
            align="center",
            gap="3",
            wrap="wrap",
        ),
        _filters(),
        _bulk_bar(),
        rx.cond(P.total > 0, rx.vstack(_table(), _pager(), width="100%", spacing="3"), _empty()),
        _delete_confirmation(),
        _details_dialog(),
        post_editor_dialog(on_saved=PostsState.reload),
        spacing="4",
        width="100%",
    )

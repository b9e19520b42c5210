"""Import posts from a CSV file: upload, check every row, import the valid ones after confirmation."""

from urllib.parse import quote

import reflex as rx

from postforge import routes
from postforge.components.layout import template
from postforge.services.content.csv_import import MAX_BYTES, MAX_ROWS, TEMPLATE
from postforge.state.post_import import ImportRowItem, ImportState

UPLOAD_ID = "csv_upload"


def _report_row(row: ImportRowItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.number),
        rx.table.cell(
            rx.cond(row.ok, rx.badge("OK", color_scheme="green"), rx.badge("Error", color_scheme="red"))
        ),
        rx.table.cell(row.content, max_width="24em"),
        rx.table.cell(row.local_time, white_space="nowrap"),
        rx.table.cell(row.handles),
        rx.table.cell(
            rx.text(row.messages, color=rx.cond(row.ok, rx.color("gray", 11), rx.color("red", 11)), size="2")
        ),
        class_name=rx.cond(row.ok, "import-row import-ok", "import-row import-error"),
    )


def _upload() -> rx.Component:
    return rx.upload(
        rx.vstack(
            rx.icon("file-up", size=28, color=rx.color("accent", 10)),
            rx.button("Choose a CSV file", type="button"),
            rx.text("or drop it here", size="2", color=rx.color("gray", 11)),
            align="center",
            spacing="2",
        ),
        id=UPLOAD_ID,
        multiple=False,
        max_files=1,
        max_size=MAX_BYTES,
        accept={"text/csv": [".csv"], "text/plain": [".csv", ".txt"], "application/vnd.ms-excel": [".csv"]},
        on_drop=ImportState.handle_upload(rx.upload_files(upload_id=UPLOAD_ID)),
        border=f"1px dashed {rx.color('gray', 7)}",
        border_radius="var(--radius-4)",
        padding="2em",
        width="100%",
        aria_label="Upload a CSV file",
    )


def _help() -> rx.Component:
    return rx.vstack(
        rx.text(
            "The first row names the columns ",
            rx.code("content"),
            ", ",
            rx.code("local_datetime"),
            " and ",
            rx.code("accounts"),
            ". Times are wall-clock times in ",
            rx.text.strong(ImportState.zone),
            " like 2026-12-01 09:30 (leave one empty for a draft). Accounts are handles such as @demo, "
            "separated by spaces or semicolons; write x:@brand when two platforms share a handle.",
            size="2",
        ),
        rx.text(
            f"UTF-8 text (a BOM is fine), at most {MAX_BYTES // 1_000_000} MB and {MAX_ROWS:,} rows. ",
            rx.link(
                "Download a template",
                href="data:text/csv;charset=utf-8," + quote(TEMPLATE),
                download="postforge-import.csv",
            ),
            ".",
            size="2",
            color=rx.color("gray", 11),
        ),
        spacing="2",
        width="100%",
    )


def _report() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading("Check of ", ImportState.file_name, size="4", as_="h2"),
            rx.badge(ImportState.valid_count, " valid", color_scheme="green", id="import-valid-count"),
            rx.badge(ImportState.error_count, " with errors", color_scheme="red", id="import-error-count"),
            align="center",
            wrap="wrap",
        ),
        rx.box(
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Row", "Status", "Content", "Time", "Accounts", "Messages")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(ImportState.rows, _report_row)),
                width="100%",
                variant="surface",
                id="import-report",
            ),
            overflow_x="auto",
            width="100%",
        ),
        rx.flex(
            rx.button("Choose another file", variant="soft", on_click=ImportState.start_over),
            rx.button(
                ImportState.import_label,
                on_click=ImportState.ask_import,
                disabled=ImportState.valid_count == 0,
                loading=ImportState.importing,
                id="import-valid",
            ),
            gap="3",
            wrap="wrap",
        ),
        spacing="3",
        width="100%",
    )


def _confirmation() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Import these posts?"),
            rx.alert_dialog.description(ImportState.confirm_text),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Not yet", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button("Import", on_click=ImportState.confirm_import, id="confirm-import")
                ),
                gap="3",
                justify="end",
                margin_top="1em",
            ),
        ),
        open=ImportState.confirm_open,
        on_open_change=ImportState.set_confirm_open,
    )


@template(route=routes.IMPORT, title="Import posts", on_load=ImportState.load)
def import_page() -> rx.Component:
    return rx.vstack(
        rx.link(rx.hstack(rx.icon("arrow-left", size=16), rx.text("Back to posts")), href=routes.POSTS),
        _help(),
        rx.cond(ImportState.rows.length() > 0, _report(), _upload()),
        rx.cond(
            ImportState.file_error != "",
            rx.callout(
                ImportState.file_error,
                icon="triangle-alert",
                color_scheme="red",
                role="alert",
                id="import-error",
            ),
        ),
        _confirmation(),
        spacing="4",
        width="100%",
    )

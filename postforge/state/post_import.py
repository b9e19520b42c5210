"""The CSV import page: upload, a report per row, then import the valid rows after confirmation."""

from __future__ import annotations

import reflex as rx
from pydantic import BaseModel

from postforge import routes
from postforge.services.content import csv_import
from postforge.services.kernel.errors import ServiceError
from postforge.state.shell import ShellState, in_workspace


class ImportRowItem(BaseModel):
    number: int
    ok: bool
    content: str
    local_time: str
    handles: str
    messages: str


class ImportState(rx.State):
    rows: list[ImportRowItem] = []
    file_name: str = ""
    valid_count: int = 0
    error_count: int = 0
    file_error: str = ""
    confirm_open: bool = False
    importing: bool = False
    zone: str = "UTC"
    # The uploaded file stays on the server; only the report goes to the browser.
    _data: bytes = b""
    _valid_rows: list[int] = []

    @rx.var
    def import_label(self) -> str:
        return f"Import {self.valid_count} valid row" + ("" if self.valid_count == 1 else "s")

    @rx.var
    def confirm_text(self) -> str:
        skipped = (
            f" The {self.error_count} row{'s' if self.error_count != 1 else ''} with errors "
            f"{'are' if self.error_count != 1 else 'is'} skipped."
            if self.error_count
            else ""
        )
        return f"Create {self.valid_count} post{'s' if self.valid_count != 1 else ''} from {self.file_name}?{skipped}"

    async def _shell(self) -> ShellState:
        return await self.get_state(ShellState)

    def _clear(self) -> None:
        self.rows, self.file_name, self.file_error = [], "", ""
        self.valid_count = self.error_count = 0
        self.confirm_open = self.importing = False
        self._data, self._valid_rows = b"", []

    @rx.event
    async def load(self):
        shell = await self._shell()
        self.zone = shell.user_timezone or shell.workspace_timezone or "UTC"
        self._clear()

    @rx.event
    def start_over(self):
        self._clear()
        return rx.clear_selected_files("csv_upload")

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]):
        shell = await self._shell()
        if await shell.current_user() is None:
            return ShellState.require_login
        self._clear()
        if not files:
            self.file_error = "Choose a CSV file to upload."
            return None
        upload = files[0]
        data = await upload.read(csv_import.MAX_BYTES + 1)
        self.file_name = upload.filename or "the file"
        try:
            report = await in_workspace(shell, csv_import.check_csv, data=data, timezone=self.zone)
        except ServiceError as error:
            self.file_error = error.message
            return rx.toast.error(error.message)
        self._data, self._valid_rows = data, list(report.valid_rows)
        self.valid_count, self.error_count = report.valid_count, report.error_count
        self.rows = [
            ImportRowItem(
                number=row.number,
                ok=row.ok,
                content=row.content if len(row.content) <= 120 else row.content[:120] + "…",
                local_time=row.local_time or "(draft)",
                handles=row.handles,
                messages=" ".join(row.messages) if row.messages else "Ready to import.",
            )
            for row in report.rows
        ]
        return None

    @rx.event
    def ask_import(self):
        if self.valid_count:
            self.confirm_open = True

    @rx.event
    def set_confirm_open(self, value: bool):
        self.confirm_open = bool(value)

    @rx.event
    async def confirm_import(self):
        shell = await self._shell()
        if await shell.current_user() is None:
            return ShellState.require_login
        self.confirm_open, self.importing = False, True
        try:
            result = await in_workspace(
                shell,
                csv_import.import_csv,
                data=self._data,
                timezone=self.zone,
                confirmed_rows=list(self._valid_rows),
            )
        except ServiceError as error:
            self.importing = False
            self.file_error = error.message
            return rx.toast.error(error.message)
        self._clear()
        return [
            rx.toast.success(f"Imported {result.created} post{'s' if result.created != 1 else ''}."),
            rx.redirect(routes.POSTS),
        ]

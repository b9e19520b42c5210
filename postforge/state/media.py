"""Media library page: the workspace's images and videos, uploads, alt text and deletion.

The file itself never passes through this state: the page's uploader (assets/media_upload.js)
sends it straight to the signed storage URL(s) `start_upload` hands out, and reports back through
hidden inputs (`file_chosen`, `upload_progress`, `upload_done`). Checking the file can take a
while for a large video, so it runs as a background event booked by `upload_done`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import asdict

import reflex as rx
from pydantic import BaseModel

from postforge.services.kernel.errors import ServiceError
from postforge.services.media import library, quota
from postforge.state import background
from postforge.state.auth import sign_in_redirect
from postforge.state.session_guard import still_signed_in
from postforge.state.shell import ShellState, run_in_session, workspace_member

THUMBNAIL_WAIT_SECONDS = 30  # how long the page watches for the worker's thumbnail after an upload


class MediaCard(BaseModel):
    id: int
    filename: str
    kind: str
    status: str
    alt_text: str
    thumbnail_url: str
    used_in_posts: int
    details: str  # "1200 x 800 · 240.5 KB" or "0:42 · 1920 x 1080 · 12.1 MB"


def _details(item: library.MediaView) -> str:
    parts = []
    if item.duration_seconds:
        seconds = round(item.duration_seconds)
        parts.append(f"{seconds // 60}:{seconds % 60:02d}")
    if item.width and item.height:
        parts.append(f"{item.width} x {item.height}")
    parts.append(quota.human_bytes(item.size_bytes))
    return " · ".join(parts)


def _card(item: library.MediaView) -> MediaCard:
    return MediaCard(
        id=item.id,
        filename=item.filename,
        kind=item.kind,
        status=item.status,
        alt_text=item.alt_text,
        thumbnail_url=item.thumbnail_url,
        used_in_posts=item.used_in_posts,
        details=_details(item),
    )


def _parse(value: str) -> dict:
    try:
        parsed = json.loads(value or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


class MediaState(rx.State):
    items: list[MediaCard] = []
    total: int = 0
    page: int = 1
    kind_filter: str = "all"
    query: str = ""
    used_bytes: int = 0
    quota_bytes: int = 0
    uploading: bool = False
    upload_name: str = ""
    upload_percent: int = 0
    checking: bool = False
    alt_open: bool = False
    alt_id: int = 0
    alt_name: str = ""
    alt_draft: str = ""
    alt_error: str = ""
    delete_open: bool = False
    delete_id: int = 0
    delete_name: str = ""
    _runs: dict[str, str] = {}
    _confirm: dict = {}  # what the booked check confirms: {"media_id": …, "parts": […]}

    @rx.var
    def usage_label(self) -> str:
        return f"{quota.human_bytes(self.used_bytes)} of {quota.human_bytes(self.quota_bytes)} used"

    @rx.var
    def usage_percent(self) -> int:
        return min(100, round(100 * self.used_bytes / self.quota_bytes)) if self.quota_bytes else 0

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total // library.PAGE_SIZE))

    async def _reload(self, user_id: int, workspace_id: int) -> None:
        result = await asyncio.to_thread(
            run_in_session,
            library.list_media,
            actor_id=user_id,
            workspace_id=workspace_id,
            kind="" if self.kind_filter == "all" else self.kind_filter,
            query=self.query,
            page=self.page,
        )
        self.items = [_card(item) for item in result.items]
        self.total, self.used_bytes, self.quota_bytes = result.total, result.used_bytes, result.quota_bytes

    @rx.event
    async def load(self):
        context = await workspace_member(self)
        if context is None:
            self.items = []
            return None
        try:
            await self._reload(*context)
        except ServiceError as error:
            self.items = []
            return rx.toast.error(error.message)
        return None

    @rx.event
    async def set_kind_filter(self, value: str):
        self.kind_filter = value if value in ("all", "image", "video") else "all"
        self.page = 1
        return await self.load()

    @rx.event
    async def set_query(self, value: str):
        self.query = value[:200]
        self.page = 1
        return await self.load()

    @rx.event
    async def change_page(self, step: int):
        self.page = min(max(1, self.page + int(step)), self.page_count)
        return await self.load()

    # --- uploading ---------------------------------------------------------------------------------

    @rx.event
    def pick_file(self):
        return rx.call_script("window.pfMedia && window.pfMedia.pick()")

    @rx.event
    async def file_chosen(self, value: str):
        """The uploader picked a file: reserve room for it and hand back where to send it."""
        if self.uploading or self.checking:
            return rx.toast.info("One upload at a time: wait for the current one to finish.")
        chosen = _parse(value)
        context = await workspace_member(self)
        if context is None:
            return ShellState.require_login
        user_id, workspace_id = context
        try:
            plan = await asyncio.to_thread(
                run_in_session,
                library.start_upload,
                actor_id=user_id,
                workspace_id=workspace_id,
                filename=str(chosen.get("name", "")),
                content_type=str(chosen.get("type", "")),
                size_bytes=int(chosen.get("size") or 0),
            )
        except (ServiceError, ValueError) as error:
            return rx.toast.error(getattr(error, "message", "This file cannot be uploaded."))
        self.uploading, self.upload_name, self.upload_percent = True, str(chosen.get("name", "")), 0
        return rx.call_script(f"window.pfMedia.send({json.dumps(asdict(plan))})")

    @rx.event
    def upload_progress(self, value: str):
        if self.uploading and value.isdigit():
            self.upload_percent = min(int(value), 100)

    @rx.event
    async def upload_done(self, value: str):
        """The bytes are sent (or the upload failed): check the file in the background."""
        result = _parse(value)
        try:
            media_id = int(result.get("media_id") or 0)
        except (TypeError, ValueError):
            media_id = 0
        if not media_id:
            return None
        self.uploading, self.upload_percent = False, 100
        error = str(result.get("error") or "")
        if error:
            context = await workspace_member(self)
            if context is not None:
                # Gone already is fine; the clean-up sweep catches anything left.
                with contextlib.suppress(ServiceError):
                    await asyncio.to_thread(
                        run_in_session,
                        library.abort_upload,
                        actor_id=context[0],
                        workspace_id=context[1],
                        media_id=media_id,
                    )
            return rx.toast.error(error)
        try:
            parts = [(int(number), str(etag)) for number, etag in result.get("parts") or []]
        except (TypeError, ValueError):
            return rx.toast.error("The upload did not report its parts; upload the file again.")
        self._confirm = {"media_id": media_id, "parts": parts}
        self.checking = True
        background.book(self, "confirm")
        return MediaState.check_upload

    @rx.event(background=True)
    async def check_upload(self):
        async with self:
            me = background.claim(self, "confirm")
            if me is None:
                return
            if not await still_signed_in(self):
                background.cancel(self, "confirm")
                self.checking = False
                yield sign_in_redirect(self.router)
                return
            shell = await self.get_state(ShellState)
            user_id, workspace_id = shell.user_id, shell.workspace_id
            job = dict(self._confirm)
        try:
            view = await asyncio.to_thread(
                run_in_session,
                library.confirm_upload,
                actor_id=user_id,
                workspace_id=workspace_id,
                media_id=int(job.get("media_id") or 0),
                parts=job.get("parts") or [],
            )
        except ServiceError as error:
            async with self:
                self.checking = False
                background.cancel(self, "confirm")
            yield rx.toast.error(error.message)
            return
        async with self:
            self.checking = False
            await self._reload(user_id, workspace_id)
        yield rx.toast.success(f"“{view.filename}” is in the library.")
        # The worker makes the thumbnail in a moment: show it as soon as it is there.
        for _ in range(THUMBNAIL_WAIT_SECONDS):
            await asyncio.sleep(1)
            async with self:
                if not background.is_current(self, "confirm", me):
                    return
                await self._reload(user_id, workspace_id)
                shown = next((item for item in self.items if item.id == view.id), None)
                if shown is None or shown.thumbnail_url or shown.status == "failed":
                    background.cancel(self, "confirm")
                    return

    # --- alt text ----------------------------------------------------------------------------------

    @rx.event
    def open_alt(self, media_id: int, filename: str, alt_text: str):
        self.alt_id, self.alt_name, self.alt_draft = int(media_id), filename, alt_text
        self.alt_error, self.alt_open = "", True

    @rx.event
    def set_alt_open(self, value: bool):
        self.alt_open = value

    @rx.event
    def set_alt_draft(self, value: str):
        self.alt_draft = value

    @rx.event
    async def save_alt(self):
        context = await workspace_member(self)
        if context is None:
            return ShellState.require_login
        user_id, workspace_id = context
        try:
            await asyncio.to_thread(
                run_in_session,
                library.set_alt_text,
                actor_id=user_id,
                workspace_id=workspace_id,
                media_id=self.alt_id,
                alt_text=self.alt_draft,
            )
        except ServiceError as error:
            self.alt_error = error.message  # the dialog stays open with the text as typed
            return rx.toast.error(error.message)
        self.alt_open, self.alt_error = False, ""
        await self._reload(user_id, workspace_id)
        return rx.toast.success("Alt text saved.")

    # --- deleting ----------------------------------------------------------------------------------

    @rx.event
    def ask_delete(self, media_id: int, filename: str):
        self.delete_id, self.delete_name, self.delete_open = int(media_id), filename, True

    @rx.event
    def set_delete_open(self, value: bool):
        self.delete_open = value

    @rx.event
    async def delete(self):
        context = await workspace_member(self)
        if context is None:
            return ShellState.require_login
        user_id, workspace_id = context
        self.delete_open = False
        try:
            await asyncio.to_thread(
                run_in_session,
                library.delete_media,
                actor_id=user_id,
                workspace_id=workspace_id,
                media_id=self.delete_id,
            )
        except ServiceError as error:
            return rx.toast.error(error.message)
        await self._reload(user_id, workspace_id)
        return rx.toast.success(f"“{self.delete_name}” deleted.")

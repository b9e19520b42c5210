"""The post editor dialog's state: one composer for the posts page and the calendar.

Counters and previews are computed here with the same platform rules the service checks on save
(`platforms.rules`), so what the composer shows is what the save accepts. Each edit recounts the
text for every chosen account once (`_check_texts`), off the event loop when the text is long. A refusal is shown next
to the field it concerns and nothing typed is cleared; a stale save opens the "changed elsewhere —
reload or overwrite?" prompt.
"""

from __future__ import annotations

import asyncio

import reflex as rx
from pydantic import BaseModel

from postforge.platforms import rules
from postforge.services.content import post_media, posts, slots
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import ServiceError
from postforge.services.media import library
from postforge.state.counting import count_off_loop
from postforge.state.shell import ShellState, in_workspace, run_in_session, workspace_shell

LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> holds


class EditorAccount(BaseModel):
    id: int
    platform: str
    platform_label: str
    handle: str
    display_name: str
    status: str
    instance_limit: int = 0


class PreviewItem(BaseModel):
    account_id: int
    platform: str
    platform_label: str
    handle: str
    text: str
    override: str
    count: int
    max_chars: int
    unit: str
    over: bool
    problems: str
    error: str
    # The platform's options (YouTube, TikTok), as the dialog's controls hold them.
    privacy: str = ""
    made_for_kids: str = "default"
    brand_content: bool = False
    brand_organic: bool = False
    ai_generated: bool = False
    options_error: str = ""


# Option keys per platform and the control that holds each: "privacy" (a select), "made_for_kids"
# (yes/no/default) and yes/no switches. Unset ones are left out: the platform's safe default applies.
PRIVACY_KEY = {"youtube": "privacy_status", "tiktok": "privacy_level"}
DEFAULT_PRIVACY = {"youtube": "private", "tiktok": "SELF_ONLY"}
SWITCHES = {
    "brand_content": "brand_content_toggle",
    "brand_organic": "brand_organic_toggle",
    "ai_generated": "is_aigc",
}


def options_for_service(platform: str, held: dict[str, str]) -> dict:
    """The dialog's option controls as the posts service takes them."""
    chosen: dict = {}
    if platform not in PRIVACY_KEY:
        return chosen
    if held.get("privacy"):
        chosen[PRIVACY_KEY[platform]] = held["privacy"]
    if platform == "youtube" and held.get("made_for_kids") in ("yes", "no"):
        chosen["made_for_kids"] = held["made_for_kids"] == "yes"
    if platform == "tiktok":
        for control, key in SWITCHES.items():
            if held.get(control) == "yes":
                chosen[key] = True
    return chosen


def options_for_dialog(platform: str, stored: dict) -> dict[str, str]:
    """A destination's stored options as the dialog's controls hold them."""
    held: dict[str, str] = {}
    if platform not in PRIVACY_KEY:
        return held
    if stored.get(PRIVACY_KEY[platform]):
        held["privacy"] = str(stored[PRIVACY_KEY[platform]])
    if isinstance(stored.get("made_for_kids"), bool):
        held["made_for_kids"] = "yes" if stored["made_for_kids"] else "no"
    for control, key in SWITCHES.items():
        if stored.get(key) is True:
            held[control] = "yes"
    return held


class EditorMedia(BaseModel):
    id: int
    filename: str
    kind: str
    alt_text: str
    thumbnail_url: str


def _check_all(jobs: list[tuple[str, str, str, int | None]]) -> dict[str, tuple[int, str]]:
    """(count, problems) per account id for (account id, platform, text, instance limit) jobs."""
    checks = {}
    for key, platform, text, instance_limit in jobs:
        check = rules.check_text(platform, text, instance_limit=instance_limit)
        checks[key] = (check.count, " ".join(check.problems))
    return checks


def _saved_event(saved_path: str):
    """The page's `on_saved` handler, named "state.path.handler" by `post_editor_dialog`."""
    if not saved_path or "." not in saved_path:
        return None
    state_path, _, name = saved_path.rpartition(".")
    try:
        state_class = rx.State.get_class_substate(state_path)
    except ValueError:
        return None
    return state_class.event_handlers.get(name)


class PostEditorState(rx.State):
    is_open: bool = False
    post_id: int = 0
    version: int = 0
    status: str = "draft"
    content: str = ""
    account_ids: list[int] = []
    overrides: dict[str, str] = {}
    # Per-account platform options, "<account id>" → control → value (see `options_for_service`).
    option_values: dict[str, dict[str, str]] = {}
    schedule_local: str = ""
    timezone: str = "UTC"
    accounts: list[EditorAccount] = []
    errors: dict[str, str] = {}
    form_error: str = ""
    conflict_open: bool = False
    confirm_delete: bool = False
    saving: bool = False
    media: list[EditorMedia] = []  # what the post shows, in order
    library_media: list[EditorMedia] = []  # the picker's choices
    picker_open: bool = False
    # Whether the media were changed here: an untouched list is left as stored when saving.
    _media_touched: bool = False
    # (count, problems) per chosen account id, for the text it would post: see `_check_texts`.
    _checks: dict[str, tuple[int, str]] = {}

    # --- What the dialog shows ---------------------------------------------------------------------

    @rx.var
    def title(self) -> str:
        return "New post" if not self.post_id else "Edit post"

    @rx.var
    def content_error(self) -> str:
        return self.errors.get("content", "")

    @rx.var
    def schedule_error(self) -> str:
        return self.errors.get("scheduled_at", "") or self.errors.get("timezone", "")

    @rx.var
    def accounts_error(self) -> str:
        return self.errors.get("account_ids", "")

    @rx.var
    def previews(self) -> list[PreviewItem]:
        chosen = [account for account in self.accounts if account.id in self.account_ids]
        items = []
        for account in chosen:
            override = self.overrides.get(str(account.id), "")
            text = override if override.strip() else self.content
            rule = rules.rules_for(account.platform, instance_limit=account.instance_limit or None)
            count, problems = self._checks.get(str(account.id), (0, ""))
            held = self.option_values.get(str(account.id), {})
            items.append(
                PreviewItem(
                    account_id=account.id,
                    platform=account.platform,
                    platform_label=account.platform_label,
                    handle=account.handle,
                    text=text,
                    override=override,
                    count=count,
                    max_chars=rule.max_chars,
                    unit=rule.unit,
                    over=count > rule.max_chars,
                    problems=problems,
                    error=self.errors.get(f"override-{account.id}", ""),
                    privacy=held.get("privacy") or DEFAULT_PRIVACY.get(account.platform, ""),
                    made_for_kids=held.get("made_for_kids") or "default",
                    brand_content=held.get("brand_content") == "yes",
                    brand_organic=held.get("brand_organic") == "yes",
                    ai_generated=held.get("ai_generated") == "yes",
                    options_error=self.errors.get(f"options-{account.id}", ""),
                )
            )
        return items

    async def _check_texts(self) -> None:
        """Count the text each chosen account would post; what `previews` shows."""
        jobs = []
        for account in self.accounts:
            if account.id in self.account_ids:
                override = self.overrides.get(str(account.id), "")
                text = override if override.strip() else self.content
                jobs.append((str(account.id), account.platform, text, account.instance_limit or None))
        size = sum(len(text) for _, _, text, _ in jobs)
        self._checks = await count_off_loop(size, _check_all, jobs)

    # --- Opening -------------------------------------------------------------------------------------

    def _reset_form(self) -> None:
        self.post_id, self.version, self.status = 0, 0, "draft"
        self.content, self.account_ids, self.overrides, self.schedule_local = "", [], {}, ""
        self.option_values = {}
        self.errors, self.form_error = {}, ""
        self.conflict_open, self.confirm_delete, self.saving = False, False, False
        self._checks = {}
        self.media, self.library_media, self.picker_open, self._media_touched = [], [], False, False

    async def _load_accounts(self, shell: ShellState) -> None:
        rows = await in_workspace(shell, posts.composer_accounts)
        self.accounts = [
            EditorAccount(
                id=row.id,
                platform=row.platform,
                platform_label=rules.rules_for(row.platform).label,
                handle=row.handle,
                display_name=row.display_name,
                status=row.status,
                instance_limit=row.instance_limit or 0,
            )
            for row in rows
        ]

    @rx.event
    async def open_new(self, local_start: str = ""):
        """Start a new post; `local_start` ("YYYY-MM-DDTHH:MM" in the user's zone) prefills the time."""
        shell = await workspace_shell(self)
        if shell is None:
            return ShellState.require_login
        if not shell.can_write:
            return rx.toast.error("Viewers can read this workspace but not write posts.")
        self._reset_form()
        self.timezone = shell.user_timezone or shell.workspace_timezone or "UTC"
        self.schedule_local = str(local_start or "")[:16]
        try:
            await self._load_accounts(shell)
        except ServiceError as error:
            return rx.toast.error(error.message)
        connected = [account.id for account in self.accounts if account.status == "connected"]
        if len(connected) == 1:
            self.account_ids = connected  # the usual case: one feed, chosen for you
        await self._check_texts()
        self.is_open = True
        return None

    @rx.event
    async def open_edit(self, post_id: int):
        shell = await workspace_shell(self)
        if shell is None:
            return ShellState.require_login
        self._reset_form()
        self.timezone = shell.user_timezone or shell.workspace_timezone or "UTC"
        try:
            await self._load_accounts(shell)
            view = await in_workspace(shell, posts.get_post, post_id=int(post_id))
            attached = await in_workspace(shell, post_media.attached_media, post_id=int(post_id))
        except (ServiceError, ValueError, TypeError) as error:
            return rx.toast.error(getattr(error, "message", "That post could not be opened."))
        self._fill(view)
        self.media = [
            EditorMedia(
                id=item.id,
                filename=item.filename,
                kind=item.kind,
                alt_text=item.alt_text,
                thumbnail_url=item.thumbnail_url,
            )
            for item in attached
        ]
        await self._check_texts()
        self.is_open = True
        return None

    def _fill(self, view: posts.PostView) -> None:
        self.post_id, self.version, self.status = view.id, view.version, view.status
        self.content = view.content
        self.account_ids = [d.account_id for d in view.destinations]
        self.overrides = {
            str(d.account_id): d.content_override or "" for d in view.destinations if d.content_override
        }
        self.option_values = {
            str(d.account_id): options_for_dialog(d.platform, d.options)
            for d in view.destinations
            if d.options
        }
        self.schedule_local = (
            timefmt.to_local(view.scheduled_at, self.timezone).strftime(LOCAL_INPUT)
            if view.scheduled_at
            else ""
        )

    @rx.event
    def set_open(self, value: bool):
        self.is_open = bool(value)
        if not value:
            self.conflict_open = self.confirm_delete = False

    @rx.event
    def close(self):
        self.is_open = self.conflict_open = self.confirm_delete = False

    def _clear_error(self, field: str) -> None:
        if field in self.errors:
            self.errors = {key: value for key, value in self.errors.items() if key != field}

    # --- Typing --------------------------------------------------------------------------------------

    @rx.event
    async def set_content(self, value: str):
        self.content = value
        self._clear_error("content")
        await self._check_texts()

    @rx.event
    async def toggle_account(self, account_id: int, checked: bool):
        account_id = int(account_id)
        ids = [i for i in self.account_ids if i != account_id]
        if checked:
            ids.append(account_id)
        self.account_ids = ids
        self._clear_error("account_ids")
        await self._check_texts()

    @rx.event
    async def set_override(self, account_id: int, value: str):
        overrides = dict(self.overrides)
        overrides[str(int(account_id))] = value
        self.overrides = overrides
        self._clear_error(f"override-{int(account_id)}")
        await self._check_texts()

    @rx.event
    def set_option(self, account_id: int, control: str, value: str | bool):
        """One option control of one account changed (a select's value, or a switch's state)."""
        if control not in ("privacy", "made_for_kids", *SWITCHES):
            return
        if isinstance(value, bool):
            value = "yes" if value else ""
        key = str(int(account_id))
        held = dict(self.option_values.get(key, {}))
        held[control] = str(value)
        self.option_values = {**self.option_values, key: held}
        self._clear_error(f"options-{key}")

    @rx.event
    def set_schedule_local(self, value: str):
        self.schedule_local = value
        self._clear_error("scheduled_at")

    @rx.event
    async def fill_next_slot(self):
        """Put the workspace's next free posting slot into the time field."""
        shell = await workspace_shell(self)
        if shell is None:
            return ShellState.require_login
        try:
            found = await in_workspace(shell, slots.next_free_slot)
        except ServiceError as error:
            return rx.toast.error(error.message)
        if found is None:
            return rx.toast.info(
                f"No free posting slot in the next {slots.SEARCH_WEEKS} weeks: "
                "add slots under Posting slots on the calendar page, or pick a time."
            )
        self.schedule_local = timefmt.to_local(found, self.timezone).strftime(LOCAL_INPUT)
        self._clear_error("scheduled_at")
        return rx.toast.success(f"Next free slot: {timefmt.format_local(found, self.timezone)}")

    @rx.event
    def clear_schedule(self):
        self.schedule_local = ""
        self._clear_error("scheduled_at")

    # --- Saving --------------------------------------------------------------------------------------

    def _refused(self, error: ServiceError):
        field = error.field or ""
        if field in ("content", "scheduled_at", "timezone", "account_ids") or field.startswith(
            ("override-", "options-")
        ):
            self.errors = {**self.errors, field: error.message}
            self.form_error = ""
        else:
            self.form_error = error.message
        return rx.toast.error(error.message)

    @rx.event
    async def save(self, mode: str = "schedule", saved_path: str = ""):
        """Save as a draft (`mode="draft"`) or scheduled at the chosen time (`mode="schedule"`)."""
        return await self._save(mode, saved_path, overwrite=False)

    async def _save(self, mode: str, saved_path: str, *, overwrite: bool):
        shell = await workspace_shell(self)
        if shell is None:
            return ShellState.require_login
        self.errors, self.form_error = {}, ""
        scheduled_at = None
        if mode == "schedule":
            if not self.schedule_local.strip():
                self.errors = {"scheduled_at": "Choose a date and time to schedule this post."}
                return rx.toast.error("Choose a date and time to schedule this post.")
            try:
                scheduled_at = posts.local_to_utc(self.schedule_local, self.timezone)
            except ServiceError as error:
                return self._refused(error)
        fields = {
            "actor_id": shell.user_id,
            "workspace_id": shell.workspace_id,
            "content": self.content,
            "scheduled_at": scheduled_at,
            "timezone": self.timezone,
            "account_ids": list(self.account_ids),
            "overrides": {int(k): v for k, v in self.overrides.items()},
            "options": self._options(),
        }
        media_ids = [item.id for item in self.media]
        self.saving = True
        try:
            if self.post_id:
                view = await asyncio.to_thread(
                    run_in_session,
                    posts.update_post,
                    post_id=self.post_id,
                    expected_version=self.version,
                    overwrite=overwrite,
                    media_ids=media_ids if self._media_touched else None,
                    **fields,
                )
            else:
                view = await asyncio.to_thread(
                    run_in_session, posts.create_post, media_ids=media_ids, **fields
                )
        except posts.PostChanged:
            self.conflict_open = True  # keep everything typed; ask what to do
            return None
        except ServiceError as error:
            return self._refused(error)
        finally:
            self.saving = False
        self.is_open = self.conflict_open = False
        message = (
            f"Scheduled for {timefmt.format_local(view.scheduled_at, self.timezone)}."
            if view.scheduled_at
            else "Saved as a draft."
        )
        return [rx.toast.success(message), *([event] if (event := _saved_event(saved_path)) else [])]

    def _options(self) -> dict[int, dict]:
        platforms = {account.id: account.platform for account in self.accounts}
        return {
            account_id: options_for_service(
                platforms.get(account_id, ""), self.option_values.get(str(account_id), {})
            )
            for account_id in self.account_ids
        }

    @rx.event
    async def overwrite(self, saved_path: str = ""):
        """The conflict prompt's "overwrite": save this editor's version over the newer one."""
        self.conflict_open = False
        mode = "schedule" if self.schedule_local.strip() else "draft"
        return await self._save(mode, saved_path, overwrite=True)

    @rx.event
    async def reload_latest(self):
        """The conflict prompt's "reload": show the newer version, dropping this editor's changes."""
        shell = await workspace_shell(self)
        if shell is None:
            return ShellState.require_login
        self.conflict_open = False
        try:
            view = await in_workspace(shell, posts.get_post, post_id=self.post_id)
        except ServiceError as error:
            self.is_open = False
            return rx.toast.error(error.message)
        self.errors, self.form_error = {}, ""
        self._fill(view)
        await self._check_texts()
        return rx.toast.info("Showing the latest version.")

    @rx.event
    def keep_editing(self):
        self.conflict_open = False

    # --- Deleting ------------------------------------------------------------------------------------

    @rx.event
    def ask_delete(self):
        self.confirm_delete = True

    @rx.event
    def keep_post(self):
        self.confirm_delete = False

    @rx.event
    async def delete(self, saved_path: str = ""):
        shell = await workspace_shell(self)
        if shell is None:
            return ShellState.require_login
        self.confirm_delete = False
        try:
            await in_workspace(shell, posts.delete_post, post_id=self.post_id, expected_version=self.version)
        except posts.PostChanged:
            self.conflict_open = True
            return None
        except ServiceError as error:
            return self._refused(error)
        self.is_open = False
        return [rx.toast.success("Post deleted."), *([event] if (event := _saved_event(saved_path)) else [])]

    # --- Media ---------------------------------------------------------------------------------------

    @rx.event
    async def open_picker(self):
        """Show the library's ready files to choose from (the newest page)."""
        shell = await workspace_shell(self)
        if shell is None:
            return ShellState.require_login
        try:
            page = await in_workspace(shell, library.list_media)
        except ServiceError as error:
            return rx.toast.error(error.message)
        chosen = {item.id for item in self.media}
        self.library_media = [
            EditorMedia(
                id=item.id,
                filename=item.filename,
                kind=item.kind,
                alt_text=item.alt_text,
                thumbnail_url=item.thumbnail_url,
            )
            for item in page.items
            if item.status == "ready" and item.id not in chosen
        ]
        self.picker_open = True
        return None

    @rx.event
    def set_picker_open(self, value: bool):
        self.picker_open = bool(value)

    @rx.event
    def attach_media(self, media_id: int):
        # Only what the picker offered (the service checks the workspace again when saving).
        found = next((item for item in self.library_media if item.id == int(media_id)), None)
        if found is None or len(self.media) >= post_media.MAX_MEDIA:
            return None
        self.media = [*self.media, found]
        self.library_media = [item for item in self.library_media if item.id != found.id]
        self._media_touched = True
        return None

    @rx.event
    def detach_media(self, media_id: int):
        self.media = [item for item in self.media if item.id != int(media_id)]
        self._media_touched = True

    @rx.event
    def move_media(self, media_id: int, step: int):
        items = list(self.media)
        index = next((i for i, item in enumerate(items) if item.id == int(media_id)), None)
        if index is None:
            return
        target = min(max(index + int(step), 0), len(items) - 1)
        items.insert(target, items.pop(index))
        self.media = items
        self._media_touched = True

    @rx.event
    def set_media_alt(self, media_id: int, value: str):
        self.media = [
            item.model_copy(update={"alt_text": value}) if item.id == int(media_id) else item
            for item in self.media
        ]

    @rx.event
    async def save_media_alt(self, media_id: int):
        """Alt text belongs to the file (every post showing it says the same): saved at once."""
        shell = await workspace_shell(self)
        if shell is None:
            return ShellState.require_login
        item = next((item for item in self.media if item.id == int(media_id)), None)
        if item is None:
            return None
        try:
            await in_workspace(shell, library.set_alt_text, media_id=item.id, alt_text=item.alt_text)
        except ServiceError as error:
            return rx.toast.error(error.message)
        return None

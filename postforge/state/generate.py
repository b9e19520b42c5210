"""Generate page: the form, the streaming preview, and saving the result as a draft or scheduled post.

Generating runs as a background event: it reserves the credit (the header balance drops at
once) and streams the provider into `preview` in small batches. The outcome follows the service's
rule, text delivered = credit kept: text that arrived stays in the preview, editable, with a
`warning` when it falls short (too long, cut off, no hashtags…); when nothing usable arrived the
credit is refunded, the preview goes back to what it showed before (nothing of the failed answer),
the refunded balance returns to the header and every input stays as typed. The business rules live in
`services/writing/generation.py`; this state only moves values between the page and the service.
"""

import asyncio
import time
import uuid

import reflex as rx
from pydantic import BaseModel

from postforge.ai.base import LANGUAGES, TONES
from postforge.ai.registry import get_generator
from postforge.db import session_scope
from postforge.services.channels import account_connect
from postforge.services.content import brands
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import InsufficientCredits, ServiceError
from postforge.services.writing import generation
from postforge.state import background
from postforge.state.counting import count_off_loop
from postforge.state.shell import ShellState

NO_BRAND = "none"
FLUSH_SECONDS = 0.05  # batch streamed text: at most ~20 updates a second reach the browser
SAMPLE_LABEL = "Sample — offline generator, no AI used"
STUCK_AFTER_SECONDS = 300


RESULT_FIELDS = (
    "preview",
    "hashtags",
    "best_time",
    "best_time_reason",
    "has_result",
    "sample",
    "result_platform",
    "result_tone",
    "result_language",
    "result_brand",
    "char_limit",
    "warning",
    "_result_workspace_id",
)


class Choice(BaseModel):
    value: str
    label: str


class AccountChoice(BaseModel):
    id: str
    label: str
    platform: str


def _options(user_id: int, workspace_id: int) -> tuple[list, list, list]:
    with session_scope() as session:
        brand_rows = brands.list_brands(session, actor_id=user_id, workspace_id=workspace_id)
        account_rows = account_connect.list_account_cards(session, user_id=user_id, workspace_id=workspace_id)
    return brand_rows, account_rows, generation.platform_choices()


def _start(user_id: int, workspace_id: int, request_id: str, inputs: dict, provider: str):
    with session_scope() as session:
        return generation.start(
            session,
            actor_id=user_id,
            workspace_id=workspace_id,
            request_id=request_id,
            provider=provider,
            **inputs,
        )


def _count(platform: str, text: str) -> tuple[int, int]:
    """(count, limit) of `text` on `platform`; its plain length and no limit for an unknown platform."""
    try:
        return generation.count_text(platform, text)
    except ServiceError:
        return len(text), 0


def _save(user_id: int, workspace_id: int, fields: dict):
    with session_scope() as session:
        return generation.save_generated(session, actor_id=user_id, workspace_id=workspace_id, **fields)


class GenerateState(rx.State):
    # The form
    topic: str = ""
    tone: str = TONES[0]
    language: str = "en"
    platform: str = "sandbox"
    brand: str = NO_BRAND
    brand_options: list[Choice] = []
    platform_options: list[Choice] = []
    # The result
    preview: str = ""
    hashtags: list[str] = []
    include_hashtags: bool = True
    best_time: str = ""
    best_time_reason: str = ""
    sample: bool = False
    has_result: bool = False
    generating: bool = False
    char_count: int = 0
    char_limit: int = 500
    # What the result was generated for (the form may change afterwards)
    result_platform: str = ""
    result_tone: str = ""
    result_language: str = ""
    result_brand: str = NO_BRAND
    # Problems
    warning: str = ""  # what to check in a result that arrived but falls short
    error: str = ""
    can_retry: bool = False
    out_of_credits: bool = False
    # Dialogs
    confirm_open: bool = False
    schedule_open: bool = False
    schedule_at: str = ""
    schedule_error: str = ""
    account_options: list[AccountChoice] = []
    selected_accounts: list[str] = []
    saving: bool = False
    _request_id: str = ""
    _started_at: float = 0.0
    _runs: dict[str, str] = {}  # the generation streaming into this tab (see `background`)
    _result_workspace_id: int = 0  # the workspace that paid for the result on screen

    # --- Derived ------------------------------------------------------------------------------

    @rx.var
    def over_limit(self) -> bool:
        return self.char_count > self.char_limit

    @rx.var
    def can_save(self) -> bool:
        return self.has_result and not self.generating and not self.saving and self.preview.strip() != ""

    # --- Form setters -------------------------------------------------------------------------

    @rx.event
    def set_topic(self, value: str):
        self.topic = value

    @rx.event
    def set_tone(self, value: str):
        self.tone = value if value in TONES else TONES[0]

    @rx.event
    def set_language(self, value: str):
        self.language = value if value in LANGUAGES else "en"

    @rx.event
    async def set_platform(self, value: str):
        if any(option.value == value for option in self.platform_options):
            self.platform = value
            if not self.has_result:
                await self._recount_off_loop()

    @rx.event
    def set_brand(self, value: str):
        self.brand = value

    @rx.event
    async def set_preview(self, value: str):
        if not self.generating:
            self.preview = value
            await self._recount_off_loop()

    @rx.event
    async def set_include_hashtags(self, value: bool):
        self.include_hashtags = bool(value)
        await self._recount_off_loop()

    @rx.event
    async def remove_hashtag(self, tag: str):
        self.hashtags = [t for t in self.hashtags if t != tag]
        await self._recount_off_loop()

    @rx.event
    def set_confirm_open(self, value: bool):
        self.confirm_open = value

    @rx.event
    def set_schedule_open(self, value: bool):
        self.schedule_open = value

    @rx.event
    def set_schedule_at(self, value: str):
        self.schedule_at = value

    @rx.event
    def toggle_account(self, account_id: str, checked: bool):
        chosen = [a for a in self.selected_accounts if a != account_id]
        self.selected_accounts = [*chosen, account_id] if checked else chosen

    def final_text(self) -> str:
        return generation.compose_text(self.preview, self.hashtags, include_hashtags=self.include_hashtags)

    def _counted_platform(self) -> str:
        showing_result = (self.has_result or self.generating) and self.result_platform
        return self.result_platform if showing_result else self.platform

    def _recount(self) -> None:
        """Recount inline: for the provider's text, which is short (its own length limit)."""
        self.char_count, self.char_limit = _count(self._counted_platform(), self.final_text())

    async def _recount_off_loop(self) -> None:
        """Recount what the person typed or pasted: a long text is counted off the event loop."""
        text = self.final_text()
        self.char_count, self.char_limit = await count_off_loop(
            len(text), _count, self._counted_platform(), text
        )

    # --- Loading ------------------------------------------------------------------------------

    @rx.event
    async def load(self):
        shell = await self.get_state(ShellState)
        if not shell.workspace_id:
            return None
        try:
            brand_rows, account_rows, platforms = await asyncio.to_thread(
                _options, shell.user_id, shell.workspace_id
            )
        except ServiceError as error:
            return rx.toast.error(error.message)
        self.brand_options = [Choice(value=NO_BRAND, label="No brand")] + [
            Choice(value=str(b.id), label=b.name) for b in brand_rows
        ]
        if self.brand not in {option.value for option in self.brand_options}:
            self.brand = NO_BRAND
        self.platform_options = [
            Choice(value=p.value, label=f"{p.label} ({p.max_chars:,} characters)") for p in platforms
        ]
        self.account_options = [
            AccountChoice(
                id=str(a.id), label=f"{a.display_name or a.handle} ({a.handle})", platform=a.platform
            )
            for a in account_rows
            if a.status == "connected"
        ]
        if self.has_result and self._result_workspace_id != shell.workspace_id:
            self._clear_result()  # never save one workspace's paid result into another
        if self.generating and time.time() - self._started_at > STUCK_AFTER_SECONDS:
            self.generating = False  # a run cut off by a server restart must not lock the form
        await self._recount_off_loop()
        return None

    # --- Generating ---------------------------------------------------------------------------

    @rx.event
    async def generate(self):
        """The Generate button: asks first when it would replace a result already paid for."""
        if self.generating:
            return None
        if self.has_result:
            self.confirm_open = True
            return None
        return await self._begin()

    @rx.event
    async def regenerate(self):
        """Confirmed in the dialog: spend another credit."""
        self.confirm_open = False
        if self.generating:
            return None
        return await self._begin()

    async def _begin(self):
        shell = await self.get_state(ShellState)
        if await shell.current_user() is None:
            return ShellState.require_login
        if not self.topic.strip():
            self.error, self.can_retry = "Say what the post should be about.", False
            return rx.toast.error(self.error)
        self.generating, self.error, self.can_retry, self.out_of_credits = True, "", False, False
        self._request_id = uuid.uuid4().hex  # one id per click: a retried event spends once
        self._started_at = time.time()
        background.book(self, "run_generation")
        return GenerateState.run_generation

    @rx.event(background=True)
    async def run_generation(self):
        async with self:
            if background.claim(self, "run_generation") is None:
                return  # one stream per click: a repeated or forged event calls no provider
            shell = await self.get_state(ShellState)
            user_id, workspace_id, request_id = shell.user_id, shell.workspace_id, self._request_id
            inputs = {
                "topic": self.topic,
                "tone": self.tone,
                "language": self.language,
                "platform": self.platform,
                "brand_id": int(self.brand) if self.brand.isdigit() else None,
            }
        generator = get_generator()
        try:
            ticket = await asyncio.to_thread(
                _start, user_id, workspace_id, request_id, inputs, generator.name
            )
        except InsufficientCredits as error:
            async with self:
                self.generating, self.out_of_credits = False, True
                self.error, self.can_retry = error.message, False
                (await self.get_state(ShellState)).credits = error.balance
            yield rx.toast.error(error.message)
            return
        except ServiceError as error:
            async with self:
                self.generating, self.error, self.can_retry = False, error.message, False
            yield rx.toast.error(error.message)
            return

        async with self:
            (await self.get_state(ShellState)).credits = ticket.balance  # the header drops at once
            previous = {name: getattr(self, name) for name in RESULT_FIELDS}
            self.preview, self.hashtags, self.best_time, self.best_time_reason = "", [], "", ""
            self.has_result, self.sample, self.warning = False, generator.sample, ""
            self.result_platform, self.result_tone = ticket.request.platform, ticket.request.tone
            self.result_language, self.result_brand = ticket.request.language, self.brand
            self._result_workspace_id = ticket.workspace_id
            self.char_limit = ticket.request.max_chars

        last_flush, pending = 0.0, None
        try:
            async for event in generation.run(ticket, generator):
                if isinstance(event, generation.GenerationDone):
                    async with self:
                        self._show_result(event)
                    if event.warning:
                        yield rx.toast.warning(event.warning)
                    else:
                        yield rx.toast.success(
                            "Post written. Edit it, then save it as a draft or schedule it."
                        )
                    return
                pending = event.text
                now = time.monotonic()
                if now - last_flush >= FLUSH_SECONDS:
                    async with self:
                        self.preview = pending
                        self._recount()
                    last_flush, pending = now, None
        except generation.GenerationFailed as error:
            async with self:
                await self._show_refund(error, previous)
                if error.balance is not None:
                    (await self.get_state(ShellState)).credits = error.balance
            yield rx.toast.error(error.message)

    def _show_result(self, done: generation.GenerationDone) -> None:
        """Text arrived and its credit was kept: show it, with what to check when it falls short."""
        post = done.post
        self.preview = post.content
        self.hashtags = list(post.hashtags)
        self.best_time, self.best_time_reason = post.best_time, post.best_time_reason
        self.sample, self.has_result, self.generating = post.sample, True, False
        self.warning, self.error, self.can_retry = done.warning, "", False
        self._recount()

    async def _show_refund(self, error: generation.GenerationFailed, previous: dict) -> None:
        """Nothing usable arrived and the credit came back: no trace of the failed answer stays."""
        for name, value in previous.items():  # a failed regeneration keeps the earlier post
            setattr(self, name, value)
        self.generating, self.error, self.can_retry = False, error.message, error.retryable
        await self._recount_off_loop()

    # --- Saving -------------------------------------------------------------------------------

    def _save_fields(self) -> dict:
        return {
            "content": self.final_text(),
            "hashtags": self.hashtags,
            "best_time": self.best_time,
            "best_time_reason": self.best_time_reason,
            "tone": self.result_tone,
            "language": self.result_language,
            "platform": self.result_platform,
            "sample": self.sample,
            "brand_id": int(self.result_brand) if self.result_brand.isdigit() else None,
        }

    async def _save(self, fields: dict):
        """Save through the service; ServiceError propagates for the caller to show."""
        shell = await self.get_state(ShellState)
        self.saving = True
        try:
            return await asyncio.to_thread(_save, shell.user_id, shell.workspace_id, fields)
        finally:
            self.saving = False

    @rx.event
    async def save_draft(self):
        if not self.can_save:
            return None
        shell = await self.get_state(ShellState)
        if await shell.current_user() is None:
            return ShellState.require_login
        try:
            await self._save(self._save_fields())
        except ServiceError as error:
            return rx.toast.error(error.message)
        self._clear_result()
        return rx.toast.success("Draft saved. Find it on the Posts page.")

    @rx.event
    async def open_schedule(self):
        if not self.can_save:
            return None
        shell = await self.get_state(ShellState)
        self.schedule_at = generation.next_best_time(self.best_time, shell.user_timezone) or self.schedule_at
        matching = [a.id for a in self.account_options if a.platform == self.result_platform]
        self.selected_accounts = matching[:1] if matching else []
        self.schedule_error, self.schedule_open = "", True
        return None

    @rx.event
    async def schedule(self):
        if not self.can_save:
            return None
        shell = await self.get_state(ShellState)
        if await shell.current_user() is None:
            return ShellState.require_login
        try:
            local = timefmt.parse_local(self.schedule_at)
            scheduled_at = timefmt.to_utc(local, shell.user_timezone)
            account_ids = [int(a) for a in self.selected_accounts]
        except ServiceError as error:
            self.schedule_error = error.message
            return rx.toast.error(error.message)
        fields = {
            **self._save_fields(),
            "scheduled_at": scheduled_at,
            "timezone": shell.user_timezone,
            "account_ids": account_ids,
        }
        try:
            await self._save(fields)
        except ServiceError as error:
            self.schedule_error = error.message  # the dialog stays open with the choices as made
            return rx.toast.error(error.message)
        when = timefmt.format_local(scheduled_at, shell.user_timezone)
        self.schedule_open = False
        self._clear_result()
        return rx.toast.success(f"Scheduled for {when}.")

    def _clear_result(self) -> None:
        """The post is saved: the preview empties so the next generation needs no confirmation."""
        self.preview, self.hashtags, self.best_time, self.best_time_reason = "", [], "", ""
        self.has_result, self.sample, self.error, self.warning = False, False, "", ""
        self._recount()

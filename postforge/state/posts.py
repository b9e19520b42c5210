"""The posts page: one server-side page of the table, its filters, selection and row actions."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import reflex as rx
from pydantic import BaseModel

from postforge import routes
from postforge.db import session_scope
from postforge.models import Platform
from postforge.platforms import rules
from postforge.services.channels import post_metrics, publishing
from postforge.services.content import posts
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import ServiceError
from postforge.services.tenancy import workspaces
from postforge.state import paging
from postforge.state.live import refresh_on_change
from postforge.state.shell import ShellState, in_workspace

PAGE_SIZE = 25
ALL = "all"
STATUS_CHOICES = [
    "draft",
    "scheduled",
    "publishing",
    "published",
    "partially_published",
    "needs_review",
    "failed",
    "cancelled",
]
PROBLEM_STATUSES = ("failed", "needs_review")
# Post statuses whose failed accounts may be retried (a post awaiting review: its failed ones only).
RETRYABLE_STATUSES = ("failed", "partially_published", "needs_review")
REVIEW_TOASTS = {
    publishing.ReviewAnswer.PUBLISHED: "Marked as published.",
    publishing.ReviewAnswer.POST_AGAIN: "It will be posted again now.",
    publishing.ReviewAnswer.NOT_PUBLISHED: "Marked as not published: retry the post when you want it sent.",
}
SORT_CHOICES = {"scheduled_at": "Scheduled time", "updated_at": "Last change", "status": "Status"}


class DestinationBadge(BaseModel):
    id: int = 0
    platform_label: str
    handle: str
    status: str
    color: str
    last_error: str
    # Failed or needing review: the row shows the platform's message under the badges.
    problem: bool = False


class DestinationDetail(BaseModel):
    """One destination in the publishing details dialog."""

    id: int
    account: str  # "@brand on X"
    status: str
    status_label: str
    color: str
    last_error: str
    attempts: int
    next_attempt: str  # when the worker tries again, in the viewer's zone ("" when not planned)
    published: str
    url: str
    failed: bool
    needs_review: bool
    engagement: str = ""  # "12 likes · 3 comments · 1 share" ("" before the first reading)
    engagement_at: str = ""  # when it was read, in the viewer's zone


def engagement_line(metrics: post_metrics.MetricsView | None) -> str:
    """The numbers a platform reported, the ones it reports at all (views and reach only when > 0)."""
    if metrics is None:
        return ""
    parts = [
        _count(metrics.likes, "like"),
        _count(metrics.comments, "comment"),
        _count(metrics.shares, "share"),
    ]
    if metrics.impressions:
        parts.append(_count(metrics.impressions, "view"))
    if metrics.reach:
        parts.append(f"reached {metrics.reach:,}")
    return " · ".join(parts)


def _count(value: int, noun: str) -> str:
    return f"{value:,} {noun}{'' if value == 1 else 's'}"


class PostRow(BaseModel):
    id: int
    content: str
    status: str
    status_label: str
    status_color: str
    when: str
    updated: str
    destinations: list[DestinationBadge]
    can_edit: bool
    can_retry: bool
    can_cancel: bool
    has_problem: bool = False


class FilterAccount(BaseModel):
    id: str
    label: str


STATUS_COLORS = {
    "draft": "gray",
    "scheduled": "blue",
    "pending": "blue",
    "queued": "blue",
    "publishing": "amber",
    "published": "green",
    "partially_published": "orange",
    "failed": "red",
    "needs_review": "orange",
    "cancelled": "gray",
}


def _search(user_id: int, workspace_id: int, filters: dict) -> posts.PostPage:
    """Membership is checked in the same transaction as the read."""
    with session_scope() as session:
        workspaces.authorize(session, user_id=user_id, workspace_id=workspace_id, action="read")
        return posts.search_posts(session, workspace_id, **filters)


def _day_start(text: str, zone: str) -> datetime | None:
    """Midnight at the start of a day typed as YYYY-MM-DD, in `zone`, as UTC."""
    try:
        day = date.fromisoformat(str(text).strip())
    except ValueError:
        return None
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _row(view: posts.PostView, zone: str) -> PostRow:
    preview = " ".join(view.content.split())
    return PostRow(
        id=view.id,
        content=preview[:160] + ("…" if len(preview) > 160 else ""),
        status=view.status,
        status_label=view.status.replace("_", " "),
        status_color=STATUS_COLORS.get(view.status, "gray"),
        when=timefmt.format_local(view.scheduled_at, zone) if view.scheduled_at else "Not scheduled",
        updated=timefmt.format_local(view.updated_at, zone) if view.updated_at else "",
        destinations=[
            DestinationBadge(
                id=d.id,
                platform_label=rules.rules_for(d.platform).label,
                handle=d.handle,
                status=d.status.replace("_", " "),
                color=STATUS_COLORS.get(d.status, "gray"),
                last_error=d.last_error,
                problem=d.status in PROBLEM_STATUSES,
            )
            for d in view.destinations
        ],
        can_edit=view.status in ("draft", "scheduled", "failed", "cancelled"),
        # Only failed accounts are retried; one awaiting review is answered in the post's details.
        can_retry=view.status in RETRYABLE_STATUSES and any(d.status == "failed" for d in view.destinations),
        can_cancel=view.status in ("scheduled", "failed"),
        has_problem=any(d.status in PROBLEM_STATUSES for d in view.destinations),
    )


def destination_detail(
    d: posts.DestinationView, zone: str, metrics: post_metrics.MetricsView | None = None
) -> DestinationDetail:
    label = rules.rules_for(d.platform).label
    return DestinationDetail(
        id=d.id,
        account=f"{d.handle or d.display_name or 'Account'} on {label}",
        status=d.status,
        status_label=d.status.replace("_", " "),
        color=STATUS_COLORS.get(d.status, "gray"),
        last_error=d.last_error,
        attempts=d.attempts,
        next_attempt=(
            timefmt.format_local(d.next_attempt_at, zone)
            if d.next_attempt_at and d.status in ("pending", "queued", "failed")
            else ""
        ),
        published=timefmt.format_local(d.published_at, zone) if d.published_at else "",
        url=d.platform_post_url or "",
        failed=d.status == "failed",
        needs_review=d.status == "needs_review",
        engagement=engagement_line(metrics),
        engagement_at=timefmt.format_local(metrics.collected_at, zone) if metrics else "",
    )


class PostsState(rx.State):
    rows: list[PostRow] = []
    total: int = 0
    page: int = 0
    sort: str = "scheduled_at"
    direction: str = "desc"
    query: str = ""
    status_filter: str = ALL
    platform_filter: str = ALL
    account_filter: str = ALL
    date_from: str = ""
    date_to: str = ""
    selected: list[int] = []
    confirm_ids: list[int] = []
    account_options: list[FilterAccount] = []
    loaded: bool = False
    zone: str = "UTC"
    # The publishing details dialog: one post's destinations, their messages and what to do next.
    detail_id: int = 0
    detail_content: str = ""
    detail_status: str = ""
    detail_color: str = "gray"
    detail_can_retry: bool = False
    detail_destinations: list[DestinationDetail] = []

    # --- Computed ----------------------------------------------------------------------------------

    @rx.var
    def filters_active(self) -> bool:
        return bool(
            self.query.strip()
            or self.status_filter != ALL
            or self.platform_filter != ALL
            or self.account_filter != ALL
            or self.date_from
            or self.date_to
        )

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var
    def range_text(self) -> str:
        return paging.range_text(self.page, PAGE_SIZE, self.total)

    @rx.var
    def has_previous(self) -> bool:
        return self.page > 0

    @rx.var
    def has_next(self) -> bool:
        return paging.has_next(self.page, PAGE_SIZE, self.total)

    @rx.var
    def all_selected(self) -> bool:
        return bool(self.rows) and all(row.id in self.selected for row in self.rows)

    @rx.var
    def selected_count(self) -> int:
        return len(self.selected)

    @rx.var
    def detail_open(self) -> bool:
        return self.detail_id > 0

    @rx.var
    def confirm_open(self) -> bool:
        return bool(self.confirm_ids)

    @rx.var
    def confirm_text(self) -> str:
        count = len(self.confirm_ids)
        what = "this post" if count == 1 else f"these {count} posts"
        return (
            f"Delete {what}? Drafts that were never scheduled are removed for good; anything that was "
            "scheduled stops and is kept out of sight. Posts already published stay on the platforms."
        )

    # --- Loading -----------------------------------------------------------------------------------

    async def _shell(self) -> ShellState:
        return await self.get_state(ShellState)

    @rx.event
    async def load(self):
        shell = await self._shell()
        if not shell.workspace_id:
            self.rows, self.total = [], 0
            return None
        self.zone = shell.user_timezone or shell.workspace_timezone or "UTC"
        try:
            accounts = await in_workspace(shell, posts.composer_accounts)
        except ServiceError as error:
            return rx.toast.error(error.message)
        self.account_options = [
            FilterAccount(id=str(a.id), label=f"{a.handle} · {rules.rules_for(a.platform).label}")
            for a in accounts
        ]
        self.selected, self.confirm_ids = [], []
        outcome = await self._fetch(shell)
        asked = str(self.router.url.query_parameters.get("post", ""))
        if outcome is None and asked.isdigit():  # a notification's link: open that post's details
            return await self._load_details(int(asked), shell)
        return outcome

    async def _fetch(self, shell: ShellState | None = None):
        shell = shell or await self._shell()
        if await shell.current_user() is None:
            return ShellState.require_login
        filters = {
            "query": self.query,
            "statuses": [self.status_filter] if self.status_filter != ALL else [],
            "platforms": [self.platform_filter] if self.platform_filter != ALL else [],
            "account_ids": [int(self.account_filter)] if self.account_filter.isdigit() else [],
            "date_from": _day_start(self.date_from, self.zone) if self.date_from else None,
            "date_to": (
                _day_start(self.date_to, self.zone) + timedelta(days=1)
                if self.date_to and _day_start(self.date_to, self.zone)
                else None
            ),
            "sort": self.sort,
            "direction": self.direction,
            "limit": PAGE_SIZE,
            "offset": self.page * PAGE_SIZE,
        }
        try:
            page = await asyncio.to_thread(_search, shell.user_id, shell.workspace_id, filters)
        except ServiceError as error:
            return rx.toast.error(error.message)
        if not page.rows and page.total and self.page > 0:
            self.page = max(0, (page.total - 1) // PAGE_SIZE)  # the page emptied (deletes): step back
            return await self._fetch(shell)
        self.rows = [_row(view, self.zone) for view in page.rows]
        self.total = page.total
        visible = {row.id for row in self.rows}
        self.selected = [i for i in self.selected if i in visible]
        self.loaded = True
        return None

    @rx.event
    async def reload(self):
        """Fetch the current page again (the editor's `on_saved`)."""
        return await self._fetch()

    @rx.event
    async def refresh_live(self):
        """A post of the workspace changed (the live poller): show the page and open details again."""
        outcome = await self._fetch()
        if outcome is None and self.detail_id:
            await self._load_details(self.detail_id, quiet=True)
        return outcome

    # --- Publishing details ------------------------------------------------------------------------

    async def _load_details(self, post_id: int, shell: ShellState | None = None, *, quiet: bool = False):
        shell = shell or await self._shell()
        try:
            view, metrics = await in_workspace(shell, post_metrics.post_with_metrics, post_id=post_id)
        except ServiceError as error:
            self.detail_id, self.detail_destinations = 0, []
            return None if quiet else rx.toast.error(error.message)
        preview = " ".join(view.content.split())
        self.detail_id = view.id
        self.detail_content = preview[:280] + ("…" if len(preview) > 280 else "")
        self.detail_status = view.status.replace("_", " ")
        self.detail_color = STATUS_COLORS.get(view.status, "gray")
        self.detail_can_retry = view.status in RETRYABLE_STATUSES and any(
            d.status == "failed" for d in view.destinations
        )
        self.detail_destinations = [
            destination_detail(d, self.zone, metrics.get(d.id)) for d in view.destinations
        ]
        return None

    @rx.event
    async def open_details(self, post_id: int):
        return await self._load_details(int(post_id))

    @rx.event
    def set_detail_open(self, value: bool):
        if not value:
            self.detail_id, self.detail_destinations = 0, []

    @rx.event
    async def retry_details(self):
        """The dialog's Retry: the post's failed destinations go out again now."""
        post_id = self.detail_id
        if not post_id:
            return None
        outcome = await self._retry(post_id)
        await self._load_details(post_id, quiet=True)
        return outcome

    @rx.event
    async def resolve_review(self, destination_id: int, answer: str):
        """A destination the platform never confirmed: the person checked and says what happened.

        "published" records it as published; "post_again" sends it once more (with the same
        idempotency key, so a platform that deduplicates returns the first post if it landed);
        "not_published" marks it failed, to be retried when the person wants. The service refuses
        any other answer.
        """
        post_id, ident, said = self.detail_id, int(destination_id), str(answer)
        outcome = await self._act(
            lambda session, actor_id, workspace_id: publishing.resolve_review(
                session,
                user_id=actor_id,
                workspace_id=workspace_id,
                destination_id=ident,
                answer=said,
            ),
            REVIEW_TOASTS.get(said, ""),
        )
        if post_id:
            await self._load_details(post_id, quiet=True)
        return outcome

    # --- Filters, sort, paging ---------------------------------------------------------------------

    async def _refilter(self):
        self.page = 0
        self.selected = []
        return await self._fetch()

    @rx.event
    async def set_query(self, value: str):
        self.query = value
        return await self._refilter()

    @rx.event
    async def set_status_filter(self, value: str):
        self.status_filter = value if value in STATUS_CHOICES else ALL
        return await self._refilter()

    @rx.event
    async def set_platform_filter(self, value: str):
        known = {platform.value for platform in Platform}
        self.platform_filter = value if value in known else ALL
        return await self._refilter()

    @rx.event
    async def set_account_filter(self, value: str):
        self.account_filter = value if value.isdigit() else ALL
        return await self._refilter()

    @rx.event
    async def set_date_from(self, value: str):
        self.date_from = value
        return await self._refilter()

    @rx.event
    async def set_date_to(self, value: str):
        self.date_to = value
        return await self._refilter()

    @rx.event
    async def clear_filters(self):
        self.query, self.date_from, self.date_to = "", "", ""
        self.status_filter = self.platform_filter = self.account_filter = ALL
        return await self._refilter()

    @rx.event
    async def sort_by(self, column: str):
        if column not in SORT_CHOICES:
            return None
        if self.sort == column:
            self.direction = "asc" if self.direction == "desc" else "desc"
        else:
            self.sort, self.direction = column, "desc"
        return await self._refilter()

    @rx.event
    async def next_page(self):
        if paging.has_next(self.page, PAGE_SIZE, self.total):
            self.page += 1
            return await self._fetch()
        return None

    @rx.event
    async def previous_page(self):
        if self.page > 0:
            self.page -= 1
            return await self._fetch()
        return None

    # --- Selection -----------------------------------------------------------------------------------

    @rx.event
    def toggle_row(self, post_id: int, checked: bool):
        post_id = int(post_id)
        others = [i for i in self.selected if i != post_id]
        self.selected = [*others, post_id] if checked else others

    @rx.event
    def toggle_page(self, checked: bool):
        self.selected = [row.id for row in self.rows] if checked else []

    # --- Row and bulk actions ------------------------------------------------------------------------

    async def _act(self, work, success, *, restore: list[int] | None = None):
        """Run one write off the event loop, then show the page again; a refusal keeps the selection."""
        shell = await self._shell()
        if await shell.current_user() is None:
            return ShellState.require_login
        try:
            result = await in_workspace(shell, work)
        except ServiceError as error:
            if restore:
                self.selected = list(restore)
            await self._fetch(shell)
            return rx.toast.error(error.message)
        await self._fetch(shell)
        return rx.toast.success(success(result) if callable(success) else success)

    @rx.event
    async def duplicate(self, post_id: int):
        return await self._act(
            lambda session, **who: posts.duplicate_post(session, post_id=int(post_id), **who),
            "Duplicated as a new draft.",
        )

    @rx.event
    async def retry(self, post_id: int):
        return await self._retry(post_id)

    async def _retry(self, post_id: int):
        return await self._act(
            lambda session, **who: posts.retry_failed(session, post_id=int(post_id), **who),
            "The failed accounts will be tried again now.",
        )

    @rx.event
    async def cancel(self, post_id: int):
        return await self._act(
            lambda session, **who: posts.cancel_post(session, post_id=int(post_id), **who), "Post cancelled."
        )

    @rx.event
    def ask_delete(self, post_id: int):
        self.confirm_ids = [int(post_id)]

    @rx.event
    def ask_bulk_delete(self):
        self.confirm_ids = list(self.selected)

    @rx.event
    def set_confirm_open(self, value: bool):
        if not value:
            self.confirm_ids = []

    @rx.event
    async def confirm_delete(self):
        ids, self.confirm_ids = list(self.confirm_ids), []
        if not ids:
            return None
        self.selected = [i for i in self.selected if i not in ids]
        if len(ids) == 1:
            return await self._act(
                lambda session, **who: posts.delete_post(session, post_id=ids[0], **who), "Post deleted."
            )
        return await self._act(
            lambda session, **who: posts.bulk_delete(session, post_ids=ids, **who),
            lambda result: f"{result.count} posts deleted.",
            restore=ids,
        )

    @rx.event
    async def bulk_cancel(self):
        ids = list(self.selected)
        self.selected = []
        return await self._act(
            lambda session, **who: posts.bulk_cancel(session, post_ids=ids, **who),
            lambda result: f"{result.count} posts cancelled.",
            restore=ids,
        )

    @rx.event
    async def bulk_retry(self):
        ids = list(self.selected)
        self.selected = []
        return await self._act(
            lambda session, **who: posts.bulk_retry_failed(session, post_ids=ids, **who),
            lambda result: f"Retrying the failed accounts of {result.count} posts.",
            restore=ids,
        )

    @rx.event
    async def bulk_duplicate(self):
        ids = list(self.selected)
        self.selected = []
        return await self._act(
            lambda session, **who: posts.bulk_duplicate(session, post_ids=ids, **who),
            lambda result: f"{result.count} drafts created.",
            restore=ids,
        )


refresh_on_change(routes.POSTS, PostsState.refresh_live)

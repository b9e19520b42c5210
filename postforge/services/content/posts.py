"""Posts: write, schedule, move, cancel, retry, duplicate, delete and find them.

Every write asks `workspaces.authorize(..., action="write_posts")` first, checks its input
completely before it changes anything, and changes the post with one conditional UPDATE
(`WHERE id = ? AND version = ?`) that bumps `version`: two edits made from the same version can
never both win, and a stale one gets `PostChanged` ("changed elsewhere — reload or overwrite?")
instead of silently replacing the other. `overwrite=True` saves over the newer version on purpose.

Scheduling needs at least one connected account, a time in the future, and text every chosen
platform accepts (`platforms.rules`); drafts may break platform limits (the composer shows why).
Callers convert what a person typed with `timefmt.to_utc(timefmt.parse_local(text), zone)`, so a
time the clocks skip is refused there and an ambiguous one means its first occurrence.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from postforge.models import (
    AccountStatus,
    Brand,
    DestinationStatus,
    Post,
    PostDestination,
    PostMedia,
    PostStatus,
    SocialAccount,
    utcnow,
)
from postforge.platforms import rules
from postforge.platforms.options import OptionsError, check_options
from postforge.services.content import post_media, post_status, publish_history
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import Conflict, NotFound, ValidationFailed
from postforge.services.kernel.text_search import ESCAPE, contains_pattern
from postforge.services.tenancy import workspaces

MAX_CONTENT_CHARS = rules.MAX_TEXT_CHARS  # above every platform's limit (Facebook: 63,206)
MAX_BULK = 200
PAGE_SIZE_MAX = 200
STALE_MESSAGE = "This post was changed elsewhere — reload it, or save again to overwrite."
NOT_FOUND_MESSAGE = "That post does not exist in this workspace (it may have been deleted)."
SORTS = {"scheduled_at", "updated_at", "created_at", "status"}

D = DestinationStatus
# Destinations that have not reached an outcome the author must keep (published, needs review).
OPEN_DESTINATIONS = (D.PENDING, D.QUEUED, D.FAILED, D.CANCELLED)


class PostChanged(Conflict):
    """A stale edit: the post has a newer version than the one the editor started from."""

    code = "stale"

    def __init__(self, message: str = STALE_MESSAGE, *, current_version: int = 0):
        super().__init__(message)
        self.current_version = current_version


@dataclass(frozen=True)
class DestinationView:
    id: int
    account_id: int
    platform: str
    handle: str
    status: str
    content_override: str | None
    last_error: str
    display_name: str = ""
    account_status: str = ""
    platform_post_url: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None  # when the worker tries again (a failed try backs off)
    published_at: datetime | None = None
    options: dict[str, Any] = field(default_factory=dict)  # what the author chose for this platform


@dataclass(frozen=True)
class PostView:
    id: int
    workspace_id: int
    content: str
    status: str
    scheduled_at: datetime | None
    timezone: str
    version: int
    meta: dict[str, Any]
    brand_id: int | None
    destinations: tuple[DestinationView, ...]
    author_id: int | None = None
    media_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    published_at: datetime | None = None
    first_scheduled_at: datetime | None = None

    def text_for(self, account_id: int) -> str:
        """What goes out on one destination: its own version, else the post's content."""
        for destination in self.destinations:
            if destination.account_id == account_id and (destination.content_override or "").strip():
                return destination.content_override or ""
        return self.content


@dataclass(frozen=True)
class PostPage:
    rows: tuple[PostView, ...]
    total: int
    limit: int = 25
    offset: int = 0


@dataclass(frozen=True)
class ComposerAccount:
    id: int
    platform: str
    handle: str
    display_name: str
    status: str
    instance_limit: int | None = None  # a Mastodon instance's own character limit, when known


@dataclass(frozen=True)
class BulkResult:
    count: int
    post_ids: tuple[int, ...] = field(default_factory=tuple)


# --- Writing ---------------------------------------------------------------------------------------


def create_post(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    content: str,
    scheduled_at: datetime | None = None,
    timezone: str = "UTC",
    account_ids: Sequence[int] = (),
    overrides: Mapping[int, str] | None = None,
    brand_id: int | None = None,
    meta: dict | None = None,
    media_ids: Sequence[int] = (),
    options: Mapping[int, Mapping[str, Any]] | None = None,
) -> PostView:
    """A new post: scheduled when `scheduled_at` (aware UTC) is given, else a draft; it shows the
    library files `media_ids` in that order. `options` holds per-account platform choices (a YouTube
    video's privacy, a TikTok post's audience)."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    chosen = _accounts(session, workspace_id, account_ids)
    post = insert_checked_post(
        session,
        actor_id=actor_id,
        workspace_id=workspace_id,
        content=content,
        scheduled_at=scheduled_at,
        timezone=timezone,
        accounts=chosen,
        overrides=overrides,
        brand_id=brand_id,
        meta=meta,
        media_ids=media_ids,
        options=options,
    )
    return _view(session, post)


def insert_checked_post(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    content: str,
    scheduled_at: datetime | None,
    timezone: str,
    accounts: list[SocialAccount],
    overrides: Mapping[int, str] | None = None,
    brand_id: int | None = None,
    meta: dict | None = None,
    media_ids: Sequence[int] = (),
    options: Mapping[int, Mapping[str, Any]] | None = None,
) -> Post:
    """Check and insert one post for `accounts` the caller has already loaded from this workspace.

    For callers that authorized "write_posts" once for many posts (CSV import); everyone else
    calls `create_post`.
    """
    if any(account.workspace_id != workspace_id for account in accounts):
        raise ValidationFailed(
            "One of the chosen accounts is not connected to this workspace.", field="account_ids"
        )
    content = _clean_content(content)
    timezone = _clean_zone(timezone)
    texts = _clean_overrides(overrides, accounts)
    choices = _clean_options(options, accounts)
    _require_something_written(content, texts)
    _check_brand(session, workspace_id, brand_id)
    meta = _clean_meta(meta)
    media_ids = post_media.checked_media_ids(session, workspace_id, media_ids)
    now = utcnow()
    if scheduled_at is not None:
        scheduled_at = _future(scheduled_at, timezone, now)
        _check_publishable(accounts, content, texts, media_count=len(media_ids))
    status = PostStatus.SCHEDULED if scheduled_at is not None else PostStatus.DRAFT
    post = Post(
        workspace_id=workspace_id,
        author_id=actor_id,
        brand_id=brand_id,
        content=content,
        status=status,
        scheduled_at=scheduled_at,
        timezone=timezone,
        meta=meta,
        first_scheduled_at=now if scheduled_at is not None else None,
        created_at=now,
        updated_at=now,
    )
    session.add(post)
    session.flush()
    if media_ids:
        post_media.link_media(session, post.id or 0, media_ids)
    _sync_destinations(session, post, accounts, texts, scheduled_at, choices)
    return post


_KEEP: Any = object()


def update_post(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    post_id: int,
    expected_version: int | None,
    content: str,
    scheduled_at: datetime | None = None,
    timezone: str = "UTC",
    account_ids: Sequence[int] = (),
    overrides: Mapping[int, str] | None = None,
    brand_id: int | None = _KEEP,
    meta: dict | None = None,
    overwrite: bool = False,
    media_ids: Sequence[int] | None = None,
    options: Mapping[int, Mapping[str, Any]] | None = None,
) -> PostView:
    """Save the editor's whole state of a post: scheduled if `scheduled_at` is given, else a draft.

    `expected_version` is the version the editor loaded; if the post has changed since, PostChanged
    is raised unless `overwrite` is set. `brand_id` left out keeps the brand; `meta` None keeps it;
    `media_ids` None keeps the post's media, a list replaces them (in that order).
    `options` None keeps each destination's platform choices.
    """
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    post = _load(session, workspace_id, post_id)
    current = post_status.require_editable(post.status, "edit")
    _refuse_while_publishing(session, post)
    version = _expect(post, expected_version, overwrite)
    content = _clean_content(content)
    timezone = _clean_zone(timezone)
    chosen = _accounts(session, workspace_id, account_ids, keep=_account_ids(session, post))
    texts = _clean_overrides(overrides, chosen)
    choices = _clean_options(options, chosen)
    _require_something_written(content, texts)
    if brand_id is not _KEEP:
        _check_brand(session, workspace_id, brand_id)
    if media_ids is not None:
        media_ids = post_media.checked_media_ids(session, workspace_id, media_ids)
    now = utcnow()
    target = PostStatus.SCHEDULED if scheduled_at is not None else PostStatus.DRAFT
    if target != current:
        post_status.require_move(current, target)
    if scheduled_at is not None:
        scheduled_at = _future(scheduled_at, timezone, now)
        media_count = len(media_ids) if media_ids is not None else _media_count(session, post_id)
        _check_publishable(chosen, content, texts, media_count=media_count)
    values: dict[str, Any] = {
        "content": content,
        "timezone": timezone,
        "scheduled_at": scheduled_at,
        "status": target,
    }
    if brand_id is not _KEEP:
        values["brand_id"] = brand_id
    if meta is not None:
        values["meta"] = _clean_meta(meta)
    if scheduled_at is not None and post.first_scheduled_at is None:
        values["first_scheduled_at"] = now
    _write(session, post, version, values, now)
    if media_ids is not None:
        post_media.link_media(session, post_id, media_ids)
    _sync_destinations(session, post, chosen, texts, scheduled_at, choices)
    return _view(session, post)


def reschedule(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    post_id: int,
    scheduled_at: datetime,
    expected_version: int | None,
) -> PostView:
    """Move a post to another time (a draft becomes scheduled); refuses past times and stale versions."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    post = _load(session, workspace_id, post_id)
    current = post_status.require_editable(post.status, "reschedule")
    _refuse_while_publishing(session, post)
    version = _expect(post, expected_version, overwrite=False)
    if current != PostStatus.SCHEDULED:
        post_status.require_move(current, PostStatus.SCHEDULED)
    now = utcnow()
    scheduled_at = _future(scheduled_at, post.timezone, now)
    chosen = _accounts(session, workspace_id, _account_ids(session, post), keep=_account_ids(session, post))
    texts = {d.social_account_id: d.content_override or "" for d in _destinations(session, post_id)}
    _check_publishable(chosen, post.content, texts, media_count=_media_count(session, post_id))
    values: dict[str, Any] = {"scheduled_at": scheduled_at, "status": PostStatus.SCHEDULED}
    if post.first_scheduled_at is None:
        values["first_scheduled_at"] = now
    _write(session, post, version, values, now)
    _sync_destinations(session, post, chosen, texts, scheduled_at)
    return _view(session, post)


def cancel_post(
    session: Session, *, actor_id: int, workspace_id: int, post_id: int, expected_version: int | None = None
) -> PostView:
    """Stop a scheduled (or failed) post: nothing more goes out; published destinations stay."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    post = _load(session, workspace_id, post_id)
    return _cancel(session, post, expected_version)


def retry_failed(
    session: Session, *, actor_id: int, workspace_id: int, post_id: int, expected_version: int | None = None
) -> PostView:
    """Send the failed destinations again now; published ones and ones needing review are left alone."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    post = _load(session, workspace_id, post_id)
    return _retry(session, post, expected_version)


def retry_failed_for_operator(session: Session, *, post_id: int) -> PostView:
    """The same retry, for a caller that authorized itself another way (a system admin's console).

    Every rule of the retry holds (only failed posts, never a destination that may be live, the
    accounts must be connected); only the membership check is the caller's.
    """
    post = session.get(Post, post_id) if isinstance(post_id, int) else None
    if post is None or post.deleted_at is not None:
        raise NotFound(NOT_FOUND_MESSAGE)
    return _retry(session, post, None)


def duplicate_post(session: Session, *, actor_id: int, workspace_id: int, post_id: int) -> PostView:
    """A new draft with the same text, accounts, per-account versions, brand and metadata."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    source = _load(session, workspace_id, post_id)
    return _duplicate(session, source, actor_id)


def delete_post(
    session: Session, *, actor_id: int, workspace_id: int, post_id: int, expected_version: int | None = None
) -> None:
    """Delete a post: a draft that was never scheduled is removed; anything else is kept, marked deleted.

    A post being published right now cannot be deleted.
    """
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    post = _load(session, workspace_id, post_id)
    _delete(session, post, expected_version)


def bulk_delete(session: Session, *, actor_id: int, workspace_id: int, post_ids: Sequence[int]) -> BulkResult:
    """Delete all the posts or none (the first refusal names the post and stops everything)."""
    posts = _writable_posts(session, actor_id, workspace_id, post_ids)
    return _all_or_none(
        session,
        posts,
        check=lambda p: _refuse_delete_while_publishing(session, p),
        apply=lambda p: _delete(session, p, None),
    )


def bulk_cancel(session: Session, *, actor_id: int, workspace_id: int, post_ids: Sequence[int]) -> BulkResult:
    """Cancel all the posts or none."""
    posts = _writable_posts(session, actor_id, workspace_id, post_ids)
    return _all_or_none(
        session,
        posts,
        check=lambda p: post_status.require_move(p.status, PostStatus.CANCELLED),
        apply=lambda p: _cancel(session, p, None),
    )


def bulk_retry_failed(
    session: Session, *, actor_id: int, workspace_id: int, post_ids: Sequence[int]
) -> BulkResult:
    """Retry the failed destinations of all the posts, or of none."""
    posts = _writable_posts(session, actor_id, workspace_id, post_ids)
    return _all_or_none(session, posts, check=None, apply=lambda p: _retry(session, p, None))


def bulk_duplicate(
    session: Session, *, actor_id: int, workspace_id: int, post_ids: Sequence[int]
) -> BulkResult:
    """A draft copy of each post, all or none; returns the new drafts' ids."""
    posts = _writable_posts(session, actor_id, workspace_id, post_ids)
    with session.begin_nested():
        copies = [_duplicate(session, post, actor_id) for post in posts]
    return BulkResult(len(copies), tuple(copy.id for copy in copies))


# --- Reading ---------------------------------------------------------------------------------------


def get_post(session: Session, *, actor_id: int, workspace_id: int, post_id: int) -> PostView:
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="read")
    return _view(session, _load(session, workspace_id, post_id))


def composer_accounts(session: Session, *, actor_id: int, workspace_id: int) -> list[ComposerAccount]:
    """The workspace's accounts for the composer, with each one's own text limit where it has one."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="read")
    rows = session.exec(
        select(SocialAccount)
        .where(SocialAccount.workspace_id == workspace_id)
        .order_by(col(SocialAccount.platform), col(SocialAccount.handle), col(SocialAccount.id))
    ).all()
    return [
        ComposerAccount(
            id=account.id or 0,
            platform=str(account.platform),
            handle=account.handle,
            display_name=account.display_name,
            status=str(account.status),
            instance_limit=_instance_limit(account),
        )
        for account in rows
    ]


def search_posts(
    session: Session,
    workspace_id: int,
    *,
    query: str = "",
    statuses: Sequence[str] = (),
    platforms: Sequence[str] = (),
    account_ids: Sequence[int] = (),
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    sort: str = "scheduled_at",
    direction: str = "desc",
    limit: int = 25,
    offset: int = 0,
) -> PostPage:
    """One page of a workspace's live posts and how many match, in two queries.

    Read-only; the caller authorizes "read" first. `query` is a case-insensitive substring of the
    content; `date_from` (inclusive) and `date_to` (exclusive) bound `scheduled_at` (aware UTC), so a
    date filter leaves out unscheduled drafts. Sort by scheduled_at, updated_at, created_at or status.
    """
    limit = max(1, min(int(limit), PAGE_SIZE_MAX))
    offset = max(0, int(offset))
    conditions = _search_conditions(workspace_id, query, statuses, platforms, account_ids, date_from, date_to)
    total = session.exec(select(sa.func.count()).select_from(Post).where(*conditions)).one()
    order = _order(sort, direction)
    page = (
        sa.select(Post.id.label("post_id"))  # type: ignore[union-attr]
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    rows = session.exec(
        select(Post, PostDestination, SocialAccount)
        .join(page, page.c.post_id == Post.id)
        .join(PostDestination, col(PostDestination.post_id) == Post.id, isouter=True)
        .join(SocialAccount, col(SocialAccount.id) == PostDestination.social_account_id, isouter=True)
        .order_by(*order, col(SocialAccount.platform), col(SocialAccount.handle))
    ).all()
    grouped: dict[int, tuple[Post, list[tuple[PostDestination, SocialAccount]]]] = {}
    for post, destination, account in rows:
        entry = grouped.setdefault(post.id or 0, (post, []))
        if destination is not None and account is not None:
            entry[1].append((destination, account))
    views = tuple(_make_view(post, pairs, media_count=0) for post, pairs in grouped.values())
    return PostPage(rows=views, total=int(total), limit=limit, offset=offset)


# --- Helpers: loading ------------------------------------------------------------------------------


def _load(session: Session, workspace_id: int, post_id: int) -> Post:
    post = session.get(Post, post_id) if isinstance(post_id, int) else None
    if post is None or post.workspace_id != workspace_id or post.deleted_at is not None:
        raise NotFound(NOT_FOUND_MESSAGE)
    return post


def _load_many(session: Session, workspace_id: int, post_ids: Sequence[int]) -> list[Post]:
    ids = list(dict.fromkeys(int(i) for i in post_ids))
    if not ids:
        raise ValidationFailed("Select at least one post.", field="post_ids")
    if len(ids) > MAX_BULK:
        raise ValidationFailed(f"Select at most {MAX_BULK} posts at a time.", field="post_ids")
    found = {
        post.id: post
        for post in session.exec(
            select(Post).where(
                col(Post.id).in_(ids), Post.workspace_id == workspace_id, col(Post.deleted_at).is_(None)
            )
        ).all()
    }
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(
            f"{len(missing)} of the selected posts no longer exist. Reload the list and try again."
        )
    return [found[i] for i in ids]


def _destinations(session: Session, post_id: int) -> list[PostDestination]:
    return list(
        session.exec(
            select(PostDestination)
            .where(PostDestination.post_id == post_id)
            .order_by(col(PostDestination.id))
        ).all()
    )


def _account_ids(session: Session, post: Post) -> list[int]:
    return [d.social_account_id for d in _destinations(session, post.id or 0)]


def _media_count(session: Session, post_id: int) -> int:
    return int(
        session.exec(select(sa.func.count()).select_from(PostMedia).where(PostMedia.post_id == post_id)).one()
    )


def _accounts(
    session: Session, workspace_id: int, account_ids: Sequence[int], *, keep: Sequence[int] = ()
) -> list[SocialAccount]:
    """The chosen accounts, in the order given; all must belong to the workspace.

    Accounts newly added must be connected; ones the post already had may have lost their
    connection since (the post can still be saved as a draft; scheduling checks again).
    """
    try:
        ids = list(dict.fromkeys(int(i) for i in account_ids))
    except (TypeError, ValueError):
        raise ValidationFailed("Choose accounts from the list.", field="account_ids") from None
    if not ids:
        return []
    found = {
        account.id: account
        for account in session.exec(
            select(SocialAccount).where(
                col(SocialAccount.id).in_(ids), SocialAccount.workspace_id == workspace_id
            )
        ).all()
    }
    if len(found) != len(ids):
        raise ValidationFailed(
            "One of the chosen accounts is not connected to this workspace. Reload and choose again.",
            field="account_ids",
        )
    for account_id in ids:
        account = found[account_id]
        if account_id not in keep and account.status == AccountStatus.DISCONNECTED:
            raise ValidationFailed(
                f"{account_name(account)} is disconnected. Reconnect it on the Accounts page first.",
                field="account_ids",
            )
    return [found[i] for i in ids]


# --- Helpers: checking input -----------------------------------------------------------------------


def _clean_content(content: str) -> str:
    text = str(content or "").strip()
    if len(text) > MAX_CONTENT_CHARS:
        raise ValidationFailed(
            f"A post can have at most {MAX_CONTENT_CHARS:,} characters; this has {len(text):,}.",
            field="content",
        )
    return text


def _clean_zone(timezone: str) -> str:
    name = str(timezone or "").strip() or "UTC"
    timefmt.require_zone(name)
    return name


def _clean_overrides(overrides: Mapping[int, str] | None, chosen: list[SocialAccount]) -> dict[int, str]:
    """Per-account text for the chosen accounts only; blank means "use the post's text"."""
    chosen_ids = {account.id for account in chosen}
    texts: dict[int, str] = {}
    for key, value in (overrides or {}).items():
        try:
            account_id = int(key)
        except (TypeError, ValueError):
            continue
        text = str(value or "").strip()
        if account_id in chosen_ids and text:
            if len(text) > MAX_CONTENT_CHARS:
                raise ValidationFailed(
                    f"A version can have at most {MAX_CONTENT_CHARS:,} characters.",
                    field=f"override-{account_id}",
                )
            texts[account_id] = text
    return texts


def _clean_options(
    options: Mapping[int, Mapping[str, Any]] | None, chosen: list[SocialAccount]
) -> dict[int, dict[str, Any]] | None:
    """Per-account platform choices for the chosen accounts, checked; None keeps what is stored."""
    if options is None:
        return None
    accounts = {account.id: account for account in chosen}
    cleaned: dict[int, dict[str, Any]] = {}
    for key, value in options.items():
        try:
            account_id = int(key)
        except (TypeError, ValueError):
            continue
        account = accounts.get(account_id)
        if account is None:
            continue
        if not isinstance(value, Mapping):
            raise ValidationFailed("Platform options must be a mapping.", field=f"options-{account_id}")
        try:
            cleaned[account_id] = check_options(account.platform, value)
        except OptionsError as error:
            raise ValidationFailed(
                f"{account_name(account)}: {error}", field=f"options-{account_id}"
            ) from None
    return cleaned


def _require_something_written(content: str, texts: Mapping[int, str]) -> None:
    if not content and not any(texts.values()):
        raise ValidationFailed("Write something first: the post is empty.", field="content")


def _check_brand(session: Session, workspace_id: int, brand_id: int | None) -> None:
    if brand_id is None:
        return
    brand = session.get(Brand, brand_id)
    if brand is None or brand.workspace_id != workspace_id:
        raise ValidationFailed("That brand does not exist in this workspace.", field="brand_id")


def _clean_meta(meta: dict | None) -> dict[str, Any]:
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise ValidationFailed("Post details must be a mapping.", field="meta")
    return dict(meta)


def _future(scheduled_at: datetime, timezone: str, now: datetime) -> datetime:
    if not isinstance(scheduled_at, datetime) or scheduled_at.tzinfo is None:
        raise ValidationFailed("Choose a date and time.", field="scheduled_at")
    if scheduled_at <= now:
        raise ValidationFailed(
            f"{timefmt.format_local(scheduled_at, timezone)} has already passed. Choose a time in the future "
            f"(it is now {timefmt.format_local(now, timezone, '%H:%M')}).",
            field="scheduled_at",
        )
    return scheduled_at


def _instance_limit(account: SocialAccount) -> int | None:
    value = (account.settings or {}).get("max_characters")
    return value if isinstance(value, int) and value > 0 else None


def account_name(account: SocialAccount) -> str:
    """ "@ana on Mastodon": an account as the person knows it (messages, notices, emails)."""
    label = rules.rules_for(account.platform).label
    return f"{account.handle or account.display_name or 'The account'} on {label}"


def destination_problems(
    account: SocialAccount, content: str, override: str | None, *, media_count: int = 0
) -> list[str]:
    """What stops this text from going out on this account (empty when it can go)."""
    text = override if (override or "").strip() else content
    return rules.text_problems(
        account.platform, text or "", media_count=media_count, instance_limit=_instance_limit(account)
    )


def _check_publishable(
    chosen: list[SocialAccount], content: str, texts: Mapping[int, str], *, media_count: int
) -> None:
    if not chosen:
        raise ValidationFailed("Choose at least one account to schedule this post to.", field="account_ids")
    for account in chosen:
        if account.status != AccountStatus.CONNECTED:
            raise ValidationFailed(
                f"{account_name(account)} needs reconnecting before posts can be scheduled to it.",
                field="account_ids",
            )
    for account in chosen:
        override = texts.get(account.id or 0)
        problems = destination_problems(account, content, override, media_count=media_count)
        if problems:
            raise ValidationFailed(
                f"{account_name(account)}: {problems[0]}",
                field=f"override-{account.id}" if (override or "").strip() else "content",
            )


def _expect(post: Post, expected_version: int | None, overwrite: bool) -> int:
    """The version the conditional UPDATE must find: the editor's, or the current one to overwrite."""
    if expected_version is None or overwrite:
        return post.version
    if int(expected_version) != post.version:
        raise PostChanged(current_version=post.version)
    return post.version


# --- Helpers: writing ------------------------------------------------------------------------------


def _write(session: Session, post: Post, version: int, values: dict[str, Any], now: datetime) -> None:
    """Change the post only if it still has `version`, bumping it; PostChanged otherwise."""
    result = session.execute(
        sa.update(Post)
        .where(col(Post.id) == post.id, col(Post.version) == version)
        .values(version=Post.version + 1, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.expire(post)
        raise PostChanged(current_version=post.version)
    session.refresh(post)


def _sync_destinations(
    session: Session,
    post: Post,
    chosen: list[SocialAccount],
    texts: Mapping[int, str],
    scheduled_at: datetime | None,
    choices: Mapping[int, dict[str, Any]] | None = None,
) -> None:
    """Make the post's destinations the chosen accounts, waiting for `scheduled_at` (None: a draft).
    `choices` (None: keep) are the destinations' platform options."""
    existing = {d.social_account_id: d for d in _destinations(session, post.id or 0)}
    maybe_live = publish_history.unconfirmed(session, [d for d in existing.values() if d.status == D.FAILED])
    chosen_ids = [account.id for account in chosen]
    for account_id, destination in existing.items():
        if account_id not in chosen_ids:
            session.delete(destination)
    for account in chosen:
        destination = existing.get(account.id or 0)
        if destination is not None and choices is not None:
            destination.options = dict(choices.get(account.id or 0, {}))
        if destination is None:
            destination = PostDestination(
                post_id=post.id,
                social_account_id=account.id,
                idempotency_key=uuid.uuid4().hex,
                options=dict((choices or {}).get(account.id or 0, {})),
            )
        elif destination.status == D.NEEDS_REVIEW or destination.id in maybe_live:
            # The post may be live there: the new text waits for the person's review answer.
            destination.content_override = texts.get(account.id or 0) or None
            session.add(destination)
            continue
        if destination.status == D.FAILED:
            destination.attempts = 0  # a new round after the author changed the post
        destination.status = D.PENDING
        destination.content_override = texts.get(account.id or 0) or None
        destination.next_attempt_at = scheduled_at
        destination.lease_until = None
        destination.last_error = ""
        session.add(destination)
    session.flush()


def _set_destinations(
    session: Session, post_id: int, from_statuses: Sequence[DestinationStatus], **values
) -> int:
    result = session.execute(
        sa.update(PostDestination)
        .where(col(PostDestination.post_id) == post_id, col(PostDestination.status).in_(from_statuses))
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return int(result.rowcount or 0)


def _cancel(session: Session, post: Post, expected_version: int | None) -> PostView:
    post_status.require_move(post.status, PostStatus.CANCELLED)
    version = _expect(post, expected_version, overwrite=False)
    _write(session, post, version, {"status": PostStatus.CANCELLED}, utcnow())
    _set_destinations(
        session,
        post.id or 0,
        (D.PENDING, D.QUEUED, D.FAILED),
        status=D.CANCELLED,
        next_attempt_at=None,
        lease_until=None,
    )
    return _view(session, post)


def _retry(session: Session, post: Post, expected_version: int | None) -> PostView:
    current = post_status.status_of(post.status)
    # A post awaiting a review answer may still retry its failed accounts: those are not live.
    if current not in (PostStatus.FAILED, PostStatus.PARTIALLY_PUBLISHED, PostStatus.NEEDS_REVIEW):
        raise Conflict(f"This post is {post_status.LABELS[current]}: only failed posts can be retried.")
    version = _expect(post, expected_version, overwrite=False)
    destinations = _destinations(session, post.id or 0)
    # A failed destination with an unconfirmed earlier try may be live: never resent blindly.
    maybe_live = publish_history.unconfirmed(session, [d for d in destinations if d.status == D.FAILED])
    failed = [d for d in destinations if d.status == D.FAILED and d.id not in maybe_live]
    if maybe_live and not failed:
        raise Conflict(
            "Not retried: an earlier try may already have published this post (the platform never "
            "confirmed it). Check the account's profile first; duplicate the post to publish it anew."
        )
    if not failed:
        raise Conflict(
            "Nothing to retry: the remaining accounts need review — check on the platform whether the post "
            "went out before posting it again."
        )
    accounts = {
        a.id: a
        for a in _accounts(
            session,
            post.workspace_id,
            [d.social_account_id for d in failed],
            keep=[d.social_account_id for d in failed],
        )
    }
    for destination in failed:
        account = accounts[destination.social_account_id]
        if account.status != AccountStatus.CONNECTED:
            raise ValidationFailed(
                f"{account_name(account)} needs reconnecting before the post can be retried."
            )
    retried = {d.id for d in failed}
    statuses = [D.PENDING if d.id in retried else d.status for d in destinations]
    target = post_status.derive_post_status(statuses) or PostStatus.SCHEDULED
    post_status.require_move(current, target)
    now = utcnow()
    _write(session, post, version, {"status": target}, now)
    session.execute(
        sa.update(PostDestination)
        .where(col(PostDestination.id).in_(sorted(retried)), PostDestination.status == D.FAILED)
        .values(
            status=D.PENDING, next_attempt_at=now, attempts=0, last_error="", lease_until=None, updated_at=now
        )
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return _view(session, post)


def _duplicate(session: Session, source: Post, actor_id: int) -> PostView:
    now = utcnow()
    copy = Post(
        workspace_id=source.workspace_id,
        author_id=actor_id,
        brand_id=source.brand_id,
        content=source.content,
        status=PostStatus.DRAFT,
        timezone=source.timezone,
        meta=dict(source.meta or {}),
        created_at=now,
        updated_at=now,
    )
    session.add(copy)
    session.flush()
    for destination in _destinations(session, source.id or 0):
        session.add(
            PostDestination(
                post_id=copy.id,
                social_account_id=destination.social_account_id,
                content_override=destination.content_override,
                idempotency_key=uuid.uuid4().hex,
                options=dict(destination.options or {}),
            )
        )
    session.flush()
    return _view(session, copy)


def _refuse_while_publishing(session: Session, post: Post, verb: str = "change") -> None:
    """A post whose destinations the worker holds (queued or publishing) is left alone until it is done."""
    busy = any(d.status in (D.QUEUED, D.PUBLISHING) for d in _destinations(session, post.id or 0))
    if post.status == PostStatus.PUBLISHING or busy:
        raise Conflict(f"This post is being published right now. Wait until it has finished, then {verb} it.")


def _refuse_delete_while_publishing(session: Session, post: Post) -> None:
    _refuse_while_publishing(session, post, "delete")


def _delete(session: Session, post: Post, expected_version: int | None) -> None:
    _refuse_delete_while_publishing(session, post)
    version = _expect(post, expected_version, overwrite=False)
    if post.status == PostStatus.DRAFT and post.first_scheduled_at is None:
        result = session.execute(sa.delete(Post).where(col(Post.id) == post.id, col(Post.version) == version))
        if result.rowcount != 1:
            raise PostChanged(current_version=post.version)
        session.expunge(post)
        return
    values: dict[str, Any] = {"deleted_at": utcnow()}
    if post_status.can_move(post.status, PostStatus.CANCELLED):
        values["status"] = PostStatus.CANCELLED
    _write(session, post, version, values, utcnow())
    _set_destinations(
        session,
        post.id or 0,
        (D.PENDING, D.QUEUED, D.FAILED),
        status=D.CANCELLED,
        next_attempt_at=None,
        lease_until=None,
    )


def _writable_posts(
    session: Session, actor_id: int, workspace_id: int, post_ids: Sequence[int]
) -> list[Post]:
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    return _load_many(session, workspace_id, post_ids)


def _all_or_none(session: Session, posts: list[Post], *, check, apply) -> BulkResult:
    """Check every post first (the refusal names the post before anything changed), then apply
    to all of them in one savepoint, so a late failure undoes the earlier ones too."""
    if check is not None:
        for post in posts:
            _guard(post, check)
    with session.begin_nested():
        for post in posts:
            _guard(post, apply)
    return BulkResult(len(posts), tuple(p.id or 0 for p in posts))


def _guard(post: Post, action) -> Any:
    """Run `action(post)`; a refusal names the post it came from."""
    try:
        return action(post)
    except (Conflict, ValidationFailed, NotFound) as error:
        preview = (post.content or "").strip().replace("\n", " ")
        preview = preview[:40] + ("…" if len(preview) > 40 else "")
        error.message = f"“{preview}”: {error.message} Nothing was changed."
        error.args = (error.message,)
        raise


# --- Helpers: views --------------------------------------------------------------------------------


def _view(session: Session, post: Post) -> PostView:
    pairs = session.exec(
        select(PostDestination, SocialAccount)
        .join(SocialAccount, col(SocialAccount.id) == PostDestination.social_account_id)
        .where(PostDestination.post_id == post.id)
        .order_by(col(SocialAccount.platform), col(SocialAccount.handle), col(PostDestination.id))
    ).all()
    return _make_view(post, list(pairs), media_count=_media_count(session, post.id or 0))


def _make_view(post: Post, pairs: list, *, media_count: int) -> PostView:
    return PostView(
        id=post.id or 0,
        workspace_id=post.workspace_id,
        content=post.content,
        status=str(post.status),
        scheduled_at=post.scheduled_at,
        timezone=post.timezone,
        version=post.version,
        meta=dict(post.meta or {}),
        brand_id=post.brand_id,
        destinations=tuple(
            DestinationView(
                id=destination.id or 0,
                account_id=account.id or 0,
                platform=str(account.platform),
                handle=account.handle,
                status=str(destination.status),
                content_override=destination.content_override,
                last_error=destination.last_error,
                display_name=account.display_name,
                account_status=str(account.status),
                platform_post_url=destination.platform_post_url,
                attempts=destination.attempts,
                next_attempt_at=destination.next_attempt_at,
                published_at=destination.published_at,
                options=dict(destination.options or {}),
            )
            for destination, account in pairs
        ),
        author_id=post.author_id,
        media_count=media_count,
        created_at=post.created_at,
        updated_at=post.updated_at,
        published_at=post.published_at,
        first_scheduled_at=post.first_scheduled_at,
    )


def _search_conditions(
    workspace_id: int,
    query: str,
    statuses: Sequence[str],
    platforms: Sequence[str],
    account_ids: Sequence[int],
    date_from: datetime | None,
    date_to: datetime | None,
) -> list:
    conditions: list = [Post.workspace_id == workspace_id, col(Post.deleted_at).is_(None)]
    text = str(query or "").strip()
    if text:
        conditions.append(col(Post.content).ilike(contains_pattern(text), escape=ESCAPE))
    wanted_statuses = [PostStatus(s) for s in statuses if s in PostStatus._value2member_map_]
    if statuses:
        conditions.append(col(Post.status).in_(wanted_statuses or [None]))
    destination_filters = []
    if platforms:
        destination_filters.append(col(SocialAccount.platform).in_([str(p) for p in platforms]))
    if account_ids:
        destination_filters.append(col(SocialAccount.id).in_([int(i) for i in account_ids]))
    if destination_filters:
        conditions.append(
            sa.exists(
                sa.select(1)
                .select_from(PostDestination)
                .join(SocialAccount, col(SocialAccount.id) == PostDestination.social_account_id)
                .where(col(PostDestination.post_id) == Post.id, *destination_filters)
            )
        )
    if date_from is not None:
        conditions.append(col(Post.scheduled_at) >= date_from)
    if date_to is not None:
        conditions.append(col(Post.scheduled_at) < date_to)
    return conditions


def _order(sort: str, direction: str) -> list:
    key = sort if sort in SORTS else "scheduled_at"
    descending = str(direction).lower() != "asc"
    column = col(getattr(Post, key))
    ordered = column.desc() if descending else column.asc()
    if key == "scheduled_at":
        ordered = ordered.nulls_last()
    tie = col(Post.id).desc() if descending else col(Post.id).asc()
    return [ordered, tie]


def local_to_utc(local_text: str, timezone: str, *, field: str = "scheduled_at") -> datetime:
    """The UTC instant of a wall-clock time someone typed in `timezone` ("2026-12-01 09:30").

    A time the clocks skip is refused; one that happens twice means the first occurrence.
    """
    return timefmt.to_utc(timefmt.parse_local(local_text, field=field), timezone, field=field)

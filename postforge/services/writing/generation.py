"""Generating a post: one credit reserved, the provider streamed, the credit kept or refunded.

The flow, for the generate page (and any other door):

1. `start` (one short transaction, committed by the caller) checks the member may write posts,
   validates the inputs, builds the request for the platform's length limit and the chosen brand,
   and reserves one credit with the request id as idempotency key — a double click or a retried
   request spends once. Not enough credits → `InsufficientCredits`.
2. `run` streams the provider outside any database transaction, under one rule: **text
   delivered = credit kept**. The reservation is committed just before the first usable text
   (any non-blank post text) is handed on, so the text never travels ahead of the charge. From
   then on the text is the person's, whatever happens: a post that falls short (over the
   limit, too few hashtags, no best time) or stops half-way (a broken or stalled stream, a
   garbled ending, an unexpected error) ends in `GenerationDone` with what arrived and a
   `warning` saying what to check. Only when no usable text was delivered (rate limit,
   overload, timeout or broken stream before any text, an empty answer, a tab closed before
   the first word) is the credit refunded, and `GenerationFailed` carries the reason and the
   balance after the refund. The caller keeps the user's inputs as typed.
3. `save_generated` turns the (possibly edited) text into a draft or a scheduled post through
   `posts.create_post`, with the generation's details in the post's meta.

`refund_stale_reservations` returns credits held by generations whose process died before any
text was delivered (the housekeeping beat task calls it); a delivered generation is already
committed, so the sweep leaves it spent — the same rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from postforge.ai.base import (
    BEST_TIME_PATTERN,
    LANGUAGES,
    TONES,
    WEEKDAYS,
    Finished,
    GeneratedPost,
    GenerationError,
    GenerationRequest,
    MalformedOutput,
    PostGenerator,
    Progress,
    length_problems,
    normalize_hashtag,
)
from postforge.db import session_scope
from postforge.models import CreditTransaction, Platform, TransactionType, utcnow
from postforge.platforms.rules import rules_for
from postforge.services.content import brands, posts
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import Conflict, ServiceError, ValidationFailed
from postforge.services.ledger import credits
from postforge.services.tenancy import workspaces

log = logging.getLogger(__name__)

TOPIC_MAX = 500
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# A reservation still open after this long belongs to a generation that can no longer finish.
STALE_RESERVATION_AGE = timedelta(minutes=15)
STALE_SCAN_WINDOW = timedelta(days=2)
UNEXPECTED_FAILURE = "Something went wrong while writing the post."
STOPPED_EARLY = "the AI stopped before finishing the post, so it may be cut off"


class GenerationFailed(ServiceError):
    """The provider failed; the credit was refunded (`balance` is after the refund, None if unknown)."""

    code = "generation_failed"

    def __init__(self, message: str, *, balance: int | None, kind: str, retryable: bool = True):
        super().__init__(message)
        self.balance = balance
        self.kind = kind
        self.retryable = retryable


@dataclass(frozen=True)
class GenerationTicket:
    """A reserved credit and the request it pays for; what `run` needs, with no database object."""

    reservation_id: int
    workspace_id: int
    user_id: int
    request: GenerationRequest
    balance: int  # after the reservation
    brand_id: int | None


@dataclass(frozen=True)
class GenerationDone:
    post: GeneratedPost
    balance: int
    warning: str = ""  # what to check before using the post ('' when nothing is wrong)


@dataclass(frozen=True)
class PlatformChoice:
    value: str
    label: str
    max_chars: int


def platform_choices() -> list[PlatformChoice]:
    choices = []
    for platform in Platform:
        rules = rules_for(platform)
        choices.append(PlatformChoice(value=platform.value, label=rules.label, max_chars=rules.max_chars))
    return choices


def _clean_topic(topic: object) -> str:
    value = " ".join(str(topic or "").split())
    if not value:
        raise ValidationFailed("Say what the post should be about.", field="topic")
    if len(value) > TOPIC_MAX:
        raise ValidationFailed(f"Keep the topic to {TOPIC_MAX} characters.", field="topic")
    return value


def _clean_tone(tone: object) -> str:
    value = str(tone or "").strip().capitalize()
    if value not in TONES:
        raise ValidationFailed(f"Choose a tone: {', '.join(TONES)}.", field="tone")
    return value


def _clean_language(language: object) -> str:
    value = str(language or "").strip().lower()
    if value not in LANGUAGES:
        raise ValidationFailed(f"Choose a language: {', '.join(LANGUAGES.values())}.", field="language")
    return value


def _clean_platform(platform: object) -> Platform:
    try:
        return Platform(str(platform or "").strip().lower())
    except ValueError:
        raise ValidationFailed("Choose the platform the post is for.", field="platform") from None


def start(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    request_id: str,
    topic: str,
    tone: str,
    language: str,
    platform: str,
    brand_id: int | None = None,
    provider: str = "",
) -> GenerationTicket:
    """Validate the inputs and reserve one credit; the caller commits before running the provider."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    if not isinstance(request_id, str) or not REQUEST_ID_PATTERN.match(request_id):
        raise ValidationFailed(
            "This generation request has no valid id; reload the page.", field="request_id"
        )
    clean_topic = _clean_topic(topic)
    clean_tone = _clean_tone(tone)
    clean_language = _clean_language(language)
    clean_platform = _clean_platform(platform)
    brand = (
        brands.get_brand(session, actor_id=actor_id, workspace_id=workspace_id, brand_id=brand_id)
        if brand_id
        else None
    )
    rules = rules_for(clean_platform)
    request = GenerationRequest(
        topic=clean_topic,
        tone=clean_tone,
        language=clean_language,
        platform=clean_platform.value,
        platform_label=rules.label,
        max_chars=rules.max_chars,
        brand=brands.context_of(brand) if brand else None,
        count=rules.count,
    )
    entry = credits.reserve(
        session,
        user_id=actor_id,
        workspace_id=workspace_id,
        description=f"AI generation: {clean_topic[:80]}",
        idempotency_key=f"generation:{workspace_id}:{request_id}",
        meta={"request_id": request_id, "platform": clean_platform.value, "provider": provider},
    )
    if entry.replayed:
        raise Conflict("This generation was already started once; its credit was not taken twice.")
    return GenerationTicket(
        reservation_id=entry.id,
        workspace_id=workspace_id,
        user_id=actor_id,
        request=request,
        balance=entry.balance_after,
        brand_id=brand.id if brand else None,
    )


def _refund(ticket: GenerationTicket, reason: str, engine: Engine | None) -> int | None:
    try:
        with session_scope(engine) as session:
            return credits.refund_reservation(
                session, ticket.reservation_id, reason=reason[:200]
            ).balance_after
    except Exception:
        # The housekeeping sweep refunds it later (refund_stale_reservations).
        log.exception("Could not refund generation reservation %s", ticket.reservation_id)
        return None


def _commit(ticket: GenerationTicket, engine: Engine | None) -> None:
    with session_scope(engine) as session:
        credits.commit_reservation(session, ticket.reservation_id)


async def _commit_before_delivery(ticket: GenerationTicket, engine: Engine | None) -> None:
    """Mark the credit spent before any text is handed on; GenerationFailed when that fails.

    A reservation left open would be refunded by the sweep later, so text is never delivered
    on an open one: if the commit fails (the database is down, the sweep already refunded it),
    nothing is shown and the credit comes back.
    """
    try:
        await asyncio.shield(asyncio.to_thread(_commit, ticket, engine))
    except Exception as error:
        log.exception("Could not commit generation reservation %s", ticket.reservation_id)
        balance = await _refund_shielded(ticket, UNEXPECTED_FAILURE, engine)
        raise GenerationFailed(
            _refunded_message(f"{UNEXPECTED_FAILURE} Try again.", balance), balance=balance, kind="error"
        ) from error


async def _refund_shielded(ticket: GenerationTicket, reason: str, engine: Engine | None) -> int | None:
    return await asyncio.shield(asyncio.to_thread(_refund, ticket, reason, engine))


def _refunded_message(message: str, balance: int | None) -> str:
    if balance is None:
        return f"{message} Your credit will be refunded within a few minutes."
    return f"{message} Your credit was refunded."


def _usable(text: str | None) -> bool:
    return bool(text and text.strip())


def _stopped_early(delivered: str, request: GenerationRequest, generator: PostGenerator) -> GeneratedPost:
    """The post as far as it arrived, when the provider failed after usable text."""
    content = delivered.strip()
    return GeneratedPost(
        content=content,
        hashtags=(),
        best_time="",
        best_time_reason="",
        sample=generator.sample,
        provider=generator.name,
        problems=(STOPPED_EARLY, *length_problems(content, request)),
    )


def _warning(post: GeneratedPost) -> str:
    if not post.problems:
        return ""
    return (
        f"Check this post before using it: {'; '.join(post.problems)}. "
        "The text arrived, so its credit was used: edit it here, or generate again."
    )


async def run(
    ticket: GenerationTicket, generator: PostGenerator, *, engine: Engine | None = None
) -> AsyncIterator[Progress | GenerationDone]:
    """Stream the provider for a reserved ticket: Progress events, then one GenerationDone.

    Text delivered = credit kept (see the module's docstring): the credit is committed before
    the first usable text is yielded, and a failure after that still ends in GenerationDone with
    the text that arrived and a warning. GenerationFailed (credit refunded) only when no usable
    text was delivered; a consumer that stops listening before any text gets the credit back.
    """
    post: GeneratedPost | None = None
    failure: GenerationError | None = None
    delivered = ""  # the post text handed on so far
    committed = False
    try:
        async with contextlib.aclosing(generator.stream(ticket.request)) as events:
            async for event in events:
                if isinstance(event, Progress):
                    if _usable(event.text) and not committed:
                        await _commit_before_delivery(ticket, engine)
                        committed = True
                    delivered = event.text
                    yield event
                elif isinstance(event, Finished):
                    post = event.post
                    break
    except GenerationFailed:
        raise
    except GenerationError as error:
        failure = error
    except (GeneratorExit, asyncio.CancelledError):
        if not committed:
            await _refund_shielded(ticket, "The generation was cancelled.", engine)
        raise
    except Exception as error:
        log.exception("Generation %s failed unexpectedly", ticket.reservation_id)
        failure = GenerationError(f"{UNEXPECTED_FAILURE} Try again.", detail=repr(error)[:1000])
    if post is not None and not _usable(post.content):
        post, failure = None, MalformedOutput("The AI answered without any post text. Try again.")
    if post is None:
        failure = failure or MalformedOutput("The AI stopped without finishing the post. Try again.")
        if not _usable(delivered):
            log.info("Generation %s failed (%s): %s", ticket.reservation_id, failure.kind, failure.detail)
            balance = await _refund_shielded(ticket, failure.message, engine)
            raise GenerationFailed(
                _refunded_message(failure.message, balance),
                balance=balance,
                kind=failure.kind,
                retryable=failure.retryable,
            ) from failure
        log.info("Generation %s stopped early (%s): %s", ticket.reservation_id, failure.kind, failure.detail)
        post = _stopped_early(delivered, ticket.request, generator)
    if not committed:
        await _commit_before_delivery(ticket, engine)
    yield GenerationDone(post=post, balance=ticket.balance, warning=_warning(post))


# --- After generation -------------------------------------------------------------------------


def compose_text(content: str, hashtags: Sequence[str], *, include_hashtags: bool = True) -> str:
    """The text as it will be posted: the post, then its hashtags on a line of their own."""
    text = (content or "").strip()
    tags = " ".join(tag for tag in (normalize_hashtag(t) for t in hashtags) if tag)
    if include_hashtags and tags:
        return f"{text}\n\n{tags}" if text else tags
    return text


def count_text(platform: str, text: str) -> tuple[int, int]:
    """(characters as the platform counts them, the platform's limit)."""
    rules = rules_for(_clean_platform(platform))
    return rules.count(text or ""), rules.max_chars


def next_best_time(best_time: str, timezone: str, *, now: datetime | None = None) -> str:
    """The next "Tuesday 09:30" after now in the zone, as a local "YYYY-MM-DDTHH:MM"; '' if unknown."""
    match = BEST_TIME_PATTERN.match(best_time or "")
    if not match:
        return ""
    weekday = WEEKDAYS.index(match.group(1))
    hour, minute = (int(part) for part in best_time.split(" ")[1].split(":"))
    local_now = timefmt.to_local(now or utcnow(), timezone)
    candidate = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    candidate += timedelta(days=(weekday - candidate.weekday()) % 7)
    if candidate <= local_now:
        candidate += timedelta(days=7)
    return candidate.strftime("%Y-%m-%dT%H:%M")


def save_generated(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    content: str,
    hashtags: Sequence[str] = (),
    best_time: str = "",
    best_time_reason: str = "",
    tone: str = "",
    language: str = "",
    platform: str = "",
    sample: bool = False,
    brand_id: int | None = None,
    scheduled_at: datetime | None = None,
    timezone: str = "UTC",
    account_ids: Sequence[int] = (),
) -> posts.PostView:
    """Save generated (and possibly edited) text as a draft, or a scheduled post when a time is given."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    if not (content or "").strip():
        raise ValidationFailed("The post is empty: generate or write some text first.", field="content")
    meta = {
        "hashtags": [tag for tag in (normalize_hashtag(t) for t in hashtags) if tag],
        "best_time": best_time,
        "best_time_reason": best_time_reason,
        "tone": tone,
        "language": language,
        "platform": platform,
        "ai_generated": True,
        "sample": bool(sample),
    }
    return posts.create_post(
        session,
        actor_id=actor_id,
        workspace_id=workspace_id,
        content=content,
        scheduled_at=scheduled_at,
        timezone=timezone,
        account_ids=account_ids,
        brand_id=brand_id,
        meta=meta,
    )


def refund_stale_reservations(session: Session, *, older_than: timedelta = STALE_RESERVATION_AGE) -> int:
    """Refund generation reservations left open by a process that died mid-generation; how many."""
    now = utcnow()
    rows = session.exec(
        select(CreditTransaction.id, CreditTransaction.meta).where(
            CreditTransaction.type == TransactionType.GENERATION,
            col(CreditTransaction.created_at) < now - older_than,
            col(CreditTransaction.created_at) > now - older_than - STALE_SCAN_WINDOW,
        )
    ).all()
    refunded = 0
    for reservation_id, meta in rows:
        if (meta or {}).get("state", credits.RESERVED) != credits.RESERVED:
            continue
        try:
            with session.begin_nested():
                credits.refund_reservation(session, reservation_id, reason="The generation did not finish.")
            refunded += 1
        except (ServiceError, sa.exc.SQLAlchemyError):
            log.exception("Could not refund stale reservation %s", reservation_id)
    return refunded

"""The one interface every post generator implements, and what it returns or raises.

A provider turns a `GenerationRequest` into a stream of events: `Progress` while the post text
grows (the whole text so far, for the live preview) and exactly one `Finished` carrying the
checked `GeneratedPost` at the end. A post whose text arrived but falls short of the request
(too long, too few hashtags, no best time, cut off) is still a post: what is wrong is listed in
its `problems`. A failure with no post text raises a `GenerationError` whose `message` is fit to
show the person who asked; the generation service decides what the credit does (text delivered =
credit kept, see `services/writing/generation.py`).

Providers do no database work and know nothing of credits: the generation service owns those.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

TONES = ("Professional", "Witty", "Casual", "Urgent", "Inspirational")
LANGUAGES: dict[str, str] = {"en": "English", "de": "German", "fr": "French", "es": "Spanish"}
MIN_HASHTAGS, MAX_HASHTAGS = 3, 10
MAX_HASHTAG_CHARS = 60
MAX_BEST_TIME_REASON_CHARS = 240
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# "Tuesday 09:30": a weekday and a 24-hour time in the reader's local time.
BEST_TIME_PATTERN = re.compile(r"^(" + "|".join(WEEKDAYS) + r") ([01]\d|2[0-3]):[0-5]\d$")
_HASHTAG_BODY = re.compile(r"^[^\s#]+$")


@dataclass(frozen=True)
class BrandContext:
    """What a brand profile tells the writer; empty fields are left out of the prompt."""

    name: str
    tone_of_voice: str = ""
    target_audience: str = ""
    sample_posts: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenerationRequest:
    topic: str
    tone: str
    language: str  # a key of LANGUAGES
    platform: str  # a Platform value
    platform_label: str
    max_chars: int
    brand: BrandContext | None = None
    # How the target platform counts characters (graphemes, weighted URLs, …); len by default.
    count: Callable[[str], int] = field(default=len, compare=False, repr=False)

    @property
    def language_name(self) -> str:
        return LANGUAGES.get(self.language, self.language)


@dataclass(frozen=True)
class GeneratedPost:
    content: str
    hashtags: tuple[str, ...]
    best_time: str  # "Tuesday 09:30", the reader's local time
    best_time_reason: str
    sample: bool  # True: the offline generator wrote it, no AI was used
    provider: str = ""
    model: str = ""
    # What falls short of the request ("the hashtags are missing", …): shown as a warning, the
    # text is kept for the person to fix.
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Progress:
    """The post text so far (not a delta): the preview just shows it."""

    text: str


@dataclass(frozen=True)
class Finished:
    post: GeneratedPost


GenerationEvent = Progress | Finished


@runtime_checkable
class PostGenerator(Protocol):
    name: str
    sample: bool

    def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        """Progress events while the text grows, then one Finished; GenerationError on failure."""
        ...


async def generate(provider: PostGenerator, request: GenerationRequest) -> GeneratedPost:
    """Run a provider to the end and return its post (for callers that need no live preview)."""
    async for event in provider.stream(request):
        if isinstance(event, Finished):
            return event.post
    raise MalformedOutput("The generator stopped without producing a post.")


# --- Errors ---------------------------------------------------------------------------------------


class GenerationError(Exception):
    """A generation failed; `message` is fit to show the user. `retryable`: trying again may work."""

    kind = "error"
    retryable = True

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail  # for logs: what the provider said, never shown to the user


class ProviderRateLimited(GenerationError):
    kind = "rate_limited"

    def __init__(self, retry_after: int | None = None, *, detail: str = "") -> None:
        self.retry_after = retry_after
        wait = f"in {retry_after} seconds" if retry_after else "in a minute"
        super().__init__(
            f"The AI service is receiving too many requests right now. Try again {wait}.", detail=detail
        )


class ProviderOverloaded(GenerationError):
    kind = "overloaded"

    def __init__(self, *, detail: str = "") -> None:
        super().__init__(
            "The AI service is overloaded at the moment. Try again in a little while.", detail=detail
        )


class ProviderTimeout(GenerationError):
    kind = "timeout"

    def __init__(self, *, detail: str = "") -> None:
        super().__init__("The AI service took too long to answer. Try again.", detail=detail)


class StreamInterrupted(GenerationError):
    kind = "interrupted"

    def __init__(self, *, detail: str = "") -> None:
        super().__init__("The AI service stopped in the middle of the post. Try again.", detail=detail)


class MalformedOutput(GenerationError):
    """The provider answered, but with no post text to keep (none at all, or unreadable)."""

    kind = "malformed"


class ProviderUnavailable(GenerationError):
    kind = "unavailable"

    def __init__(self, message: str = "", *, detail: str = "", retryable: bool = True) -> None:
        super().__init__(message or "The AI service could not be reached. Try again shortly.", detail=detail)
        self.retryable = retryable


# --- Validation of a provider's answer ------------------------------------------------------------


def normalize_hashtag(raw: object) -> str:
    """ "#Launch" from "launch", "#launch" or " #Launch "; '' for something that is no hashtag."""
    if not isinstance(raw, str):
        return ""
    tag = raw.strip().lstrip("#")
    if not tag or not _HASHTAG_BODY.match(tag) or len(tag) > MAX_HASHTAG_CHARS:
        return ""
    return f"#{tag}"


def length_problems(content: str, request: GenerationRequest) -> list[str]:
    """["the post is N characters, over X's limit of M"] when `content` is too long for the platform."""
    length = request.count(content)
    if length <= request.max_chars:
        return []
    return [f"the post is {length} characters, over {request.platform_label}'s limit of {request.max_chars}"]


def validate_output(
    data: Mapping[str, Any] | None,
    request: GenerationRequest,
    *,
    sample: bool,
    provider: str,
    model: str = "",
) -> GeneratedPost:
    """A GeneratedPost from a provider's raw fields, with whatever falls short listed in `problems`.

    The text is what the person pays for: an answer without any raises MalformedOutput (nothing
    usable arrived). Anything else wrong (the length, the hashtags, the best time) is a problem
    the person can see and fix; the fields that are fine are kept.
    """
    if not isinstance(data, Mapping):
        raise MalformedOutput("The AI answered without a post. Try again.")
    content = data.get("content")
    content = content.strip() if isinstance(content, str) else ""
    if not content:
        raise MalformedOutput(
            "The AI answered without any post text. Try again.", detail=repr(dict(data))[:2000]
        )
    problems = length_problems(content, request)
    raw_tags = data.get("hashtags")
    tags: list[str] = []
    if not isinstance(raw_tags, list | tuple):
        problems.append("the hashtags are missing")
    else:
        seen: set[str] = set()
        for raw in raw_tags:
            tag = normalize_hashtag(raw)
            if tag and tag.casefold() not in seen:
                seen.add(tag.casefold())
                tags.append(tag)
        if not MIN_HASHTAGS <= len(tags) <= MAX_HASHTAGS:
            problems.append(f"it gave {len(tags)} usable hashtags, not {MIN_HASHTAGS} to {MAX_HASHTAGS}")
    best_time = data.get("best_time")
    best_time = " ".join(best_time.split()) if isinstance(best_time, str) else ""
    reason = data.get("best_time_reason")
    reason = " ".join(reason.split()) if isinstance(reason, str) else ""
    if not BEST_TIME_PATTERN.match(best_time):
        problems.append("the best time to post is missing or not like 'Tuesday 09:30'")
        best_time, reason = "", ""  # a reason for no time says nothing
    elif not reason:
        problems.append("the reason for the best time is missing")
    elif len(reason) > MAX_BEST_TIME_REASON_CHARS:
        reason = reason[: MAX_BEST_TIME_REASON_CHARS - 1].rstrip() + "…"
    return GeneratedPost(
        content=content,
        hashtags=tuple(tags),
        best_time=best_time,
        best_time_reason=reason,
        sample=sample,
        provider=provider,
        model=model,
        problems=tuple(problems),
    )

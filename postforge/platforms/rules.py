"""Each platform's text and media rules: one function per platform, one lookup for all callers.

The composer's live counters, the posts service (before anything is scheduled), CSV import, the
API and the publishing worker all call `rules_for(platform)` / `text_problems(...)`, so a post
that passes here is one the platform accepts, and the count the user sees is the platform's.

What each platform counts (see `text_counting.py` for the algorithms):

| platform  | limit   | counted as                                                           | media            |
|-----------|---------|----------------------------------------------------------------------|------------------|
| X         | 280     | twitter-text v3 weighted length (URL 23, emoji 2, CJK 2, NFC)        | 4 images         |
| Bluesky   | 300     | graphemes (and at most 3,000 UTF-8 bytes)                            | 4 images         |
| Mastodon  | 500*    | graphemes, http(s) URL 23, `@user@domain` as `@user` (*per instance) | 4                |
| LinkedIn  | 3,000   | UTF-16 code units (what LinkedIn's composer counts)                  | 20 (multi-image) |
| Threads   | 500     | characters, an emoji counting its UTF-8 bytes (Threads API docs)     | 20 (carousel)    |
| Instagram | 2,200   | UTF-16 code units; at most 30 hashtags; needs ≥ 1 image or video     | 10 (carousel)    |
| Facebook  | 63,206  | UTF-16 code units                                                    | 10 photos        |
| YouTube   | 5,000   | UTF-8 bytes of the description (no `<` or `>`); title = first line   | 1 video, needed  |
| TikTok    | 2,200   | UTF-16 code units (TikTok's caption limit)                           | 1 video, needed  |
| Sandbox   | 500     | graphemes                                                            | 4                |

Where a platform does not document its unit (LinkedIn, Instagram, Facebook), UTF-16 code units
are used: they are never fewer than the characters a person sees, so a post that passes here is
never refused for length there.

YouTube and TikTok take videos only: a text-only post is refused here, so the composer warns before
it is scheduled. A YouTube video's title is the text's first line (cut to 100 characters) and its
description the whole text; YouTube counts the description's limit in bytes and refuses `<` and `>`
in both. Their formats, sizes and durations are in `video_rules.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from postforge.models.social import Platform
from postforge.platforms import text_counting as tc

BLUESKY_MAX_BYTES = 3000
INSTAGRAM_MAX_HASHTAGS = 30
YOUTUBE_TITLE_MAX = 100
YOUTUBE_FORBIDDEN = frozenset("<>")
THREADS_MAX_LINKS = 5
# Past this many characters a text is too long for every platform (Facebook's 63,206 is the highest
# fixed limit) and the posts service refuses it: it is no longer counted exactly (its length in
# code points stands in), so however much is pasted into a composer, counting work stays bounded.
MAX_TEXT_CHARS = 65_000


@dataclass(frozen=True)
class TextRules:
    platform: str
    label: str
    max_chars: int
    # Counts a text as the platform does; call `count`, which stops counting past MAX_TEXT_CHARS.
    counter: Callable[[str], int]
    max_media: int
    requires_media: bool
    max_media_note: str
    # What `count` counts, in a few words for the composer ("weighted characters", "graphemes", …).
    unit: str = "characters"
    # Checks beyond the length (byte caps, hashtag limits); each returns a message or "".
    extra_checks: tuple[Callable[[str], str], ...] = ()
    # What to say when a post without media is meant for a platform that needs some.
    needs_media_message: str = ""

    def count(self, text: str) -> int:
        """The length the platform would see; a text past MAX_TEXT_CHARS gives its plain length."""
        if len(text) > MAX_TEXT_CHARS:
            return len(text)
        return self.counter(text)


def x_rules() -> TextRules:
    return TextRules(
        platform=Platform.X.value,
        label="X",
        max_chars=280,
        counter=tc.x_weighted_length,
        max_media=4,
        requires_media=False,
        max_media_note="Up to 4 images, or 1 GIF or video (X media upload docs).",
        unit="weighted characters",
    )


def bluesky_rules() -> TextRules:
    def byte_cap(text: str) -> str:
        size = tc.utf8_bytes(text)
        if size > BLUESKY_MAX_BYTES:
            return f"Bluesky allows at most {BLUESKY_MAX_BYTES:,} bytes of text; this is {size:,}."
        return ""

    return TextRules(
        platform=Platform.BLUESKY.value,
        label="Bluesky",
        max_chars=300,
        counter=tc.graphemes,
        max_media=4,
        requires_media=False,
        max_media_note="Up to 4 images, or 1 video (app.bsky.embed.images allows 4).",
        unit="characters",
        extra_checks=(byte_cap,),
    )


def mastodon_rules(instance_limit: int | None = None) -> TextRules:
    limit = instance_limit if instance_limit and instance_limit > 0 else 500
    return TextRules(
        platform=Platform.MASTODON.value,
        label="Mastodon",
        max_chars=limit,
        counter=tc.mastodon_length,
        max_media=4,
        requires_media=False,
        max_media_note="Up to 4 attachments (the instance's configuration.statuses.max_media_attachments).",
        unit="characters",
    )


def linkedin_rules() -> TextRules:
    return TextRules(
        platform=Platform.LINKEDIN.value,
        label="LinkedIn",
        max_chars=3000,
        counter=tc.utf16_length,
        max_media=20,
        requires_media=False,
        max_media_note=(
            "Up to 20 images (LinkedIn Posts API MultiImage: 2-20 images; the app once allowed 9), or 1 video."
        ),
        unit="characters",
    )


def threads_rules() -> TextRules:
    def link_cap(text: str) -> str:
        links = {span.text.lower() for span in tc.find_urls(text)}
        if len(links) > THREADS_MAX_LINKS:
            return f"Threads allows at most {THREADS_MAX_LINKS} links in a post; this has {len(links)}."
        return ""

    return TextRules(
        platform=Platform.THREADS.value,
        label="Threads",
        max_chars=500,
        counter=tc.threads_length,
        max_media=20,
        requires_media=False,
        max_media_note="Up to 20 images or videos as a carousel (Threads API carousel posts: 2-20 items).",
        unit="characters (emoji count their bytes)",
        extra_checks=(link_cap,),
    )


def instagram_rules() -> TextRules:
    def hashtag_cap(text: str) -> str:
        count = len(tc.hashtags(text))
        if count > INSTAGRAM_MAX_HASHTAGS:
            return f"Instagram allows at most {INSTAGRAM_MAX_HASHTAGS} hashtags; this has {count}."
        return ""

    return TextRules(
        platform=Platform.INSTAGRAM.value,
        label="Instagram",
        max_chars=2200,
        counter=tc.utf16_length,
        max_media=10,
        requires_media=True,
        max_media_note="1 image or video, or a carousel of up to 10 (Instagram content publishing API).",
        unit="characters",
        extra_checks=(hashtag_cap,),
    )


def facebook_rules() -> TextRules:
    return TextRules(
        platform=Platform.FACEBOOK.value,
        label="Facebook",
        max_chars=63206,
        counter=tc.utf16_length,
        max_media=10,
        requires_media=False,
        max_media_note="Up to 10 photos, or 1 video, on a Page post.",
        unit="characters",
    )


def youtube_rules() -> TextRules:
    def needs_title(text: str) -> str:
        return (
            "" if text.strip() else "YouTube needs a title: write at least one line (it becomes the title)."
        )

    def no_angle_brackets(text: str) -> str:
        if YOUTUBE_FORBIDDEN.intersection(text):
            return "YouTube doesn't allow < or > in a video's title or description; remove them."
        return ""

    return TextRules(
        platform=Platform.YOUTUBE.value,
        label="YouTube",
        max_chars=5000,
        counter=tc.utf8_bytes,
        max_media=1,
        requires_media=True,
        max_media_note="1 video (YouTube Data API videos.insert); the first line is its title.",
        unit="bytes (UTF-8)",
        extra_checks=(needs_title, no_angle_brackets),
        needs_media_message="YouTube posts are videos: add one video (text-only posts can't go to YouTube).",
    )


def tiktok_rules() -> TextRules:
    return TextRules(
        platform=Platform.TIKTOK.value,
        label="TikTok",
        max_chars=2200,
        counter=tc.utf16_length,
        max_media=1,
        requires_media=True,
        max_media_note="1 video (TikTok Content Posting API, direct post).",
        unit="characters",
        needs_media_message="TikTok posts are videos: add one video (text-only posts can't go to TikTok).",
    )


def sandbox_rules() -> TextRules:
    return TextRules(
        platform=Platform.SANDBOX.value,
        label="Sandbox",
        max_chars=500,
        counter=tc.graphemes,
        max_media=4,
        requires_media=False,
        max_media_note="Up to 4 (the built-in sandbox feed).",
        unit="characters",
    )


_RULES: dict[Platform, Callable[[], TextRules]] = {
    Platform.X: x_rules,
    Platform.BLUESKY: bluesky_rules,
    Platform.LINKEDIN: linkedin_rules,
    Platform.THREADS: threads_rules,
    Platform.INSTAGRAM: instagram_rules,
    Platform.FACEBOOK: facebook_rules,
    Platform.YOUTUBE: youtube_rules,
    Platform.TIKTOK: tiktok_rules,
    Platform.SANDBOX: sandbox_rules,
}
_FIXED = {platform: make() for platform, make in _RULES.items()}


def _platform(platform: str | Platform) -> Platform:
    try:
        return Platform(str(platform).strip().lower())
    except ValueError:
        raise ValueError(
            f"unknown platform {platform!r}; expected one of {[p.value for p in Platform]}"
        ) from None


def rules_for(platform: str | Platform, *, instance_limit: int | None = None) -> TextRules:
    """The rules of `platform`; `instance_limit` is a Mastodon instance's own character limit."""
    which = _platform(platform)
    if which is Platform.MASTODON:
        return mastodon_rules(instance_limit)
    return _FIXED[which]


@dataclass(frozen=True)
class TextCheck:
    """A text measured for one platform: what the composer's counter shows and what stops it."""

    count: int
    max_chars: int
    unit: str
    problems: tuple[str, ...]

    @property
    def over(self) -> bool:
        return self.count > self.max_chars


def check_text(
    platform: str | Platform, text: str, *, media_count: int = 0, instance_limit: int | None = None
) -> TextCheck:
    """Count `text` for `platform` once and say what stops it (with `media_count` attachments)."""
    rules = rules_for(platform, instance_limit=instance_limit)
    text = text or ""
    count = rules.count(text)
    problems: list[str] = []
    if len(text) > MAX_TEXT_CHARS:
        problems.append(
            f"Too long to post anywhere: at most {MAX_TEXT_CHARS:,} characters; this has {len(text):,}."
        )
    else:
        problems.extend(_text_problems(rules, text, count, media_count))
    if rules.requires_media and media_count < 1:
        problems.append(rules.needs_media_message or f"{rules.label} posts need at least one image or video.")
    if media_count > rules.max_media:
        problems.append(
            f"{rules.label} allows at most {rules.max_media} attachment{'' if rules.max_media == 1 else 's'}; "
            f"this post has {media_count}."
        )
    return TextCheck(count=count, max_chars=rules.max_chars, unit=rules.unit, problems=tuple(problems))


def text_problems(
    platform: str | Platform, text: str, *, media_count: int = 0, instance_limit: int | None = None
) -> list[str]:
    """What stops `text` (with `media_count` attachments) from going out on `platform`; [] if nothing."""
    return list(check_text(platform, text, media_count=media_count, instance_limit=instance_limit).problems)


def youtube_title(text: str) -> str:
    """A YouTube title from a post: its first non-blank line, cut at a word to 100 characters."""
    line = next((line.strip() for line in (text or "").splitlines() if line.strip()), "")
    if len(line) <= YOUTUBE_TITLE_MAX:
        return line
    cut = line[: YOUTUBE_TITLE_MAX - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > YOUTUBE_TITLE_MAX // 2 else cut).rstrip() + "…"


def _text_problems(rules: TextRules, text: str, length: int, media_count: int) -> list[str]:
    problems: list[str] = []
    if not text.strip() and media_count == 0:
        problems.append(f"Write something for {rules.label}: the text is empty.")
    if length > rules.max_chars:
        over = length - rules.max_chars
        problems.append(
            f"Too long for {rules.label}: {length:,} of {rules.max_chars:,} {rules.unit} "
            f"({over:,} over). Shorten it or write a version for {rules.label}."
        )
    for check in rules.extra_checks:
        message = check(text)
        if message:
            problems.append(message)
    return problems

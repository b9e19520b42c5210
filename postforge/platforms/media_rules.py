"""Each platform's media rules, next to its text rules (`rules.py`), and one checker for all callers.

`check_media(platform, items)` says, in words a person can act on, what stops a post's images and
videos from going out on a platform: a format it does not take, too many files, a file too big,
an aspect ratio or a duration outside its range, alt text too long. The publishing engine calls
it before an adapter runs, so a post the platform would refuse is refused here with a clear
message instead of after an upload.

Where a safe fix exists (a PNG for Instagram, which takes only JPEG; an image over the size cap)
the problem carries an `offer` naming it. The checker never applies a fix: changing someone's
image is their call.

| platform  | images                      | video                         | per post                          |
|-----------|-----------------------------|-------------------------------|-----------------------------------|
| X         | JPEG/PNG/GIF/WebP ≤ 5 MB     | MP4/MOV ≤ 512 MB, 0.5 s-140 s | 4 images, or 1 video              |
| LinkedIn  | JPEG/PNG/GIF ≤ 5 MB          | MP4 ≤ 500 MB, 3 s-30 min      | 1 image or video, or 2-20 images  |
| Bluesky   | JPEG/PNG/WebP/GIF ≤ 2 MB     | MP4 ≤ 50 MB, ≤ 3 min          | 4 images, or 1 video              |
| Mastodon  | JPEG/PNG/GIF/WebP ≤ 16 MB    | MP4/WebM/MOV ≤ 99 MB          | 4 images, or 1 video              |
| Instagram | JPEG ≤ 8 MB, 4:5-1.91:1      | MP4/MOV ≤ 300 MB, 3 s-15 min  | 1, or a carousel of 2-10          |
| Threads   | JPEG/PNG ≤ 8 MB, ≤ 10:1      | MP4/MOV ≤ 1 GB, ≤ 5 min       | 1, or a carousel of 2-20          |
| Facebook  | JPEG/PNG/GIF/WebP ≤ 10 MB    | MP4/MOV ≤ 1 GB, ≤ 240 min     | up to 10 photos, or 1 video       |

Sources: each platform's publishing docs as summarised in the media API notes. Where a platform
publishes no number (X's video length for non-premium accounts, Meta's alt-text lengths) the
smaller of the numbers in use is taken, so a post that passes here is not refused there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from postforge.models.social import Platform
from postforge.platforms.base import MediaItem

MB = 1_000_000
MiB = 1024 * 1024

JPEG, PNG, GIF, WEBP = "image/jpeg", "image/png", "image/gif", "image/webp"
MP4, MOV, WEBM = "video/mp4", "video/quicktime", "video/webm"
_FORMAT_NAMES = {JPEG: "JPEG", PNG: "PNG", GIF: "GIF", WEBP: "WebP", MP4: "MP4", MOV: "MOV", WEBM: "WebM"}


@dataclass(frozen=True)
class Range:
    """An inclusive range; `None` at either end means "no limit there"."""

    low: float | None = None
    high: float | None = None

    def holds(self, value: float) -> bool:
        return (self.low is None or value >= self.low - 1e-9) and (
            self.high is None or value <= self.high + 1e-9
        )


@dataclass(frozen=True)
class MediaRules:
    platform: str
    label: str
    image_types: frozenset[str]
    video_types: frozenset[str]
    max_images: int  # images in one post (a carousel or a multi-image post)
    max_videos: int  # videos in one post
    max_items: int  # files of any kind in one post
    mix: bool  # may images and videos share a post (a carousel)?
    max_image_bytes: int
    max_video_bytes: int
    image_aspect: Range = Range()  # width / height
    video_aspect: Range = Range()
    video_seconds: Range = Range()
    # A carousel's videos may have their own, shorter range (Instagram: 3-60 s).
    carousel_video_seconds: Range | None = None
    min_multi: int = 2  # a post with several files needs at least this many (carousel)
    alt_text_max: int = 1000
    alt_text_on_video: bool = True  # does the platform take alt text for a video?
    # Image formats the platform does not take but that convert to JPEG without loss of meaning.
    jpeg_convertible: frozenset[str] = frozenset()

    @property
    def accepted(self) -> frozenset[str]:
        return self.image_types | self.video_types


@dataclass(frozen=True)
class MediaOffer:
    """A safe fix PostForge can apply if the person agrees: never applied silently."""

    kind: Literal["convert_to_jpeg", "downscale"]
    description: str
    max_bytes: int | None = None  # for a downscale: the size to fit


@dataclass(frozen=True)
class MediaProblem:
    message: str
    media_id: int = 0  # which file (0: the post as a whole)
    offer: MediaOffer | None = None

    def __str__(self) -> str:
        return self.message


_RULES: dict[Platform, MediaRules] = {
    Platform.X: MediaRules(
        platform=Platform.X.value,
        label="X",
        image_types=frozenset({JPEG, PNG, GIF, WEBP}),
        video_types=frozenset({MP4, MOV}),
        max_images=4,
        max_videos=1,
        max_items=4,
        mix=False,
        max_image_bytes=5 * MB,
        max_video_bytes=512 * MB,
        video_aspect=Range(1 / 3, 3),
        # 20 minutes for some accounts, 140 s for every one: X re-checks at post time (403).
        video_seconds=Range(0.5, 140),
        alt_text_max=1000,
        alt_text_on_video=False,
    ),
    Platform.LINKEDIN: MediaRules(
        platform=Platform.LINKEDIN.value,
        label="LinkedIn",
        image_types=frozenset({JPEG, PNG, GIF}),
        video_types=frozenset({MP4}),
        max_images=20,
        max_videos=1,
        max_items=20,
        mix=False,
        max_image_bytes=5 * MB,
        max_video_bytes=500 * MB,
        video_aspect=Range(1 / 2.4, 2.4),
        video_seconds=Range(3, 30 * 60),
        alt_text_max=4086,
        alt_text_on_video=False,
        jpeg_convertible=frozenset({WEBP}),
    ),
    Platform.BLUESKY: MediaRules(
        platform=Platform.BLUESKY.value,
        label="Bluesky",
        image_types=frozenset({JPEG, PNG, WEBP, GIF}),
        video_types=frozenset({MP4}),
        max_images=4,
        max_videos=1,
        max_items=4,
        mix=False,
        max_image_bytes=2_000_000,  # app.bsky.embed.images maxSize
        # A video goes to the account's PDS as a blob: Bluesky's hosted PDSes take 50 MiB.
        max_video_bytes=50 * MiB,
        video_seconds=Range(None, 180),
        alt_text_max=2000,
    ),
    Platform.MASTODON: MediaRules(
        platform=Platform.MASTODON.value,
        label="Mastodon",
        image_types=frozenset({JPEG, PNG, GIF, WEBP}),
        video_types=frozenset({MP4, WEBM, MOV}),
        max_images=4,
        max_videos=1,
        max_items=4,
        mix=False,
        max_image_bytes=16 * MiB,
        max_video_bytes=99 * MiB,
        alt_text_max=1500,
    ),
    Platform.INSTAGRAM: MediaRules(
        platform=Platform.INSTAGRAM.value,
        label="Instagram",
        image_types=frozenset({JPEG}),
        video_types=frozenset({MP4, MOV}),
        max_images=10,
        max_videos=10,
        max_items=10,
        mix=True,
        max_image_bytes=8 * MB,
        max_video_bytes=300 * MB,
        image_aspect=Range(4 / 5, 1.91),
        video_aspect=Range(0.01, 10),
        video_seconds=Range(3, 15 * 60),
        carousel_video_seconds=Range(3, 60),
        alt_text_max=1000,
        alt_text_on_video=False,  # alt_text is taken on image posts only
        jpeg_convertible=frozenset({PNG, WEBP}),
    ),
    Platform.THREADS: MediaRules(
        platform=Platform.THREADS.value,
        label="Threads",
        image_types=frozenset({JPEG, PNG}),
        video_types=frozenset({MP4, MOV}),
        max_images=20,
        max_videos=20,
        max_items=20,
        mix=True,
        max_image_bytes=8 * MB,
        max_video_bytes=1000 * MB,
        image_aspect=Range(0.1, 10),
        video_seconds=Range(None, 5 * 60),
        alt_text_max=1000,
        jpeg_convertible=frozenset({WEBP}),
    ),
    Platform.FACEBOOK: MediaRules(
        platform=Platform.FACEBOOK.value,
        label="Facebook",
        image_types=frozenset({JPEG, PNG, GIF, WEBP}),
        video_types=frozenset({MP4, MOV}),
        max_images=10,
        max_videos=1,
        max_items=10,
        mix=False,
        max_image_bytes=10 * MB,
        max_video_bytes=1000 * MB,
        video_seconds=Range(1, 240 * 60),
        alt_text_max=1000,
        alt_text_on_video=False,
    ),
    Platform.SANDBOX: MediaRules(
        platform=Platform.SANDBOX.value,
        label="Sandbox",
        image_types=frozenset({JPEG, PNG, GIF, WEBP}),
        video_types=frozenset({MP4}),
        max_images=4,
        max_videos=1,
        max_items=4,
        mix=False,
        max_image_bytes=10 * MB,
        max_video_bytes=100 * MB,
        alt_text_max=1500,
    ),
}


def media_rules_for(platform: str | Platform) -> MediaRules:
    """The platform's media rules; ValueError for a name that is no platform, KeyError for a
    platform whose rules are not written down here."""
    try:
        which = Platform(str(platform).strip().lower())
    except ValueError:
        raise ValueError(f"unknown platform {platform!r}") from None
    return _RULES[which]


def is_video(item: MediaItem) -> bool:
    return item.mime_type.lower().startswith("video/")


def is_image(item: MediaItem) -> bool:
    return item.mime_type.lower().startswith("image/")


def check_media(platform: str | Platform, items: Sequence[MediaItem]) -> list[MediaProblem]:
    """What stops `items` from going out together on `platform`; [] when nothing does (or when
    no rules are written down here for the platform: its adapter then checks alone)."""
    try:
        rules = media_rules_for(platform)
    except KeyError:
        return []
    if not items:
        return []
    problems = _count_problems(rules, items)
    carousel = len(items) > 1
    for position, item in enumerate(items, start=1):
        problems.extend(_item_problems(rules, item, position, carousel=carousel))
    return problems


def _count_problems(rules: MediaRules, items: Sequence[MediaItem]) -> list[MediaProblem]:
    label = rules.label
    videos = sum(1 for item in items if is_video(item))
    images = sum(1 for item in items if is_image(item))
    problems: list[MediaProblem] = []
    if len(items) > rules.max_items:
        problems.append(
            MediaProblem(
                f"{label} takes at most {rules.max_items} files in a post; this one has {len(items)}."
            )
        )
    if videos and images and not rules.mix:
        problems.append(
            MediaProblem(
                f"{label} can't mix images and videos in one post; post the video on its own or drop it."
            )
        )
    elif videos > rules.max_videos:
        problems.append(
            MediaProblem(
                f"{label} takes {_count(rules.max_videos, 'video')} per post; this one has {videos}."
            )
        )
    if images > rules.max_images and len(items) <= rules.max_items:
        problems.append(
            MediaProblem(f"{label} takes at most {rules.max_images} images; this post has {images}.")
        )
    if 1 < len(items) < rules.min_multi:
        problems.append(MediaProblem(f"A {label} carousel needs at least {rules.min_multi} files."))
    return problems


def _item_problems(
    rules: MediaRules, item: MediaItem, position: int, *, carousel: bool
) -> list[MediaProblem]:
    label, which = rules.label, _which(item, position, alone=not carousel)
    mime = item.mime_type.lower()
    problems: list[MediaProblem] = []
    if mime not in rules.accepted:
        offer = None
        if mime in rules.jpeg_convertible:
            offer = MediaOffer("convert_to_jpeg", f"Convert {which} to JPEG for {label}.")
        problems.append(
            MediaProblem(
                f"{label} doesn't take {_format(mime)} files ({which}); it takes {_formats(_kin(rules, mime))}.",
                item.media_id,
                offer,
            )
        )
        if not (is_image(item) or is_video(item)):
            return problems  # the other limits depend on the kind of file
    video = is_video(item)
    cap = rules.max_video_bytes if video else rules.max_image_bytes
    if item.size_bytes > cap:
        offer = None if video else MediaOffer("downscale", f"Downscale {which} to under {_size(cap)}.", cap)
        problems.append(
            MediaProblem(
                f"{label} takes {'videos' if video else 'images'} up to {_size(cap)}; "
                f"{which} is {_size(item.size_bytes)}.",
                item.media_id,
                offer,
            )
        )
    aspect = rules.video_aspect if video else rules.image_aspect
    if item.width and item.height and not aspect.holds(item.width / item.height):
        problems.append(
            MediaProblem(
                f"{label} needs {_aspect_range(aspect)}; {which} is {ratio_text(item.width, item.height)}.",
                item.media_id,
            )
        )
    if video and item.duration_seconds is not None:
        seconds = (
            rules.carousel_video_seconds if carousel and rules.carousel_video_seconds else rules.video_seconds
        )
        if not seconds.holds(item.duration_seconds):
            where = " in a carousel" if carousel and rules.carousel_video_seconds else ""
            problems.append(
                MediaProblem(
                    f"{label} takes videos{where} {_duration_range(seconds)}; "
                    f"{which} runs {_duration(item.duration_seconds)}.",
                    item.media_id,
                )
            )
    alt = item.alt_text or ""
    if len(alt) > rules.alt_text_max and (rules.alt_text_on_video or not video):
        problems.append(
            MediaProblem(
                f"{label} takes alt text up to {rules.alt_text_max:,} characters; "
                f"the alt text of {which} has {len(alt):,}.",
                item.media_id,
            )
        )
    return problems


# ---------------------------------------------------------------------------------------------
# Words


def _which(item: MediaItem, position: int, *, alone: bool) -> str:
    kind = "video" if is_video(item) else "image" if is_image(item) else "file"
    return f"this {kind}" if alone else f"{kind} {position}"


def _kin(rules: MediaRules, mime: str) -> frozenset[str]:
    """The accepted formats of the same kind (an image's alternatives are images)."""
    if mime.startswith("image/"):
        return rules.image_types
    if mime.startswith("video/"):
        return rules.video_types
    return rules.accepted


def _count(number: int, noun: str) -> str:
    return f"at most {number} {noun}{'' if number == 1 else 's'}"


def _format(mime: str) -> str:
    return _FORMAT_NAMES.get(mime, mime or "unknown")


def _formats(mimes: Iterable[str]) -> str:
    names = sorted({_format(mime) for mime in mimes})
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]


def _size(size: int) -> str:
    if size >= 1000 * MB:
        return f"{size / (1000 * MB):.3g} GB"
    if size >= MB:
        return f"{size / MB:.3g} MB"
    return f"{max(size, 0) / 1000:.3g} KB"


def ratio_text(width: float, height: float) -> str:
    """An aspect ratio as people write it: 4:5, 16:9, 1:3, else 1.91:1 / 1:2.4."""
    if width <= 0 or height <= 0:
        return "unknown"
    if float(width).is_integer() and float(height).is_integer():
        divisor = math.gcd(int(width), int(height))
        a, b = int(width) // divisor, int(height) // divisor
        if a <= 32 and b <= 32:
            return f"{a}:{b}"
    value = width / height
    return f"{_number(value)}:1" if value >= 1 else f"1:{_number(1 / value)}"


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _aspect_text(value: float) -> str:
    for a, b in ((4, 5), (9, 16), (16, 9), (1, 1), (1, 3), (3, 1), (3, 4), (4, 3)):
        if abs(value - a / b) < 1e-6:
            return f"{a}:{b}"
    return f"{_number(value)}:1" if value >= 1 else f"1:{_number(1 / value)}"


def _aspect_range(aspect: Range) -> str:
    if aspect.low is not None and aspect.high is not None:
        return f"{_aspect_text(aspect.low)} to {_aspect_text(aspect.high)}"
    if aspect.high is not None:
        return f"at most {_aspect_text(aspect.high)}"
    return f"at least {_aspect_text(aspect.low or 0)}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{_number(seconds)} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def _duration_range(seconds: Range) -> str:
    if seconds.low is not None and seconds.high is not None:
        return f"from {_duration(seconds.low)} to {_duration(seconds.high)}"
    if seconds.high is not None:
        return f"up to {_duration(seconds.high)}"
    return f"of at least {_duration(seconds.low or 0)}"


def problems_text(problems: Sequence[MediaProblem]) -> str:
    """The problems as one message (the engine shows it on the destination)."""
    return " ".join(problem.message for problem in problems)


__all__ = [
    "MediaOffer",
    "MediaProblem",
    "MediaRules",
    "Range",
    "check_media",
    "media_rules_for",
    "problems_text",
    "ratio_text",
]

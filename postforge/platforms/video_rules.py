"""What the video-only platforms (YouTube, TikTok) take: formats, sizes, durations, one per post.

`video_problems(platform, media)` says, in words a person can act on, what stops a post's media
from going out there; the adapters call it before anything is uploaded, so a file the platform
would refuse after minutes of uploading is refused at once with a clear message.

| platform | formats                           | size     | duration                                    | dimensions  |
|----------|-----------------------------------|----------|---------------------------------------------|-------------|
| YouTube  | MP4, MOV, WebM, AVI, MPEG, 3GPP…  | 256 GB   | up to 12 h (15 min until the channel is verified) | any    |
| TikTok   | MP4, MOV, WebM                    | 4 GB     | 3 s to the creator's `max_video_post_duration_sec` | 360-4096 px |

Sources: YouTube Data API `videos.insert` (accepted MIME types `video/*`, 256 GB) and YouTube Help
(12 h / unverified 15 min); TikTok Content Posting API media transfer guide (MP4/MOV/WebM, 4 GB,
360-4096 px). The TikTok duration cap is per creator: the adapter checks it against the creator
info TikTok returns at publish time; 10 minutes is the fallback used before that is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from postforge.models.social import Platform
from postforge.platforms.base import MediaItem

GB = 1_000_000_000


@dataclass(frozen=True)
class VideoRules:
    label: str
    types: frozenset[str]
    type_names: str  # the accepted formats, as the message names them
    max_bytes: int
    min_seconds: float | None
    max_seconds: float | None
    min_side: int | None = None
    max_side: int | None = None


YOUTUBE = VideoRules(
    label="YouTube",
    types=frozenset(
        {
            "video/mp4",
            "video/quicktime",
            "video/webm",
            "video/x-msvideo",
            "video/mpeg",
            "video/3gpp",
            "video/x-flv",
            "video/x-ms-wmv",
            "video/x-matroska",
        }
    ),
    type_names="MP4, MOV, WebM, AVI, MPEG, 3GPP, FLV, WMV or MKV",
    max_bytes=256 * GB,
    min_seconds=None,
    # Channels without phone verification are held to 15 minutes; only YouTube knows which.
    max_seconds=12 * 3600,
)
TIKTOK = VideoRules(
    label="TikTok",
    types=frozenset({"video/mp4", "video/quicktime", "video/webm"}),
    type_names="MP4, MOV or WebM",
    max_bytes=4 * GB,
    min_seconds=3,
    max_seconds=600,
    min_side=360,
    max_side=4096,
)
_RULES = {Platform.YOUTUBE: YOUTUBE, Platform.TIKTOK: TIKTOK}


def video_rules_for(platform: str | Platform) -> VideoRules:
    return _RULES[Platform(str(platform))]


def video_problems(
    platform: str | Platform, media: Sequence[MediaItem], *, max_seconds: float | None = None
) -> list[str]:
    """What stops `media` from being one post on `platform`; [] when nothing does.

    `max_seconds` overrides the platform's duration cap (a TikTok creator's own limit)."""
    rules = video_rules_for(platform)
    if not media:
        return [f"{rules.label} posts are videos: add one video."]
    if len(media) > 1:
        return [f"{rules.label} takes one video per post; this post has {len(media)} files."]
    item = media[0]
    mime = item.mime_type.lower().split(";")[0].strip()
    if not mime.startswith("video/"):
        return [f"{rules.label} takes videos only; this post has an image. Attach a video instead."]
    if mime not in rules.types:
        return [f"{rules.label} doesn't take this video format ({mime}); it takes {rules.type_names}."]
    problems: list[str] = []
    if item.size_bytes <= 0:
        problems.append(f"The video's size is unknown, so it can't be uploaded to {rules.label}.")
    elif item.size_bytes > rules.max_bytes:
        problems.append(
            f"{rules.label} takes videos up to {_size(rules.max_bytes)}; this one is {_size(item.size_bytes)}."
        )
    longest = max_seconds if max_seconds else rules.max_seconds
    seconds = item.duration_seconds
    if seconds is not None:
        if rules.min_seconds is not None and seconds < rules.min_seconds:
            problems.append(
                f"{rules.label} takes videos of at least {_duration(rules.min_seconds)}; "
                f"this one runs {_duration(seconds)}."
            )
        if longest is not None and seconds > longest:
            problems.append(
                f"{rules.label} takes videos up to {_duration(longest)} for this account; "
                f"this one runs {_duration(seconds)}."
            )
    for side in (item.width, item.height):
        if side is None:
            continue
        if (rules.min_side and side < rules.min_side) or (rules.max_side and side > rules.max_side):
            problems.append(
                f"{rules.label} takes videos {rules.min_side}-{rules.max_side} pixels on each side; "
                f"this one is {item.width}x{item.height}."
            )
            break
    return problems


def _size(size: int) -> str:
    if size >= GB:
        return f"{size / GB:.3g} GB"
    return f"{size / 1_000_000:.3g} MB"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes >= 60:
        hours, minutes = divmod(minutes, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"

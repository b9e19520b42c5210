"""Per-destination options: what an author may choose for a post on one platform.

Only the video platforms take any: a YouTube video's privacy, made-for-kids declaration, category,
tags and subscriber notification; a TikTok post's audience, interaction switches and the
disclosures TikTok requires (branded content, brand organic, AI-generated). `check_options` turns
what the composer or the API sent into the stored form, or raises OptionsError saying what is
wrong. Adapters read the stored form with the same safe defaults at publish time; TikTok checks
the audience against the creator's own choices then (they can change between now and then).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from postforge.models.social import Platform


class OptionsError(ValueError):
    """Options a platform would refuse; the message says which and why."""


YOUTUBE_KEYS = ("privacy_status", "made_for_kids", "category_id", "tags", "notify_subscribers")
TIKTOK_KEYS = (
    "privacy_level",
    "disable_comment",
    "disable_duet",
    "disable_stitch",
    "brand_content_toggle",
    "brand_organic_toggle",
    "is_aigc",
    "video_cover_timestamp_ms",
)
_KEYS = {Platform.YOUTUBE: YOUTUBE_KEYS, Platform.TIKTOK: TIKTOK_KEYS}


def takes_options(platform: str | Platform) -> bool:
    return Platform(str(platform)) in _KEYS


def check_options(platform: str | Platform, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The options to store for a destination on `platform` (unset ones left out: the adapter's
    safe default applies). Raises OptionsError."""
    which = Platform(str(platform))
    chosen = {key: value for key, value in dict(options or {}).items() if value is not None and value != ""}
    if not chosen:
        return {}
    keys = _KEYS.get(which)
    if keys is None:
        raise OptionsError(f"{which.value.title()} posts have no options to choose.")
    unknown = sorted(set(chosen) - set(keys))
    if unknown:
        raise OptionsError(f"Unknown option {unknown[0]!r}; the options are {', '.join(keys)}.")
    if which is Platform.YOUTUBE:
        from postforge.platforms.youtube import YouTubeOptionsError, video_options

        try:
            video_options(chosen)
        except YouTubeOptionsError as error:
            raise OptionsError(str(error)) from None
    else:
        from postforge.platforms.tiktok import TikTokOptionsError, check_option_values

        try:
            check_option_values(chosen)
        except TikTokOptionsError as error:
            raise OptionsError(str(error)) from None
    return chosen

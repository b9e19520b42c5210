"""Which adapter speaks for which platform. Adding a platform: its module, plus one line here."""

from __future__ import annotations

import functools
import importlib
from typing import Any

from postforge.models.social import Platform
from postforge.platforms.base import PlatformAdapter

# platform → "module:Class", imported on first use so a worker loads only what it publishes to.
ADAPTERS: dict[Platform, str] = {
    Platform.SANDBOX: "postforge.platforms.sandbox:SandboxAdapter",
    Platform.MASTODON: "postforge.platforms.mastodon:MastodonAdapter",
    Platform.BLUESKY: "postforge.platforms.bluesky:BlueskyAdapter",
    Platform.LINKEDIN: "postforge.platforms.linkedin:LinkedInAdapter",
    Platform.X: "postforge.platforms.x:XAdapter",
    Platform.THREADS: "postforge.platforms.threads:ThreadsAdapter",
    Platform.INSTAGRAM: "postforge.platforms.instagram:InstagramAdapter",
    Platform.FACEBOOK: "postforge.platforms.facebook:FacebookAdapter",
    Platform.YOUTUBE: "postforge.platforms.youtube:YouTubeAdapter",
    Platform.TIKTOK: "postforge.platforms.tiktok:TikTokAdapter",
}


@functools.cache
def adapter_class(platform: Platform | str) -> type[PlatformAdapter]:
    module_name, _, class_name = ADAPTERS[Platform(str(platform))].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def adapter_for(platform: Platform | str, settings: Any = None, **kwargs: Any) -> PlatformAdapter:
    """A ready adapter for `platform` (settings default to the process's own)."""
    return adapter_class(platform)(settings, **kwargs)

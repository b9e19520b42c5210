"""Media items for adapter tests: real bytes behind `open()`, counting how often they are read."""

from __future__ import annotations

import io
import itertools
from collections import Counter

from postforge.platforms.base import MediaItem

_ids = itertools.count(101)
# How many times each media id's stream was opened (an upload reads its file once).
opened: Counter[int] = Counter()


def payload(size: int, seed: int = 0) -> bytes:
    pattern = bytes((seed + index) % 251 for index in range(251))
    return (pattern * (size // len(pattern) + 1))[:size]


def media(
    kind: str = "image",
    *,
    size: int = 3000,
    mime: str | None = None,
    alt: str = "",
    width: int = 1080,
    height: int = 1080,
    seconds: float | None = None,
    media_id: int | None = None,
    url: str = "",
) -> MediaItem:
    """An image (JPEG) or a video (MP4) of `size` bytes, with a PostForge id and a public URL."""
    media_id = media_id or next(_ids)
    data = payload(size, media_id)
    mime = mime or ("video/mp4" if kind == "video" else "image/jpeg")
    if kind == "video" and seconds is None:
        seconds = 12.0

    def open_stream() -> io.BytesIO:
        opened[media_id] += 1
        return io.BytesIO(data)

    return MediaItem(
        url=url or f"https://media.postforge.example/{media_id}.{'mp4' if kind == 'video' else 'jpg'}",
        mime_type=mime,
        alt_text=alt,
        size_bytes=size,
        width=width,
        height=height,
        duration_seconds=seconds,
        media_id=media_id,
        open=open_stream,
    )

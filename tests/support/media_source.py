"""Stands in for the part of the engine that loads a post's media into `PublishRequest.media`
(built with the media library): tests say which media each post carries, the engine's own
preparation is wrapped to attach them, and everything after it — the media rules check, the
adapters, checkpoints, retries — runs as it does in production."""

from __future__ import annotations

import dataclasses
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from postforge.platforms.base import MediaItem
from postforge.services.channels import publishing
from tests.support.media import payload

MANIFEST_ENV = "POSTFORGE_TEST_MEDIA_MANIFEST"

Loader = Callable[[int], tuple[MediaItem, ...]]


def attach(loader: Loader) -> Callable[[], None]:
    """From now on every prepared destination carries `loader(post_id)`; returns the undo."""
    original = publishing._claim_and_prepare

    def prepare(run: Any) -> Any:
        prepared = original(run)
        if isinstance(prepared, publishing._Prepared):
            return dataclasses.replace(prepared, media=loader(prepared.post_id))
        return prepared

    publishing._claim_and_prepare = prepare

    def undo() -> None:
        publishing._claim_and_prepare = original

    return undo


# -- a manifest file, for worker processes ------------------------------------------------------


def spec(item: MediaItem) -> dict[str, Any]:
    """What a worker needs to rebuild `item` (its bytes are `payload(size, media_id)`)."""
    return {
        "url": item.url,
        "mime_type": item.mime_type,
        "alt_text": item.alt_text,
        "size_bytes": item.size_bytes,
        "width": item.width,
        "height": item.height,
        "duration_seconds": item.duration_seconds,
        "media_id": item.media_id,
    }


def write_manifest(path: Path, media_by_post: dict[int, tuple[MediaItem, ...]]) -> None:
    data = {str(post_id): [spec(item) for item in items] for post_id, items in media_by_post.items()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)  # a worker never reads half a file


def manifest_loader(path: Path) -> Loader:
    def load(post_id: int) -> tuple[MediaItem, ...]:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return ()
        return tuple(_item(entry) for entry in data.get(str(post_id), []))

    return load


def _item(entry: dict[str, Any]) -> MediaItem:
    size, media_id = int(entry["size_bytes"]), int(entry["media_id"])
    return MediaItem(**entry, open=lambda: io.BytesIO(payload(size, media_id)))


def attach_from_environment() -> None:
    """In a worker process: attach the manifest named by POSTFORGE_TEST_MEDIA_MANIFEST."""
    path = os.environ.get(MANIFEST_ENV)
    if path:
        attach(manifest_loader(Path(path)))

"""What the adapters share to publish images and videos: reading files in chunks, remembering
what the platform already has, and waiting (bounded) for the platform to process a file.

Uploads are checkpointed per file, keyed on PostForge's `media_id`: once the platform has a
file (and, where it processes files, once it said so), its platform id is saved with the
publish's `checkpoint`, so a retry after a crash, a timeout or a refresh reuses it instead of
uploading again, and the post is created once.

An upload creates no post: a failure during one (a lost answer included) leaves at most an
orphan file on the platform, which it deletes by itself. So an upload step that ends `Unknown`
is reported `Transient` (`upload_outcome`): trying again is safe, whatever the platform's own
idempotency. Only the request that creates the post follows the `Unknown` rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, BinaryIO, TypeVar

from postforge.platforms.base import MediaItem, Outcome, PublishRequest, Transient, Unknown

T = TypeVar("T")
DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024


class MediaUnreadable(Exception):
    """PostForge could not read its own copy of a file (no stream, storage error)."""


class Progress:
    """The publish's saved state as it grows: each file's upload, then the post's own keys.

    Adapters read `state` (never `request.state` again once uploads began) and save with
    `remember` / `update`, each of which checkpoints the whole state at once.
    """

    def __init__(self, request: PublishRequest, *, budget: float | None = None) -> None:
        self.state: dict[str, Any] = dict(request.state)
        self._checkpoint = request.checkpoint
        # When this publish stops waiting for processing (monotonic clock): see `wait_budget`.
        self.deadline = time.monotonic() + budget if budget is not None else None

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def uploaded(self, item: MediaItem, position: int) -> Any:
        return (self.state.get("media") or {}).get(media_key(item, position))

    def remember(self, item: MediaItem, position: int, value: Any) -> None:
        media = dict(self.state.get("media") or {})
        media[media_key(item, position)] = value
        self.update({"media": media})

    def forget(self, item: MediaItem, position: int) -> None:
        media = dict(self.state.get("media") or {})
        if media.pop(media_key(item, position), None) is not None:
            self.update({"media": media})

    def update(self, values: dict[str, Any]) -> None:
        self.state = {**self.state, **values}
        self._checkpoint(dict(self.state))

    def replace_all(self, state: dict[str, Any]) -> None:
        self.state = dict(state)
        self._checkpoint(dict(self.state))

    def request(self, request: PublishRequest) -> PublishRequest:
        """`request` carrying the state so far, whose `checkpoint` keeps this tracker current
        (for code written against a plain request, like the container publish)."""
        return replace(request, state=dict(self.state), checkpoint=self.replace_all)


def media_key(item: MediaItem, position: int) -> str:
    """The checkpoint key of a file: PostForge's id, else its place in the post."""
    return str(item.media_id) if item.media_id else f"#{position}"


def open_stream(item: MediaItem) -> BinaryIO:
    if item.open is None:
        raise MediaUnreadable(f"PostForge has no copy of {item.mime_type} file {item.media_id} to upload.")
    try:
        return item.open()
    except OSError as error:
        raise MediaUnreadable(f"PostForge could not read file {item.media_id}: {error}") from error


def chunks(item: MediaItem, size: int = DEFAULT_CHUNK_BYTES) -> Iterator[bytes]:
    """The file's bytes, `size` at a time (never the whole file in memory)."""
    stream = open_stream(item)
    try:
        while True:
            block = stream.read(size)
            if not block:
                return
            yield block
    finally:
        stream.close()


def length_header(size: int) -> dict[str, str]:
    """Content-Length for a streamed body when the size is known (else it goes chunked)."""
    return {"Content-Length": str(size)} if size > 0 else {}


def read_exactly(stream: BinaryIO, size: int) -> bytes:
    """`size` bytes from `stream` (a raw stream may return fewer per read); fewer only at its end."""
    parts: list[bytes] = []
    left = size
    while left > 0:
        block = stream.read(left)
        if not block:
            break
        parts.append(block)
        left -= len(block)
    return b"".join(parts)


def unreadable(error: MediaUnreadable) -> Transient:
    # PostForge's own storage failed: nothing went to the platform for this file; try again later.
    return Transient(str(error))


def upload_outcome(outcome: Outcome) -> Outcome:
    """An upload step's failure as a publish outcome: a lost answer there posted nothing."""
    if isinstance(outcome, Unknown):
        return Transient(
            f"An upload's answer was lost ({outcome.error}); nothing was posted, so it is tried again.",
            http_status=outcome.http_status,
        )
    return outcome


def wait_budget(settings: Any) -> float:
    """How long one publish may wait for the platform to process its media, in all.

    A publish must end well inside its lease (the task's soft limit is 3/4 of it), so the wait is
    a third of the lease: a file still processing then is picked up by the next try, which finds
    it in the checkpoint instead of uploading it again.
    """
    lease = float(getattr(settings, "publish_lease_seconds", 120) or 120)
    return max(lease / 3, 1.0)


def wait_for(
    check: Callable[[], T | None],
    *,
    polls: int,
    interval: float,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T | None:
    """Call `check` up to `polls` times, `interval` seconds apart, until it returns something;
    None when it never did or `deadline` (monotonic) came first (the caller answers `Transient`,
    keeping its checkpoint)."""
    for poll in range(max(polls, 1)):
        found = check()
        if found is not None:
            return found
        if poll + 1 >= polls or (deadline is not None and time.monotonic() + interval > deadline):
            return None
        sleep(interval)
    return None


def still_processing(label: str) -> Transient:
    return Transient(
        f"{label} is still processing the media; the uploaded files are kept and used on the next try."
    )

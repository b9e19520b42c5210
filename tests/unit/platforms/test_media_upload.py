"""What the adapters share for media: per-file checkpoints, chunked reads, bounded waits."""

from __future__ import annotations

import io
import time

import pytest

from postforge.platforms import media_upload
from postforge.platforms.base import AccountCredentials, MediaItem, PublishRequest, Transient, Unknown
from postforge.settings import load_settings
from tests.support.checkpoints import Checkpoints
from tests.support.media import media, payload


def request(state=None, checkpoint=None, files=()) -> PublishRequest:
    return PublishRequest(
        text="t",
        idempotency_key="k" * 32,
        account=AccountCredentials("1", "token"),
        state=state or {},
        media=files,
        checkpoint=checkpoint or (lambda state: None),
    )


def test_progress_checkpoints_each_file_and_keeps_what_was_saved_before():
    saved = Checkpoints()
    first, second = media("image"), media("image")
    progress = media_upload.Progress(request({"rkey": "abc"}, saved))

    progress.remember(first, 1, {"id": "9"})
    progress.remember(second, 2, {"id": "10"})
    progress.update({"container_id": "c"})

    assert saved.state == {
        "rkey": "abc",
        "media": {str(first.media_id): {"id": "9"}, str(second.media_id): {"id": "10"}},
        "container_id": "c",
    }
    assert progress.uploaded(first, 1) == {"id": "9"}
    progress.forget(first, 1)
    assert progress.uploaded(first, 1) is None and str(second.media_id) in saved.state["media"]


def test_a_file_without_a_postforge_id_is_keyed_by_its_place():
    item = MediaItem(url="https://cdn.example/a.jpg", mime_type="image/jpeg")
    assert media_upload.media_key(item, 3) == "#3"


def test_a_request_built_from_progress_saves_into_it():
    saved = Checkpoints()
    progress = media_upload.Progress(request({}, saved))
    progress.remember(media("image", media_id=7), 1, {"id": "1"})

    inner = progress.request(request())
    inner.checkpoint({**inner.state, "container_id": "c"})

    assert progress.state == {"media": {"7": {"id": "1"}}, "container_id": "c"}
    assert saved.state == progress.state


def test_chunks_read_the_file_a_piece_at_a_time_and_close_it():
    closed = []

    class Stream(io.BytesIO):
        def close(self) -> None:
            closed.append(True)
            super().close()

    item = MediaItem(url="u", mime_type="video/mp4", open=lambda: Stream(payload(2500)))

    assert [len(block) for block in media_upload.chunks(item, 1000)] == [1000, 1000, 500]
    assert closed == [True]


def test_a_file_without_a_stream_is_unreadable_and_transient():
    item = MediaItem(url="u", mime_type="image/jpeg", media_id=5)
    with pytest.raises(media_upload.MediaUnreadable) as caught:
        list(media_upload.chunks(item))
    assert isinstance(media_upload.unreadable(caught.value), Transient)


def test_read_exactly_collects_short_reads():
    class Trickle(io.BytesIO):
        def read(self, size: int = -1) -> bytes:
            return super().read(min(size, 3))

    assert media_upload.read_exactly(Trickle(b"abcdefghij"), 8) == b"abcdefgh"
    assert media_upload.read_exactly(Trickle(b"abc"), 8) == b"abc"


def test_a_lost_upload_answer_is_transient_other_outcomes_stay():
    assert isinstance(media_upload.upload_outcome(Unknown("reset", 502)), Transient)
    other = Transient("x")
    assert media_upload.upload_outcome(other) is other


def test_wait_for_stops_at_the_first_answer_or_after_its_polls():
    answers = iter([None, None, "ready"])
    sleeps: list[float] = []
    assert media_upload.wait_for(lambda: next(answers), polls=5, interval=2, sleep=sleeps.append) == "ready"
    assert sleeps == [2, 2]
    sleeps.clear()
    assert media_upload.wait_for(lambda: None, polls=3, interval=1, sleep=sleeps.append) is None
    assert sleeps == [1, 1]


def test_wait_for_never_sleeps_past_its_deadline():
    checks: list[float] = []

    def check() -> None:
        checks.append(time.monotonic())

    deadline = time.monotonic() + 0.25
    assert media_upload.wait_for(check, polls=100, interval=0.1, deadline=deadline) is None
    assert 2 <= len(checks) <= 3 and checks[-1] <= deadline
    before = len(checks)
    assert media_upload.wait_for(check, polls=100, interval=5, deadline=time.monotonic() + 1) is None
    assert len(checks) == before + 1  # one look, no sleep that would end past the deadline


def test_the_wait_budget_is_a_third_of_the_lease():
    assert media_upload.wait_budget(load_settings(publish_lease_seconds=120)) == 40
    assert media_upload.wait_budget(load_settings(publish_lease_seconds=600)) == 200

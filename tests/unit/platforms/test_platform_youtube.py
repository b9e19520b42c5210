"""YouTube adapter against the fake YouTube over real HTTP: connect, refresh, the resumable upload
(chunks, 308 + Range, resuming after a crash without a second video), processing failures, quota,
text-only refusal and metrics."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from postforge.platforms.base import (
    AccountCredentials,
    AuthExpired,
    ConnectFailed,
    MediaItem,
    PostMetricsSnapshot,
    Published,
    PublishRequest,
    RateLimited,
    RefreshRevoked,
    Rejected,
    Transient,
)
from postforge.platforms.registry import adapter_for
from postforge.platforms.youtube import CHUNK_UNIT, YouTubeAdapter, next_pacific_midnight
from postforge.settings import load_settings
from tests.fakes.server import serve
from tests.fakes.youtube_api import FakeYouTube
from tests.support.platform_oauth import SwappableApp, connect

VIDEO = bytes(range(256)) * (CHUNK_UNIT * 3 // 256) + b"tail-bytes"  # 3 chunks and a bit


class Crash(Exception):
    """The worker dies (a checkpoint is the last thing it does)."""


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SwappableApp, str]]:
    front = SwappableApp()
    with serve(front) as base_url:
        yield front, base_url


@pytest.fixture
def fake(server) -> FakeYouTube:
    front, _ = server
    front.app = (fake := FakeYouTube()).app
    return fake


@pytest.fixture
def base_url(server) -> str:
    return server[1]


def settings_for(base_url: str, **overrides: object):
    values: dict[str, object] = {
        "youtube_api_base": base_url,
        "youtube_auth_base": base_url,
        "youtube_oauth_base": base_url,
        "youtube_client_id": "yt-client.apps.googleusercontent.com",
        "youtube_client_secret": "yt-secret",
    }
    return load_settings(**(values | overrides))


@pytest.fixture
def adapter(base_url: str) -> YouTubeAdapter:
    adapter = YouTubeAdapter(settings_for(base_url))
    adapter.chunk_bytes = CHUNK_UNIT
    adapter.poll_interval = 0
    return adapter


def account(
    fake: FakeYouTube, token: str | None = None, refresh_token: str | None = None
) -> AccountCredentials:
    return AccountCredentials(
        platform_account_id=fake.channel.id,
        access_token=token if token is not None else fake.issue_token(),
        refresh_token=refresh_token,
        handle=fake.channel.custom_url,
    )


def clip(data: bytes = VIDEO, **fields) -> MediaItem:
    values = {
        "url": "",
        "mime_type": "video/mp4",
        "size_bytes": len(data),
        "width": 1920,
        "height": 1080,
        "duration_seconds": 12.0,
        "media_id": 41,
        "open": lambda: io.BytesIO(data),
    }
    return MediaItem(**(values | fields))


def request(fake: FakeYouTube, text: str = "Launch day\nWe shipped it.", **kwargs) -> PublishRequest:
    kwargs.setdefault("media", (clip(),))
    credentials = kwargs.pop("credentials", None) or account(fake)
    return PublishRequest(text=text, idempotency_key="b" * 32, account=credentials, **kwargs)


# -- publishing ----------------------------------------------------------------------------------


def test_a_video_is_uploaded_in_chunks_and_published_with_its_watch_url(fake, adapter):
    saved: list[dict] = []
    outcome = adapter.publish(request(fake, checkpoint=saved.append))

    assert len(fake.videos) == 1
    video = fake.videos[0]
    assert outcome == Published(video.id, url=f"https://www.youtube.com/watch?v={video.id}")
    assert video.data == VIDEO
    assert video.resource["snippet"]["title"] == "Launch day"
    assert video.resource["snippet"]["description"] == "Launch day\nWe shipped it."
    # Safe defaults: private, and no made-for-kids declaration (YouTube applies the channel's).
    assert video.resource["status"] == {"uploadStatus": "uploaded", "privacyStatus": "private"}
    kinds = [kind for kind, _, _ in fake.upload_log]
    assert kinds == ["initiate", "chunk", "chunk", "chunk", "chunk"]
    assert [size for kind, _, size in fake.upload_log if kind == "chunk"] == [CHUNK_UNIT] * 3 + [10]
    assert saved[0]["offset"] == 0 and saved[-1] == {"video_id": video.id}


def test_destination_options_choose_privacy_and_the_made_for_kids_declaration(fake, adapter):
    options = {"privacy_status": "public", "made_for_kids": False, "category_id": "28", "tags": ["launch"]}
    assert isinstance(adapter.publish(request(fake, options=options)), Published)

    resource = fake.videos[0].resource
    assert resource["status"]["privacyStatus"] == "public"
    assert resource["status"]["selfDeclaredMadeForKids"] is False
    assert (resource["snippet"]["categoryId"], resource["snippet"]["tags"]) == ("28", ["launch"])


def test_an_option_youtube_would_refuse_is_rejected_before_uploading(fake, adapter):
    outcome = adapter.publish(request(fake, options={"privacy_status": "friends"}))

    assert isinstance(outcome, Rejected) and "private, unlisted, public" in outcome.reason
    assert fake.upload_log == []


def test_a_long_first_line_becomes_a_title_of_at_most_100_characters(fake, adapter):
    text = "A very long opening line " * 8
    assert isinstance(adapter.publish(request(fake, text=text)), Published)

    title = fake.videos[0].resource["snippet"]["title"]
    assert len(title) <= 100 and title.endswith("…")


def test_a_crash_mid_upload_resumes_from_youtubes_offset_without_a_second_video(fake, adapter):
    saved: list[dict] = []

    def crash_after_two_chunks(state: dict) -> None:
        saved.append(state)
        if state.get("offset") == 2 * CHUNK_UNIT:
            raise Crash

    with pytest.raises(Crash):
        adapter.publish(request(fake, checkpoint=crash_after_two_chunks))
    assert fake.videos == []

    fake.upload_log.clear()
    outcome = adapter.publish(request(fake, state=saved[-1], checkpoint=saved.append))

    assert isinstance(outcome, Published)
    assert len(fake.videos) == 1 and fake.videos[0].data == VIDEO
    # The retry asked where the session stood and sent only the rest.
    assert [kind for kind, _, _ in fake.upload_log] == ["query", "chunk", "chunk"]
    assert fake.upload_log[1][1] == f"bytes {2 * CHUNK_UNIT}-{3 * CHUNK_UNIT - 1}/{len(VIDEO)}"


def test_a_lost_answer_to_the_last_chunk_finds_the_finished_video_on_retry(fake, adapter):
    saved: list[dict] = []
    fake.faults.drop_next("chunk", times=1)  # the first chunk lands, its answer is lost
    first = adapter.publish(request(fake, checkpoint=saved.append))
    assert isinstance(first, Transient)  # no video can exist before the last byte

    second = adapter.publish(request(fake, state=saved[-1], checkpoint=saved.append))
    assert isinstance(second, Published) and len(fake.videos) == 1

    # Now the last chunk's answer is lost: the video exists; the retry finds it, uploads nothing.
    fake.videos.clear()
    fake.upload_log.clear()
    saved.clear()
    adapter.chunk_bytes = len(VIDEO)  # one chunk: the first is the last
    fake.faults.drop_next("chunk")
    lost = adapter.publish(request(fake, checkpoint=saved.append))
    assert not isinstance(lost, Published) and len(fake.videos) == 1

    again = adapter.publish(request(fake, state=saved[-1], checkpoint=saved.append))
    assert again == Published(fake.videos[0].id, url=f"https://www.youtube.com/watch?v={fake.videos[0].id}")
    assert len(fake.videos) == 1
    assert [kind for kind, _, _ in fake.upload_log] == ["initiate", "chunk", "query"]


def test_a_retry_after_the_upload_finished_only_checks_the_video(fake, adapter):
    assert isinstance(adapter.publish(request(fake)), Published)
    fake.upload_log.clear()

    outcome = adapter.publish(request(fake, state={"video_id": fake.videos[0].id}))

    assert isinstance(outcome, Published) and fake.upload_log == [] and len(fake.videos) == 1


def test_an_expired_session_before_the_last_chunk_starts_a_new_upload(fake, adapter):
    saved: list[dict] = []

    def crash_after_one_chunk(state: dict) -> None:
        saved.append(state)
        if state.get("offset") == CHUNK_UNIT:
            raise Crash

    with pytest.raises(Crash):
        adapter.publish(request(fake, checkpoint=crash_after_one_chunk))
    fake.expire_sessions()

    outcome = adapter.publish(request(fake, state=saved[-1], checkpoint=saved.append))

    assert isinstance(outcome, Published) and len(fake.videos) == 1 and fake.videos[0].data == VIDEO


def test_failed_processing_is_rejected_with_youtubes_reason(fake, adapter):
    fake.fail_processing_next()

    outcome = adapter.publish(request(fake))

    assert isinstance(outcome, Rejected)
    assert "could not process the video (codec)" in outcome.reason


def test_a_used_up_daily_quota_waits_until_midnight_pacific(fake, adapter):
    fake.quota_left = 0

    outcome = adapter.publish(request(fake))

    assert isinstance(outcome, RateLimited)
    assert outcome.retry_at == next_pacific_midnight()
    assert "quota" in outcome.error and fake.videos == []


def test_next_pacific_midnight_is_8_utc_in_winter():
    assert next_pacific_midnight(datetime(2026, 12, 3, 7, 0, tzinfo=UTC)) == datetime(
        2026, 12, 3, 8, 0, tzinfo=UTC
    )


def test_a_text_only_post_is_refused_before_anything_is_sent(fake, adapter):
    outcome = adapter.publish(request(fake, media=()))

    assert isinstance(outcome, Rejected)
    assert "YouTube posts are videos" in outcome.reason
    assert fake.upload_log == []


def test_an_image_is_refused(fake, adapter):
    outcome = adapter.publish(request(fake, media=(clip(mime_type="image/jpeg"),)))

    assert isinstance(outcome, Rejected) and "videos only" in outcome.reason


def test_an_expired_token_is_auth_expired(fake, adapter):
    token = fake.issue_token()
    fake.expire(token)

    outcome = adapter.publish(request(fake, credentials=account(fake, token)))

    assert isinstance(outcome, AuthExpired)


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_transient(fake, adapter, status):
    fake.faults.fail_next(
        "initiate", status=status, body={"error": {"code": status, "message": "Backend Error"}}
    )

    outcome = adapter.publish(request(fake))

    assert isinstance(outcome, Transient) and "Backend Error" in outcome.error


def test_the_registry_serves_the_youtube_adapter(base_url):
    assert isinstance(adapter_for("youtube", settings_for(base_url)), YouTubeAdapter)


# -- metrics -------------------------------------------------------------------------------------


def test_metrics_are_views_likes_and_comments(fake, adapter):
    adapter.publish(request(fake))
    video = fake.videos[0]
    video.views, video.likes, video.comments = 1200, 87, 9

    assert adapter.fetch_metrics(account(fake), video.id) == PostMetricsSnapshot(
        impressions=1200, likes=87, comments=9
    )
    assert adapter.fetch_metrics(account(fake), "missing") is None


# -- connecting and tokens -----------------------------------------------------------------------


def test_oauth_needs_the_client_id_and_secret(base_url):
    with pytest.raises(ConnectFailed, match="YOUTUBE_CLIENT_ID"):
        YouTubeAdapter(settings_for(base_url, youtube_client_id="")).oauth_client()


def test_connecting_asks_for_offline_access_and_yields_the_channel(fake, adapter):
    config = adapter.oauth_client(redirect_uri="https://postforge.example/cb")
    assert config.pkce and dict(config.extra_authorize_params)["access_type"] == "offline"

    token = connect(config)
    [connected] = adapter.complete_oauth(token)

    assert fake.authorize_requests[0]["scope"].split() == list(config.scopes)
    assert connected.profile.platform_account_id == fake.channel.id
    assert (connected.profile.handle, connected.profile.display_name) == ("@adamakes", "Ada Makes Things")
    assert connected.tokens.refresh_token and connected.tokens.expires_at is not None


def test_a_google_account_without_a_channel_is_told_to_create_one(fake, adapter):
    fake.has_channel = False

    with pytest.raises(ConnectFailed, match="no YouTube channel yet"):
        adapter.complete_oauth({"access_token": fake.issue_token()})


def test_refresh_gets_a_new_access_token_and_keeps_the_refresh_token(fake, adapter):
    refresh_token = fake.issue_refresh_token()

    tokens = adapter.refresh(account(fake, refresh_token=refresh_token))

    assert tokens.access_token in fake.access_tokens and tokens.refresh_token is None
    assert adapter.can_refresh(account(fake, refresh_token=refresh_token))


def test_a_revoked_refresh_token_needs_a_reconnect(fake, adapter):
    refresh_token = fake.issue_refresh_token()
    fake.revoke(refresh_token)

    with pytest.raises(RefreshRevoked, match="expired or revoked"):
        adapter.refresh(account(fake, refresh_token=refresh_token))


def test_an_upload_past_its_time_budget_stops_at_a_chunk_and_the_next_try_continues(fake, adapter):
    adapter.upload_budget_seconds = 0  # every chunk is past the budget
    saved: list[dict] = []

    first = adapter.publish(request(fake, checkpoint=saved.append))
    assert isinstance(first, Transient) and "33%" in first.error
    assert fake.videos == [] and saved[-1]["offset"] == CHUNK_UNIT

    outcomes = [first]
    while not isinstance(outcomes[-1], Published):
        outcomes.append(adapter.publish(request(fake, state=saved[-1], checkpoint=saved.append)))
    assert len(outcomes) == 4 and len(fake.videos) == 1 and fake.videos[0].data == VIDEO
